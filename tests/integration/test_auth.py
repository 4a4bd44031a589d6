"""API keys on the real MongoDB-wire server: created once, verified, scoped, revoked."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

import pytest

from intake import auth
from pasokh.infra.local import LocalInfra
from services.store import Store


async def test_key_is_shown_once_stored_hashed_and_revocable(store: Store) -> None:
    key, doc = await auth.create_key(store, name="137 call centre", scopes=["complaints:write"])

    stored = await store.db["api_keys"].find_one({"_id": doc["_id"]})
    assert stored is not None and key.split("_", 2)[2] not in str(stored)
    principal = await auth.authenticate(store, key)
    assert principal is not None and principal.has("complaints:write") and not principal.has("staff")
    tampered = key[:-1] + ("A" if key[-1] != "A" else "B")
    assert await auth.authenticate(store, tampered) is None

    assert await auth.revoke(store, doc["_id"]) is True
    assert await auth.authenticate(store, key) is None
    assert await auth.revoke(store, doc["_id"]) is False


async def test_staff_act_only_on_their_departments(store: Store) -> None:
    desk, _ = await auth.create_key(
        store, name="lights", scopes=["staff"], role="department", departments=["lighting"]
    )
    operator_key, _ = await auth.create_key(store, name="operator", scopes=["staff"], role="operator")
    lights = await auth.authenticate(store, desk)
    operator = await auth.authenticate(store, operator_key)

    assert lights is not None and operator is not None
    assert lights.may_act_on("lighting", triage_department="triage")
    assert not lights.may_act_on("waste", triage_department="triage")
    assert operator.may_act_on("triage", triage_department="triage")
    assert not operator.may_act_on("lighting", triage_department="triage")


@pytest.mark.parametrize("scopes", [["root"], [], ["staff"]], ids=["unknown", "none", "staff-without-role"])
async def test_malformed_keys_are_refused(store: Store, scopes: list[str]) -> None:
    with pytest.raises(ValueError):
        await auth.create_key(store, name="x", scopes=scopes)


def test_cli_creates_lists_and_revokes(infra: LocalInfra, database: str) -> None:
    env = {**os.environ, **infra.env(), "PASOKH_MONGO__DATABASE": database}
    pasokh = [str(Path(sys.executable).with_name("pasokh")), "keys"]

    created = subprocess.run(
        [*pasokh, "create", "--name", "district 3", "--scopes", "complaints:read"],
        env=env,
        capture_output=True,
        text=True,
        check=True,
    ).stdout
    key_id = created.split("key id: ")[1].split()[0]
    assert f"pk_{key_id}_" in created
    listed = subprocess.run([*pasokh, "list"], env=env, capture_output=True, text=True, check=True).stdout
    assert key_id in listed and "pk_" not in listed
    subprocess.run([*pasokh, "revoke", key_id], env=env, capture_output=True, text=True, check=True)
    assert "REVOKED" in subprocess.run([*pasokh, "list"], env=env, capture_output=True, text=True).stdout
    refused = subprocess.run(
        [*pasokh, "create", "--name", "x", "--scopes", "root"], env=env, capture_output=True, text=True
    )
    assert refused.returncode == 2 and "unknown scopes: root" in refused.stderr


async def test_a_key_check_without_mongodb_is_a_503_not_a_500(infra: LocalInfra) -> None:
    from intake.bootstrap import bootstrap
    from intake.settings import IntakeSettings
    from pasokh.infra.process import free_port
    from services.errors import DependencyUnavailable
    from services.settings import KafkaSettings, MongoSettings

    settings = IntakeSettings(
        kafka=KafkaSettings(bootstrap_servers=infra.bootstrap_servers),
        mongo=MongoSettings(uri=f"mongodb://127.0.0.1:{free_port()}/", timeout_ms=300),
    )
    intake = bootstrap(settings)
    try:
        with pytest.raises(DependencyUnavailable):
            await auth.authenticate(intake.store, "pk_0123456789ab_secret")
    finally:
        await intake.store.close()
