"""The staff console: sign-in, triage queue, department inbox, complaint detail with actions, admin page.

Every action goes through ``intake.staff.act``, the function behind the staff API, so the console and
the API publish the same events under the same rules (role, department, lifecycle). Every form carries
the session's CSRF token; sessions are signed, HttpOnly, SameSite=Lax cookies (intake/web/accounts.py).
"""

from __future__ import annotations

import hmac
import re
import secrets
from datetime import UTC, datetime
from typing import Any
from urllib.parse import quote, urlencode

from fastapi import APIRouter, Request
from fastapi.responses import HTMLResponse, RedirectResponse, Response
from pydantic import BaseModel, ValidationError
from starlette.datastructures import FormData

from intake import auth, staff
from intake.bootstrap import Intake
from intake.errors import ERRORS, Forbidden
from intake.routes.staff import AcknowledgeIn, CommentIn, ReasonIn, ReassignIn, ResolveIn
from intake.web import accounts
from intake.web.accounts import SESSION_COOKIE, Sessions, User
from intake.web.common import ensure_indexes_once, error_page, intake_of, render
from intake.web.districts import district_map
from intake.web.i18n import WORDS, Words, pick_lang
from services import inbox as inbox_model
from services import rules
from services.contracts.actions import (
    ComplaintAcknowledged,
    ComplaintCommented,
    ComplaintReassigned,
    ComplaintRejected,
    ComplaintReopened,
    ComplaintResolved,
    StaffAction,
)
from services.errors import NotFound, PasokhError
from services.lifecycle import STATUSES, TRANSITIONS

router = APIRouter(prefix="/console", include_in_schema=False)
LOGIN_CSRF_COOKIE = "pasokh_login_csrf"
PAGE_SIZE = 50
ACTIONS: dict[str, tuple[type[StaffAction], type[BaseModel]]] = {
    "acknowledge": (ComplaintAcknowledged, AcknowledgeIn),
    "comment": (ComplaintCommented, CommentIn),
    "reassign": (ComplaintReassigned, ReassignIn),
    "resolve": (ComplaintResolved, ResolveIn),
    "reject": (ComplaintRejected, ReasonIn),
    "reopen": (ComplaintReopened, ReasonIn),
}


def _sessions(request: Request) -> Sessions:
    return Sessions(intake_of(request).settings.secret_key.get_secret_value())


async def _user(request: Request) -> User | None:
    return await accounts.current_user(
        intake_of(request).store, _sessions(request), request.cookies.get(SESSION_COOKIE)
    )


def _to_login(request: Request) -> RedirectResponse:
    return RedirectResponse(f"/console/login?next={quote(request.url.path)}", status_code=303)


def _secure(request: Request) -> bool:
    return intake_of(request).settings.env == "prod"


def _page(
    request: Request, user: User, name: str, context: dict[str, Any], status_code: int = 200
) -> HTMLResponse:
    return render(request, name, {"user": user, **context}, status_code=status_code)


async def _csrf_ok(request: Request, user: User) -> bool:
    form = await request.form()
    return hmac.compare_digest(str(form.get("csrf") or ""), user.csrf)


@router.get("/login", response_class=HTMLResponse)
async def login_page(request: Request, next: str = "/console") -> HTMLResponse:
    """The sign-in form; a CSRF token in a cookie and in the form (the session does not exist yet)."""
    token = secrets.token_urlsafe(24)
    response = render(request, "login.html.j2", {"csrf": token, "next": next, "failed": False})
    response.set_cookie(
        LOGIN_CSRF_COOKIE, token, httponly=True, samesite="lax", secure=_secure(request), path="/console"
    )
    return response


@router.post("/login", response_model=None)
async def login(request: Request) -> Response:
    """Check the password; on success a new session (and CSRF token) in a signed cookie."""
    form = await request.form()
    next_url = str(form.get("next") or "/console")
    if not next_url.startswith("/console"):
        next_url = "/console"
    expected = request.cookies.get(LOGIN_CSRF_COOKIE) or ""
    if not expected or not hmac.compare_digest(str(form.get("csrf") or ""), expected):
        return render(
            request, "error.html.j2", {"message": Words(pick_lang(request))("csrf.bad")}, status_code=400
        )
    doc = await accounts.verify_password(
        intake_of(request).store, str(form.get("username") or ""), str(form.get("password") or "")
    )
    if doc is None:
        token = secrets.token_urlsafe(24)
        response = render(
            request,
            "login.html.j2",
            {"csrf": token, "next": next_url, "failed": True, "username": form.get("username")},
            status_code=401,
        )
        response.set_cookie(
            LOGIN_CSRF_COOKIE, token, httponly=True, samesite="lax", secure=_secure(request), path="/console"
        )
        return response
    redirect = RedirectResponse(next_url, status_code=303)
    redirect.set_cookie(
        SESSION_COOKIE,
        _sessions(request).issue(doc),
        max_age=accounts.SESSION_SECONDS,
        httponly=True,
        samesite="lax",
        secure=_secure(request),
        path="/",
    )
    redirect.delete_cookie(LOGIN_CSRF_COOKIE, path="/console")
    return redirect


@router.post("/logout", response_model=None)
async def logout(request: Request) -> Response:
    """End the session."""
    user = await _user(request)
    if user is not None and not await _csrf_ok(request, user):
        return render(
            request, "error.html.j2", {"message": Words(pick_lang(request))("csrf.bad")}, status_code=403
        )
    response = RedirectResponse("/console/login", status_code=303)
    response.delete_cookie(SESSION_COOKIE, path="/")
    return response


@router.get("", response_model=None)
async def home(request: Request) -> Response:
    """Operators start at the triage queue, everybody else at the inbox."""
    user = await _user(request)
    if user is None:
        return _to_login(request)
    return RedirectResponse(
        "/console/triage" if user.role == "operator" else "/console/inbox", status_code=303
    )


def _department_scope(user: User, taxonomy_triage: str) -> list[str] | None:
    """The departments whose complaints the user sees (None: all)."""
    if user.role in ("admin", "supervisor"):
        return None
    if user.role == "operator":
        return sorted({taxonomy_triage, *user.departments})
    return sorted(user.departments)


INBOX_STATUSES = frozenset({"routed", "acknowledged", "reopened"})


@router.get("/inbox", response_model=None)
async def inbox(
    request: Request,
    status: str = "",
    district: str = "",
    category: str = "",
    department: str = "",
    overdue: str = "",
    flagged: str = "",
    after: str = "",
    page: int = 1,
) -> Response:
    """Open complaints of the user's departments, most urgent due time first, with filters; 50 per
    page, each page continuing after the last row of the one before (``after``)."""
    user = await _user(request)
    if user is None:
        return _to_login(request)
    intake = intake_of(request)
    taxonomy = intake.taxonomy
    scope = _department_scope(user, taxonomy.triage_department)
    departments = scope if scope is not None else sorted(taxonomy.departments)
    if department in departments:
        wanted: list[str] | None = [department]
    else:
        wanted = scope  # None: every department, read through the markers of all departments
    now = datetime.now(UTC)
    key = inbox_model.parse_after(after) if after else None
    query = inbox_model.Query(
        departments=wanted,
        statuses=frozenset({status}) if status in inbox_model.LISTED else INBOX_STATUSES,
        district=district or None,
        category=category if category in taxonomy.categories else None,
        due_before=now if overdue else None,
        flagged=bool(flagged),
        after=key,
    )
    await ensure_indexes_once(intake.store)
    rows = await inbox_model.page(intake.store, query, limit=PAGE_SIZE + 1)
    page = max(1, page) if key is not None else 1
    filters = {
        "status": status,
        "district": district,
        "category": category,
        "department": department,
        "overdue": overdue,
        "flagged": flagged,
    }
    more = len(rows) > PAGE_SIZE
    rows = rows[:PAGE_SIZE]
    return _page(
        request,
        user,
        "inbox.html.j2",
        {
            "rows": rows,
            "filters": filters,
            "statuses": [s for s in STATUSES if s in inbox_model.LISTED],
            "departments": [taxonomy.departments[d] for d in departments if d in taxonomy.departments],
            "categories": list(taxonomy.categories.values()),
            "districts": list(district_map().districts.values()),
            "now": now,
            "page": page,
            "next_page": urlencode({**filters, "after": inbox_model.after_token(rows[-1]), "page": page + 1})
            if more
            else None,
            "prev_page": urlencode(filters) if page > 1 else None,
        },
    )


@router.get("/triage", response_model=None)
async def triage(request: Request) -> Response:
    """Complaints the classifier was unsure of, oldest first: pick the category (and department)."""
    user = await _user(request)
    if user is None:
        return _to_login(request)
    intake = intake_of(request)
    if not user.principal().may_act_on(
        intake.taxonomy.triage_department, triage_department=intake.taxonomy.triage_department
    ):
        return error_page(request, Forbidden())
    rows = (
        await inbox_model.collection(intake.store)
        .find({"status": "triage"})
        .sort("created_at", 1)
        .limit(PAGE_SIZE)
        .to_list()
    )
    return _page(
        request,
        user,
        "triage.html.j2",
        {
            "rows": rows,
            "categories": list(intake.taxonomy.categories.values()),
            "departments": list(intake.taxonomy.departments.values()),
            "done": request.query_params.get("done"),
            "error": _message(error, pick_lang(request)) or error
            if (error := request.query_params.get("error"))
            else None,
        },
    )


def _message(code: str, lang: str) -> str | None:
    for _status, known, fa, en in ERRORS.values():
        if known == code:
            return fa if lang == "fa" else en
    return None


@router.get("/complaints/{complaint_id}", response_model=None)
async def detail(request: Request, complaint_id: str) -> Response:
    """Everything about one complaint (but the phone, which stays sealed) and the actions it allows."""
    user = await _user(request)
    if user is None:
        return _to_login(request)
    intake = intake_of(request)
    try:
        doc = await staff.load_for_action(intake.store, complaint_id, user.principal(), intake.taxonomy)
    except PasokhError as exc:
        return error_page(request, exc)
    lang = pick_lang(request)
    t = Words(lang)
    error = request.query_params.get("error")
    allowed = [name for name, (model, _) in ACTIONS.items() if doc["status"] in TRANSITIONS[model.TYPE][0]]
    duplicates = [d for d in (doc.get("duplicates") or []) if isinstance(d, str)]
    return _page(
        request,
        user,
        "detail.html.j2",
        {
            "c": doc,
            "category": intake.taxonomy.categories.get(doc.get("category") or ""),
            "department": intake.taxonomy.departments.get(doc.get("department") or ""),
            "categories": list(intake.taxonomy.categories.values()),
            "departments": list(intake.taxonomy.departments.values()),
            "allowed": allowed,
            "duplicates": duplicates,
            "done": request.query_params.get("done"),
            "error": (_message(error, lang) or error) if error else None,
            "has_phone": bool(doc.get("phone_sealed")),
            "district_name": getattr(district_map().districts.get(str(doc.get("district"))), t.lang, None),
        },
    )


@router.post("/complaints/{complaint_id}/{action}", response_model=None)
async def act(request: Request, complaint_id: str, action: str) -> Response:
    """One staff action from a form; back to where it came from, with the outcome."""
    user = await _user(request)
    if user is None:
        return _to_login(request)
    if action not in ACTIONS:
        return error_page(request, Forbidden())
    if not await _csrf_ok(request, user):
        return render(
            request, "error.html.j2", {"message": Words(pick_lang(request))("csrf.bad")}, status_code=403
        )
    form = await request.form()
    back = "/console/triage" if form.get("from") == "triage" else f"/console/complaints/{quote(complaint_id)}"
    model, schema = ACTIONS[action]
    fields: dict[str, Any] = {}
    for name in ("note", "text", "reason", "department", "category"):
        value = str(form.get(name) or "").strip()
        if value:
            fields[name] = value
    if action == "comment":
        fields["public"] = form.get("public") == "on"
    intake = intake_of(request)
    try:
        body = schema.model_validate(fields)
        await staff.act(
            model,
            complaint_id,
            body.model_dump(exclude_none=True),
            principal=user.principal(),
            store=intake.store,
            publisher=intake.publisher,
            taxonomy=intake.taxonomy,
        )
    except ValidationError:
        return RedirectResponse(f"{back}?error=invalid_request", status_code=303)
    except PasokhError as exc:
        for cls in type(exc).__mro__:
            if cls in ERRORS:
                return RedirectResponse(f"{back}?error={ERRORS[cls][1]}", status_code=303)
        raise
    return RedirectResponse(f"{back}?done={action}", status_code=303)


ADMIN_SECTIONS = ("rules", "users", "keys", "departments")


async def _admin_view(request: Request, user: User, extra: dict[str, Any] | None = None) -> HTMLResponse:
    intake = intake_of(request)
    at = request.query_params.get("at")
    return _page(
        request,
        user,
        "admin.html.j2",
        {
            "categories": list(intake.taxonomy.categories.values()),
            "departments": await rules.departments(intake.store, intake.taxonomy),
            "rules": await rules.list_rules(intake.store),
            "users": await accounts.list_users(intake.store),
            "keys": await auth.list_keys(intake.store),
            "districts": list((await rules.load_stored_districts(intake.store)).districts.values()),
            "roles": auth.ROLES,
            "scopes": auth.SCOPES,
            "min_password": accounts.MIN_PASSWORD,
            "categories_note_en": WORDS["ad.categories.readonly"][1],
            "done": request.query_params.get("done"),
            "problem": request.query_params.get("problem"),
            "at": at if at in ADMIN_SECTIONS else "rules",
            "new_key": None,
            **(extra or {}),
        },
    )


@router.get("/admin", response_model=None)
async def admin(request: Request) -> Response:
    """Categories, departments, districts, routing rules, accounts and API keys (admins and supervisors;
    only admins change them)."""
    user = await _user(request)
    if user is None:
        return _to_login(request)
    if user.role not in ("admin", "supervisor"):
        return error_page(request, Forbidden())
    return await _admin_view(request, user)


async def _admin_post(request: Request) -> tuple[User, FormData] | Response:
    """The signed-in admin and the form of an admin POST, or the answer refusing it: sign-in for no
    session, 403 for another role, 403 for a missing or wrong CSRF token."""
    user = await _user(request)
    if user is None:
        return _to_login(request)
    if user.role != "admin":
        return error_page(request, Forbidden())
    if not await _csrf_ok(request, user):
        return render(
            request, "error.html.j2", {"message": Words(pick_lang(request))("csrf.bad")}, status_code=403
        )
    return user, await request.form()


def _back(section: str, *, done: str | None = None, problem: str | None = None) -> RedirectResponse:
    """Back to the admin page's ``section``, with the outcome."""
    query = {"done": done} if problem is None else {"problem": problem, "at": section}
    return RedirectResponse(f"/console/admin?{urlencode(query)}#{section}", status_code=303)


def _field(form: FormData, name: str) -> str:
    return str(form.get(name) or "").strip()


def _problems(exc: ValidationError) -> str:
    return "; ".join(f"{'.'.join(map(str, e['loc']))}: {e['msg']}" for e in exc.errors())


@router.post("/admin/rules", response_model=None)
async def save_rule(request: Request) -> Response:
    """Create or replace a routing rule (services/rules.py, the same store as ``/v1/admin``)."""
    checked = await _admin_post(request)
    if isinstance(checked, Response):
        return checked
    _, form = checked
    fields = {
        name: value
        for name in ("id", "order", "department", "category", "district", "start", "end", "note")
        if (value := _field(form, name))
    }
    intake = intake_of(request)
    try:
        rule = rules.Rule.model_validate(fields)
    except ValidationError as exc:
        return _back("rules", problem=_problems(exc))
    wrong = await rules.check_rule(intake.store, intake.taxonomy, rule)
    if wrong is not None:
        return _back("rules", problem=f"{wrong[0]}: {wrong[1]}")
    await rules.put_rule(intake.store, rule)
    return _back("rules", done="rule")


@router.post("/admin/rules/{rule_id}/delete", response_model=None)
async def remove_rule(request: Request, rule_id: str) -> Response:
    """Delete a routing rule."""
    checked = await _admin_post(request)
    if isinstance(checked, Response):
        return checked
    await rules.delete_rule(intake_of(request).store, rule_id)
    return _back("rules", done="rule")


async def _departments_chosen(form: FormData, intake: Intake) -> tuple[list[str], list[str]]:
    """The departments ticked in an admin form, and those of them this city does not have."""
    departments = [str(d) for d in form.getlist("departments") if str(d)]
    known = await rules.departments(intake.store, intake.taxonomy)
    return departments, [d for d in departments if d not in known]


@router.post("/admin/users", response_model=None)
async def create_account(request: Request) -> Response:
    """Create a staff account with an initial password (argon2, intake/web/accounts.py)."""
    checked = await _admin_post(request)
    if isinstance(checked, Response):
        return checked
    _, form = checked
    intake = intake_of(request)
    departments, unknown = await _departments_chosen(form, intake)
    if unknown:
        return _back("users", problem=f"departments: unknown {', '.join(unknown)}")
    role = _field(form, "role")
    try:
        await accounts.create_user(
            intake.store,
            username=_field(form, "username").lower(),
            name=_field(form, "name") or _field(form, "username"),
            password=str(form.get("password") or ""),
            role=role,
            departments=departments if role in ("department", "operator") else (),
        )
    except ValueError as exc:
        return _back("users", problem=str(exc))
    return _back("users", done="user")


@router.post("/admin/users/{username}/{change}", response_model=None)
async def change_account(request: Request, username: str, change: str) -> Response:
    """Disable an account (its sessions end at once), enable it again, or reset its password (its
    sessions end too)."""
    checked = await _admin_post(request)
    if isinstance(checked, Response):
        return checked
    user, form = checked
    store = intake_of(request).store
    if change == "disable":
        if username == user.username:
            return _back("users", problem="you cannot disable your own account")
        changed = await accounts.disable_user(store, username)
    elif change == "enable":
        changed = await accounts.enable_user(store, username)
    elif change == "password":
        try:
            changed = await accounts.set_password(store, username, str(form.get("password") or ""))
        except ValueError as exc:
            return _back("users", problem=str(exc))
    else:
        return error_page(request, NotFound())
    if not changed:
        return _back("users", problem=f"{username}: no such account to {change}")
    return _back("users", done="user")


@router.post("/admin/keys", response_model=None)
async def create_api_key(request: Request) -> Response:
    """Create an API key (intake/auth.py, as ``pasokh keys create``) and show it on this answer only:
    it is never stored, put in a URL or logged."""
    checked = await _admin_post(request)
    if isinstance(checked, Response):
        return checked
    user, form = checked
    intake = intake_of(request)
    departments, unknown = await _departments_chosen(form, intake)
    if unknown:
        return _back("keys", problem=f"departments: unknown {', '.join(unknown)}")
    role = _field(form, "role") or None
    if role is not None and role not in auth.ROLES:
        return _back("keys", problem=f"unknown role {role}")
    try:
        key, doc = await auth.create_key(
            intake.store,
            name=_field(form, "name") or "console",
            scopes=[str(s) for s in form.getlist("scopes")],
            role=role,
            departments=departments,
        )
    except ValueError as exc:
        return _back("keys", problem=str(exc))
    return await _admin_view(request, user, {"new_key": key, "new_key_id": doc["_id"], "at": "keys"})


@router.post("/admin/keys/{key_id}/revoke", response_model=None)
async def revoke_api_key(request: Request, key_id: str) -> Response:
    """Revoke an API key at once."""
    checked = await _admin_post(request)
    if isinstance(checked, Response):
        return checked
    if not await auth.revoke(intake_of(request).store, key_id):
        return _back("keys", problem=f"{key_id}: no such active key")
    return _back("keys", done="key")


@router.post("/admin/departments/{code}", response_model=None)
async def save_department(request: Request, code: str) -> Response:
    """Rename a department (fa, en) and set the addresses of its e-mail notices: services/rules.py's
    ``DepartmentIn`` and store, as ``PUT /v1/admin/departments/{code}``."""
    checked = await _admin_post(request)
    if isinstance(checked, Response):
        return checked
    _, form = checked
    intake = intake_of(request)
    if code not in await rules.departments(intake.store, intake.taxonomy):
        return _back("departments", problem=f"department: unknown {code}")
    emails = [e for e in re.split(r"[\s,،;]+", str(form.get("emails") or "")) if e]
    try:
        department = rules.DepartmentIn.model_validate(
            {"code": code, "fa": _field(form, "fa"), "en": _field(form, "en"), "emails": emails}
        )
    except ValidationError as exc:
        return _back("departments", problem=_problems(exc))
    await rules.put_department(intake.store, department)
    return _back("departments", done="department")
