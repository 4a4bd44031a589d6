"""The web pages against real Kafka and MongoDB: form validation and submission, sessions, CSRF, roles."""

from __future__ import annotations

import re
from datetime import UTC, datetime

import httpx

from intake import auth
from intake.bootstrap import Intake
from intake.web import accounts
from services import inbox, records, rules
from tests.factories import routed, submitted

PASSWORD = "correct horse battery"


async def signed_in(client: httpx.AsyncClient, username: str) -> str:
    """Sign in through the form; the CSRF token of the new session."""
    page = await client.get("/console/login")
    token = re.search(r'name="csrf" value="([^"]+)"', page.text)
    assert token is not None
    answer = await client.post(
        "/console/login", data={"csrf": token.group(1), "username": username, "password": PASSWORD}
    )
    assert answer.status_code == 303, answer.text
    cookie = answer.headers["set-cookie"]
    assert "HttpOnly" in cookie and "SameSite=lax" in cookie.replace("Lax", "lax")
    inbox = await client.get("/console/inbox")
    found = re.search(r'name="csrf" value="([^"]+)"', inbox.text)
    assert found is not None
    return found.group(1)


async def lighting_complaint(intake: Intake, text: str | None = None) -> str:
    sub = submitted(text) if text is not None else submitted()
    now = records.store_precision(datetime.now(UTC))
    await records.apply_decision(
        intake.store, sub, routed(sub), submitted_event_id="s", decision_event_id="d", status="routed", at=now
    )
    doc = await records.find(intake.store, sub.complaint_id)
    assert doc is not None
    await inbox.sync(intake.store, doc)  # as the router does after each event
    return sub.complaint_id


async def test_the_form_shows_errors_beside_fields_and_submits_like_the_api(
    intake_app: tuple[httpx.AsyncClient, Intake],
) -> None:
    client, intake = intake_app
    bad = await client.post("/complaints/new", data={"text": " ", "lat": "۳۵٫۸", "phone": "123"})
    assert bad.status_code == 422
    assert 'id="text-error"' in bad.text and 'id="phone-error"' in bad.text and 'id="lat-error"' in bad.text
    english = await client.post(
        "/complaints/new?lang=en", data={"text": "lamp off", "lat": "10", "lon": "10"}
    )
    assert english.status_code == 422 and "outside the city" in english.text

    form = {"text": "چراغ کوچه خاموش است", "district": "3", "phone": "۰۹۱۲۱۲۳۴۵۶۷", "form_id": "f-1"}
    first = await client.post("/complaints/new", data=form)
    again = await client.post("/complaints/new", data=form)  # the same form sent twice

    assert first.status_code == again.status_code == 303
    assert first.headers["location"] == again.headers["location"]
    code = first.headers["location"].split("/")[2].split("?")[0]
    doc = await records.find_by_tracking_code(intake.store, code)
    assert doc is not None and doc["channel"] == "web" and doc["district"] == "3"
    assert "1234567" not in str(doc), "the phone is stored sealed"
    assert await intake.store.complaints.count_documents({"tracking_code": code}) == 1
    status = await client.get(first.headers["location"])
    assert status.status_code == 200 and code in status.text and "نظرسنجی" not in status.text


async def test_console_needs_a_session_csrf_and_the_right_department(
    intake_app: tuple[httpx.AsyncClient, Intake],
) -> None:
    client, intake = intake_app
    await accounts.create_user(
        intake.store,
        username="waste1",
        name="Waste",
        password=PASSWORD,
        role="department",
        departments=["waste"],
    )
    await accounts.create_user(
        intake.store,
        username="light1",
        name="Light",
        password=PASSWORD,
        role="department",
        departments=["lighting"],
    )
    cid = await lighting_complaint(intake)

    assert (await client.get("/console/inbox")).headers["location"].startswith("/console/login")
    wrong = await client.get("/console/login")
    token = re.search(r'name="csrf" value="([^"]+)"', wrong.text)
    assert token is not None
    refused = await client.post(
        "/console/login", data={"csrf": token.group(1), "username": "light1", "password": "nope-nope-nope"}
    )
    assert refused.status_code == 401

    csrf = await signed_in(client, "waste1")
    assert (await client.get(f"/console/complaints/{cid}")).status_code == 403
    assert cid not in (await client.get("/console/inbox")).text
    assert (await client.get("/console/admin")).status_code == 403

    client.cookies.clear()
    csrf = await signed_in(client, "light1")
    inbox = await client.get("/console/inbox")
    assert cid in inbox.text
    forged = await client.post(f"/console/complaints/{cid}/acknowledge", data={"csrf": "forged"})
    assert forged.status_code == 403
    done = await client.post(f"/console/complaints/{cid}/acknowledge", data={"csrf": csrf, "note": "on it"})
    assert done.status_code == 303 and done.headers["location"].endswith("?done=acknowledge")
    invalid = await client.post(f"/console/complaints/{cid}/reopen", data={"csrf": csrf, "reason": "x"})
    assert invalid.headers["location"].endswith("?error=invalid_transition")

    assert await accounts.disable_user(intake.store, "light1") is True
    assert (await client.get("/console/inbox")).status_code == 303, "a disabled account's session ends"


async def test_admins_edit_routing_rules_supervisors_only_read_them(
    intake_app: tuple[httpx.AsyncClient, Intake],
) -> None:
    client, intake = intake_app
    for username, role in (("boss", "admin"), ("watcher", "supervisor")):
        await accounts.create_user(
            intake.store, username=username, name=username, password=PASSWORD, role=role
        )

    csrf = await signed_in(client, "watcher")
    assert (await client.get("/console/admin")).status_code == 200
    refused = await client.post("/console/admin/rules", data={"csrf": csrf, "id": "x", "department": "waste"})
    assert refused.status_code == 403

    client.cookies.clear()
    csrf = await signed_in(client, "boss")
    rule = {
        "csrf": csrf,
        "id": "night-lights",
        "order": "5",
        "category": "lighting",
        "department": "crisis",
    }
    saved = await client.post("/console/admin/rules", data={**rule, "start": "22:00", "end": "06:00"})
    unknown = await client.post("/console/admin/rules", data={**rule, "id": "bad", "department": "nowhere"})

    assert saved.headers["location"].startswith("/console/admin?done=rule")
    assert "problem=department" in unknown.headers["location"]
    stored = await rules.list_rules(intake.store)
    assert [(r.id, r.department, r.category, str(r.start)) for r in stored] == [
        ("night-lights", "crisis", "lighting", "22:00:00")
    ]
    page = await client.get("/console/admin")
    assert "night-lights" in page.text
    await client.post("/console/admin/rules/night-lights/delete", data={"csrf": csrf})
    assert await rules.list_rules(intake.store) == []


ADMIN_POSTS: tuple[tuple[str, dict[str, str]], ...] = (
    ("/console/admin/users", {"username": "intruder", "name": "I", "role": "admin", "password": PASSWORD}),
    ("/console/admin/users/boss/disable", {}),
    ("/console/admin/users/boss/enable", {}),
    ("/console/admin/users/boss/password", {"password": "another long password"}),
    ("/console/admin/keys", {"name": "intruder", "scopes": "admin"}),
    ("/console/admin/keys/abc123/revoke", {}),
    ("/console/admin/departments/waste", {"fa": "x", "en": "x", "emails": ""}),
    ("/console/admin/rules", {"id": "x", "department": "waste"}),
    ("/console/admin/rules/x/delete", {}),
)


async def sign_in_answer(client: httpx.AsyncClient, username: str, password: str) -> int:
    page = await client.get("/console/login")
    token = re.search(r'name="csrf" value="([^"]+)"', page.text)
    assert token is not None
    answer = await client.post(
        "/console/login", data={"csrf": token.group(1), "username": username, "password": password}
    )
    return answer.status_code


async def test_admins_manage_accounts_from_the_console(intake_app: tuple[httpx.AsyncClient, Intake]) -> None:
    client, intake = intake_app
    await accounts.create_user(intake.store, username="boss", name="Boss", password=PASSWORD, role="admin")
    csrf = await signed_in(client, "boss")
    new = {
        "csrf": csrf,
        "username": "sara",
        "name": "Sara",
        "role": "department",
        "password": "sara's password",
    }

    short = await client.post("/console/admin/users", data={**new, "password": "short"})
    no_department = await client.post("/console/admin/users", data=new)
    created = await client.post("/console/admin/users", data={**new, "departments": ["waste", "lighting"]})
    taken = await client.post("/console/admin/users", data={**new, "departments": "waste"})

    assert short.status_code == 303 and "problem=" in short.headers["location"]
    assert "at=users" in short.headers["location"] and "10+characters" in short.headers["location"]
    assert "problem=" in no_department.headers["location"]
    assert created.headers["location"] == "/console/admin?done=user#users"
    assert "exists" in taken.headers["location"]
    page = await client.get("/console/admin?problem=the+password+needs+at+least+10+characters&at=users")
    assert 'role="alert"' in page.text and "the password needs at least 10 characters" in page.text
    injected = await client.get(
        "/console/admin", params={"problem": "<script>alert(1)</script>", "at": "users"}
    )
    assert "<script>alert(1)" not in injected.text and "&lt;script&gt;alert(1)" in injected.text
    assert (
        "sara" in page.text
        and 'for="u-username"' in page.text
        and 'action="/console/admin/users"' in page.text
    )
    (doc,) = [u for u in await accounts.list_users(intake.store) if u["_id"] == "sara"]
    assert doc["role"] == "department" and doc["departments"] == ["lighting", "waste"]

    sara = httpx.AsyncClient(transport=client._transport, base_url=client.base_url)
    async with sara:
        assert await sign_in_answer(sara, "sara", "sara's password") == 303
        assert (await sara.get("/console/inbox")).status_code == 200

        disabled = await client.post("/console/admin/users/sara/disable", data={"csrf": csrf})
        assert disabled.headers["location"] == "/console/admin?done=user#users"
        assert (await sara.get("/console/inbox")).status_code == 303, "the open session is refused"
        sara.cookies.clear()
        assert await sign_in_answer(sara, "sara", "sara's password") == 401, (
            "a disabled account cannot sign in"
        )
        again = await client.post("/console/admin/users/sara/disable", data={"csrf": csrf})
        assert "problem=" in again.headers["location"]
        own = await client.post("/console/admin/users/boss/disable", data={"csrf": csrf})
        assert "problem=" in own.headers["location"]

        enabled = await client.post("/console/admin/users/sara/enable", data={"csrf": csrf})
        assert enabled.headers["location"] == "/console/admin?done=user#users"
        assert await sign_in_answer(sara, "sara", "sara's password") == 303
        assert (await sara.get("/console/inbox")).status_code == 200

        reset = await client.post(
            "/console/admin/users/sara/password", data={"csrf": csrf, "password": "a brand new password"}
        )
        assert reset.headers["location"] == "/console/admin?done=user#users"
        assert (await sara.get("/console/inbox")).status_code == 303, "a new password ends the sessions"
        sara.cookies.clear()
        assert await sign_in_answer(sara, "sara", "sara's password") == 401
        assert await sign_in_answer(sara, "sara", "a brand new password") == 303
    unknown = await client.post(
        "/console/admin/users/nobody/password", data={"csrf": csrf, "password": PASSWORD}
    )
    assert "problem=" in unknown.headers["location"]


async def test_admins_create_and_revoke_api_keys_shown_once(
    intake_app: tuple[httpx.AsyncClient, Intake],
) -> None:
    client, intake = intake_app
    await accounts.create_user(intake.store, username="boss", name="Boss", password=PASSWORD, role="admin")
    csrf = await signed_in(client, "boss")
    cid = await lighting_complaint(intake)

    bad = await client.post("/console/admin/keys", data={"csrf": csrf, "name": "x", "scopes": "everything"})
    staff_without_role = await client.post(
        "/console/admin/keys", data={"csrf": csrf, "name": "x", "scopes": "staff"}
    )
    assert "problem=" in bad.headers["location"] and "at=keys" in bad.headers["location"]
    assert "problem=" in staff_without_role.headers["location"]

    created = await client.post(
        "/console/admin/keys", data={"csrf": csrf, "name": "137 centre", "scopes": ["complaints:read"]}
    )
    assert created.status_code == 200 and created.headers["cache-control"] == "no-store"
    found = re.search(
        r'data-testid="new-key".*?<code dir="ltr">(pk_[A-Za-z0-9_-]+)</code>', created.text, re.S
    )
    assert found is not None
    key = found.group(1)
    key_id = key.split("_")[1]
    assert key not in (await client.get("/console/admin")).text, "shown once"

    read = await client.get(f"/v1/partner/complaints/{cid}", headers={"Authorization": f"Bearer {key}"})
    assert read.status_code == 200, read.text
    (doc,) = [k for k in await auth.list_keys(intake.store) if k["_id"] == key_id]
    assert doc["name"] == "137 centre" and doc["scopes"] == ["complaints:read"] and doc["role"] is None

    staff_key = await client.post(
        "/console/admin/keys",
        data={
            "csrf": csrf,
            "name": "waste desk",
            "scopes": ["staff"],
            "role": "department",
            "departments": "waste",
        },
    )
    assert staff_key.status_code == 200
    (staff_doc,) = [k for k in await auth.list_keys(intake.store) if k["name"] == "waste desk"]
    assert staff_doc["role"] == "department" and staff_doc["departments"] == ["waste"]

    revoked = await client.post(f"/console/admin/keys/{key_id}/revoke", data={"csrf": csrf})
    assert revoked.headers["location"] == "/console/admin?done=key#keys"
    refused = await client.get(f"/v1/partner/complaints/{cid}", headers={"Authorization": f"Bearer {key}"})
    assert refused.status_code == 401
    again = await client.post(f"/console/admin/keys/{key_id}/revoke", data={"csrf": csrf})
    assert "problem=" in again.headers["location"]


async def test_admins_edit_departments_names_and_emails(intake_app: tuple[httpx.AsyncClient, Intake]) -> None:
    client, intake = intake_app
    await accounts.create_user(intake.store, username="boss", name="Boss", password=PASSWORD, role="admin")
    csrf = await signed_in(client, "boss")
    page = await client.get("/console/admin")
    assert "PASOKH_TAXONOMY_FILE" in page.text and 'action="/console/admin/departments/waste"' in page.text
    assert 'action="/console/admin/categories' not in page.text, "categories are read-only"

    fields = {"csrf": csrf, "fa": "پسماند و بازیافت", "en": "Waste and recycling"}
    saved = await client.post(
        "/console/admin/departments/waste", data={**fields, "emails": "a@karaj.ir, b@karaj.ir"}
    )
    bad_email = await client.post(
        "/console/admin/departments/waste", data={**fields, "emails": "not-an-address"}
    )
    no_name = await client.post("/console/admin/departments/waste", data={**fields, "fa": " "})
    unknown = await client.post("/console/admin/departments/nowhere", data={**fields, "emails": ""})

    assert saved.headers["location"] == "/console/admin?done=department#departments"
    for refused in (bad_email, no_name, unknown):
        assert "problem=" in refused.headers["location"] and "at=departments" in refused.headers["location"]
    waste = (await rules.departments(intake.store, intake.taxonomy))["waste"]
    assert (waste.fa, waste.en, waste.emails) == (
        "پسماند و بازیافت",
        "Waste and recycling",
        ("a@karaj.ir", "b@karaj.ir"),
    )
    assert "Waste and recycling" in (await client.get("/console/admin?lang=en")).text


async def test_only_admins_post_admin_forms_and_only_with_the_csrf_token(
    intake_app: tuple[httpx.AsyncClient, Intake],
) -> None:
    client, intake = intake_app
    await accounts.create_user(intake.store, username="boss", name="Boss", password=PASSWORD, role="admin")
    await accounts.create_user(
        intake.store, username="watcher", name="Watcher", password=PASSWORD, role="supervisor"
    )
    await accounts.create_user(
        intake.store, username="waste1", name="W", password=PASSWORD, role="department", departments=["waste"]
    )
    before = (await accounts.list_users(intake.store), await auth.list_keys(intake.store))
    for username in ("watcher", "waste1"):
        client.cookies.clear()
        csrf = await signed_in(client, username)
        for url, data in ADMIN_POSTS:
            answer = await client.post(url, data={"csrf": csrf, **data})
            assert answer.status_code == 403, f"{username} {url}: {answer.status_code}"
    watcher_page = await client.get("/console/admin")
    assert watcher_page.status_code == 403  # waste1 is signed in last
    client.cookies.clear()
    await signed_in(client, "watcher")
    read_only = await client.get("/console/admin")
    assert read_only.status_code == 200 and 'action="/console/admin/users"' not in read_only.text

    client.cookies.clear()
    csrf = await signed_in(client, "boss")
    for url, data in ADMIN_POSTS:
        for token in ({}, {"csrf": "forged"}):
            answer = await client.post(url, data={**token, **data})
            assert answer.status_code == 403, f"{url} without the CSRF token: {answer.status_code}"
    assert (await accounts.list_users(intake.store), await auth.list_keys(intake.store)) == before
    assert (await rules.departments(intake.store, intake.taxonomy))["waste"] == intake.taxonomy.departments[
        "waste"
    ]


async def test_a_citizen_s_markup_reaches_staff_as_text(intake_app: tuple[httpx.AsyncClient, Intake]) -> None:
    # The templates are *.html.j2, which Starlette's default autoescape did not cover: a complaint's
    # text went into the staff's page as HTML (stored XSS) until autoescape was switched on for all.
    client, intake = intake_app
    await accounts.create_user(
        intake.store,
        username="light9",
        name="Light",
        password=PASSWORD,
        role="department",
        departments=["lighting"],
    )
    hostile = 'چراغ خاموش است <script>alert("x")</script><img src=x onerror=alert(1)>'
    cid = await lighting_complaint(intake, hostile)
    await signed_in(client, "light9")
    for page in (await client.get(f"/console/complaints/{cid}"), await client.get("/console/inbox")):
        assert page.status_code == 200
        assert "<script>alert" not in page.text and "<img src=x" not in page.text
    detail = await client.get(f"/console/complaints/{cid}")
    assert "&lt;script&gt;alert(" in detail.text
