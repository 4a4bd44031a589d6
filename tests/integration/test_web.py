"""The web pages against real Kafka and MongoDB: form validation and submission, sessions, CSRF, roles."""

from __future__ import annotations

import re
from datetime import UTC, datetime

import httpx

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


async def lighting_complaint(intake: Intake) -> str:
    sub = submitted()
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
