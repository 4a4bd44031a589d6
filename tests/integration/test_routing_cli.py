"""``pasokh routing`` against the real MongoDB-wire server."""

from __future__ import annotations

import json
from pathlib import Path

import pytest
from click.testing import CliRunner

from pasokh.cli import main
from pasokh.infra.local import LocalInfra


def test_rules_departments_and_districts_from_the_command_line(
    infra: LocalInfra, database: str, monkeypatch: pytest.MonkeyPatch, tmp_path: Path
) -> None:
    monkeypatch.setenv("PASOKH_MONGO__URI", infra.mongo_uri)
    monkeypatch.setenv("PASOKH_MONGO__DATABASE", database)
    runner = CliRunner()

    def run(*args: str) -> str:
        result = runner.invoke(main, ["routing", *args])
        assert result.exit_code == 0, result.output
        return result.output

    try:
        run("set-department", "night-crew", "--fa", "گروه شب", "--en", "Night crew")
        run(
            "set-rule", "night", "--category", "drainage", "--start", "22:00", "--end", "06:00",
            "--department", "night-crew", "--order", "5",
        )  # fmt: skip
        refused = runner.invoke(main, ["routing", "set-rule", "x", "--department", "nobody"])
        bad_day = runner.invoke(
            main, ["routing", "set-rule", "x", "--department", "crisis", "--days", "moon"]
        )
        shown = run("show")
        square = {
            "type": "FeatureCollection",
            "features": [
                {
                    "type": "Feature",
                    "properties": {"code": "north", "fa": "شمال", "en": "North"},
                    "geometry": {
                        "type": "Polygon",
                        "coordinates": [
                            [[50.9, 35.8], [51.1, 35.8], [51.1, 35.9], [50.9, 35.9], [50.9, 35.8]]
                        ],
                    },
                }
            ],
        }
        (tmp_path / "d.geojson").write_text(json.dumps(square), encoding="utf-8")
        imported = run("import-districts", str(tmp_path / "d.geojson"))
        shown_after = run("show")
        run("delete-rule", "night")
        missing = runner.invoke(main, ["routing", "delete-rule", "night"])
    finally:
        from pymongo import MongoClient

        with MongoClient(infra.mongo_uri) as client:
            client.drop_database(database)

    assert refused.exit_code == 2 and "no department 'nobody'" in refused.output
    assert bad_day.exit_code == 2
    assert "night: category=drainage from=22:00 to=06:00 → night-crew" in shown
    assert "night-crew (Night crew)" in shown and "12 (منطقه ۱۲ / District 12)" in shown
    assert "1 districts imported: north" in imported and "north (شمال / North)" in shown_after
    assert missing.exit_code == 1
