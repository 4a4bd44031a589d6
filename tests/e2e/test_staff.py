"""Staff act on a complaint through intake; the router applies it; the citizen's status shows it."""

from __future__ import annotations

import subprocess
import sys
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any

import httpx
import pytest

from tests.support.sms_server import SmsCapture
from tests.support.system import PasokhUp

LIGHTS = "چراغ‌های کوچه ما سه شب است خاموش است"


def create_key(system: PasokhUp, *args: str) -> str:
    pasokh = Path(sys.executable).with_name("pasokh")
    out = subprocess.run(
        [str(pasokh), "keys", "create", *args], env=system.env, capture_output=True, text=True, check=True
    ).stdout
    return next(line for line in out.splitlines() if line.startswith("pk_"))


def wait_until(check: Callable[[], Any], timeout: float = 20.0) -> Any:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if result := check():
            return result
        time.sleep(0.1)
    raise AssertionError("condition not met in time")


@pytest.fixture(scope="module")
def keys(system: PasokhUp) -> dict[str, str]:
    return {
        "lighting": create_key(
            system,
            "--name",
            "lighting desk",
            "--scopes",
            "staff",
            "--role",
            "department",
            "--department",
            "lighting",
        ),
        "waste": create_key(
            system,
            "--name",
            "waste desk",
            "--scopes",
            "staff",
            "--role",
            "department",
            "--department",
            "waste",
        ),
        "operator": create_key(system, "--name", "137 operator", "--scopes", "staff", "--role", "operator"),
        "partner": create_key(system, "--name", "district office", "--scopes", "complaints:read"),
    }


def routed(system: PasokhUp, sms: SmsCapture, text: str) -> dict[str, Any]:
    accepted = httpx.post(
        f"{system.url('intake')}/v1/complaints", json={"text": text, "phone": "09127654321", "district": "5"}
    ).json()
    return dict(
        wait_until(
            lambda: (
                (s := status(system, accepted["tracking_code"]))["status"] != "received"
                and {**s, "id": accepted["id"]}
            )
        )
    )


def status(system: PasokhUp, code: str) -> dict[str, Any]:
    return dict(httpx.get(f"{system.url('intake')}/v1/complaints/{code}").json())


def act(
    system: PasokhUp, key: str | None, complaint_id: str, action: str, body: dict[str, Any]
) -> httpx.Response:
    headers = {"Authorization": f"Bearer {key}"} if key else {}
    return httpx.post(
        f"{system.url('intake')}/v1/complaints/{complaint_id}/{action}", json=body, headers=headers
    )


def test_department_works_a_complaint_to_resolution(
    system: PasokhUp, sms: SmsCapture, keys: dict[str, str]
) -> None:
    complaint = routed(system, sms, LIGHTS)
    code, cid = complaint["tracking_code"], complaint["id"]
    assert complaint["department"] == "lighting"

    assert (
        act(system, keys["lighting"], cid, "acknowledge", {"note": "تیم روشنایی اعزام شد"}).status_code == 202
    )
    wait_until(lambda: status(system, code)["status"] == "acknowledged")
    assert (
        act(system, keys["lighting"], cid, "comment", {"text": "لامپ سوخته؛ انبار بررسی شود"}).status_code
        == 202
    )
    assert (
        act(
            system, keys["lighting"], cid, "comment", {"text": "فردا تعویض می‌شود", "public": True}
        ).status_code
        == 202
    )
    assert act(system, keys["lighting"], cid, "resolve", {"note": "لامپ‌ها تعویض شد"}).status_code == 202

    final = wait_until(lambda: (s := status(system, code))["status"] == "resolved" and s)
    notes = [(t["type"], t["note"]) for t in final["timeline"]]
    assert notes == [
        ("received", None),
        ("routed", None),
        ("acknowledged", "تیم روشنایی اعزام شد"),
        ("commented", "فردا تعویض می‌شود"),
        ("resolved", "لامپ‌ها تعویض شد"),
    ], "the internal comment must not be public"
    again = act(system, keys["lighting"], cid, "acknowledge", {})
    assert again.status_code == 409 and again.json()["error"]["code"] == "invalid_transition"
    assert act(system, keys["lighting"], cid, "reopen", {"reason": "هنوز خاموش است"}).status_code == 202
    wait_until(lambda: status(system, code)["status"] == "reopened")


def test_staff_of_another_department_and_anonymous_callers_are_refused(
    system: PasokhUp, sms: SmsCapture, keys: dict[str, str]
) -> None:
    cid = routed(system, sms, LIGHTS)["id"]

    other = act(system, keys["waste"], cid, "acknowledge", {})
    anonymous = act(system, None, cid, "acknowledge", {})
    bogus = act(system, "pk_000000000000_nope", cid, "acknowledge", {})

    assert other.status_code == 403 and other.json()["error"]["code"] == "forbidden"
    assert anonymous.status_code == 401 and anonymous.headers["WWW-Authenticate"].startswith("Bearer")
    assert bogus.status_code == 401
    assert set(anonymous.json()["error"]["message"]) == {"fa", "en"}


def test_operator_reassigns_from_triage_and_the_department_takes_over(
    system: PasokhUp, sms: SmsCapture, keys: dict[str, str]
) -> None:
    complaint = routed(system, sms, "سلام، لطفاً کسی به کوچه ما سر بزند")
    assert complaint["status"] == "triage"

    moved = act(
        system,
        keys["operator"],
        complaint["id"],
        "reassign",
        {"category": "waste", "reason": "نخاله ساختمانی رها شده"},
    )

    assert moved.status_code == 202 and moved.json()["status"] == "routed"
    after = wait_until(
        lambda: (s := status(system, complaint["tracking_code"]))["department"] == "waste" and s
    )
    assert (after["status"], after["category"]) == ("routed", "waste")
    assert act(system, keys["operator"], complaint["id"], "acknowledge", {}).status_code == 403
    assert act(system, keys["waste"], complaint["id"], "acknowledge", {}).status_code == 202


def test_partner_reads_a_complaint_by_id_without_personal_data(
    system: PasokhUp, sms: SmsCapture, keys: dict[str, str]
) -> None:
    complaint = routed(system, sms, LIGHTS)
    url = f"{system.url('intake')}/v1/partner/complaints/{complaint['id']}"

    read = httpx.get(url, headers={"X-API-Key": keys["partner"]})
    staff_key = httpx.get(url, headers={"X-API-Key": keys["lighting"]})

    assert read.status_code == 200, read.text
    body = read.json()
    assert body["id"] == complaint["id"] and body["text"] == LIGHTS and body["status"] == "routed"
    assert "7654321" not in read.text
    assert staff_key.status_code == 403
