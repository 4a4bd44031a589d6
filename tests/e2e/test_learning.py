"""The running router learns: a staff reassignment becomes a training example, `pasokh train
--from-store` stores a new model version, `pasokh models activate` activates it, and the router
(never restarted) records that version on its next decisions."""

from __future__ import annotations

import json
import subprocess
import sys
import time
from collections import defaultdict
from collections.abc import Callable
from pathlib import Path
from typing import Any

import httpx
import pytest

from router.model import Example, default_seed_file, read_jsonl
from services.text import normalize
from tests.support.system import PasokhUp

PASOKH = Path(sys.executable).with_name("pasokh")
LIGHTS = "چراغ‌های کوچه ما سه شب است خاموش است"
VAGUE = "سلام، لطفاً کسی به کوچه ما سر بزند"


def pasokh(system: PasokhUp, *args: str) -> str:
    done = subprocess.run([str(PASOKH), *args], env=system.env, capture_output=True, text=True, timeout=600)
    assert done.returncode == 0, done.stderr
    return done.stdout


def wait_until(check: Callable[[], Any], timeout: float = 30.0, every: float = 0.2) -> Any:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if result := check():
            return result
        time.sleep(every)
    raise AssertionError("condition not met in time")


def submit(system: PasokhUp, text: str) -> dict[str, Any]:
    """Submit and wait for the router's decision; the complaint's public status."""
    response = httpx.post(
        f"{system.url('intake')}/v1/complaints", json={"text": text, "phone": "09127654321", "district": "5"}
    )
    assert response.status_code == 202, response.text
    accepted = response.json()
    url = f"{system.url('intake')}/v1/complaints/{accepted['tracking_code']}"
    status = wait_until(lambda: (s := httpx.get(url).json())["status"] != "received" and s)
    return {**status, "id": accepted["id"]}


@pytest.fixture(scope="module")
def small_data(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """Six seed examples per category: a model that trains in seconds."""
    chosen: dict[str, list[Example]] = defaultdict(list)
    for example in read_jsonl(default_seed_file()):
        if len(chosen[example.label]) < 6:
            chosen[example.label].append(example)
    path = tmp_path_factory.mktemp("learning") / "small.jsonl"
    path.write_text(
        "".join(
            json.dumps({"text": e.text, "label": e.label}, ensure_ascii=False) + "\n"
            for group in chosen.values()
            for e in group
        ),
        encoding="utf-8",
    )
    return path


def test_reassignment_to_new_version_recorded_by_the_running_router(
    system: PasokhUp, db: Any, small_data: Path
) -> None:
    first = submit(system, LIGHTS)
    assert first["category"] == "lighting"
    before = db.complaints.find_one({"_id": first["id"]})["classifier"]["name"]
    assert before.endswith("@builtin")

    out = pasokh(
        system, "keys", "create", "--name", "137 operator", "--scopes", "staff", "--role", "operator"
    )
    operator = next(line for line in out.splitlines() if line.startswith("pk_"))
    vague = submit(system, VAGUE)
    assert vague["status"] == "triage"
    moved = httpx.post(
        f"{system.url('intake')}/v1/complaints/{vague['id']}/reassign",
        json={"category": "appearance", "reason": "کانکس رها شده"},
        headers={"Authorization": f"Bearer {operator}"},
    )
    assert moved.status_code == 202, moved.text
    example = wait_until(lambda: db.training_examples.find_one({"complaint_id": vague["id"]}))
    assert (example["label"], example["text"]) == ("appearance", normalize(VAGUE))  # as intake stored it

    trained = pasokh(system, "train", "--from-store", "--data", str(small_data))
    assert "1 corrections" in trained
    version = next(line for line in trained.splitlines() if line.startswith("stored as version")).split()[3]
    name = next(line for line in trained.splitlines() if line.startswith("trained ")).split()[1]
    assert name.startswith("tfidf-svc-")
    assert f"active: {version}" in pasokh(system, "models", "activate", version)

    # The router checks the active version every PASOKH_CLASSIFIER__RELOAD_SECONDS (5 s by default).
    def decided_with_new_version() -> bool:
        complaint = submit(system, LIGHTS)
        return bool(
            db.complaints.find_one({"_id": complaint["id"]})["classifier"]["name"] == f"{name}@{version}"
        )

    wait_until(decided_with_new_version, timeout=60.0, every=1.0)
    following = submit(system, LIGHTS)
    assert db.complaints.find_one({"_id": following["id"]})["classifier"]["name"] == f"{name}@{version}"
    assert system.proc is not None and system.proc.poll() is None  # the same processes all along
