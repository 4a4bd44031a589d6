"""The published contract, generated from the payload models: a JSON Schema per event type and version,
and an AsyncAPI 3.0 document of the three topics.

``pasokh contracts export`` writes them beside this module (``schemas/<type>.v<version>.json`` and
``asyncapi.json``); tests/unit/test_contracts_published.py fails when the committed files are stale.
Every schema's ``$id`` is the ``dataschema`` URI that events of that type carry. Schemas of earlier
versions of a type stay published (old events still name them); files of unknown types are stale.
"""

from __future__ import annotations

import importlib
import inspect
import json
import pkgutil
import re
from functools import cache
from importlib import resources
from pathlib import Path
from typing import Any

from services.contracts import topics
from services.contracts.envelope import EventPayload

DIALECT = "https://json-schema.org/draft/2020-12/schema"
SCHEMA_FORMAT = "application/schema+json;version=draft-2020-12"
CONTENT_TYPE = "application/cloudevents+json"
SCHEMAS_DIR = "schemas"
ASYNCAPI_FILE = "asyncapi.json"
# How asyncapi.json on disk names the schema files: relative to itself, so tools resolve them there.
FILE_REF_BASE = f"./{SCHEMAS_DIR}/"
KAFKA_BINDING_VERSION = "0.5.0"
_NAME = re.compile(r"^(?P<type>[a-z0-9][a-z0-9.-]*)\.v(?P<version>[1-9][0-9]*)\.json$")

TOPIC_DESCRIPTIONS = {
    topics.SUBMITTED: "New complaints, as intake accepted them. The router consumes this topic.",
    topics.EVENTS: "Everything that happens to a complaint after submission, in order per complaint: "
    "the router's decisions, staff and partner updates, citizens' answers and SMS outcomes.",
    topics.DEADLETTER: "Messages a service gave up on, with the reason and where they came from.",
}


def _contract_modules() -> list[str]:
    package = importlib.import_module("services.contracts")
    return sorted(
        f"services.contracts.{m.name}"
        for m in pkgutil.iter_modules(package.__path__)
        if m.name != "schemas" and not m.name.startswith("_")
    )


@cache
def payload_types() -> tuple[type[EventPayload], ...]:
    """Every published payload class (those of ``services.contracts`` and the dead letter), by type."""
    from services.bus import DeadLettered

    found: dict[str, type[EventPayload]] = {DeadLettered.TYPE: DeadLettered}
    for name in _contract_modules():
        module = importlib.import_module(name)
        for obj in vars(module).values():
            if not (inspect.isclass(obj) and issubclass(obj, EventPayload) and obj.__module__ == name):
                continue
            event_type = getattr(obj, "TYPE", None)
            if event_type is None:  # a base class shared by several types
                continue
            if event_type in found and found[event_type] is not obj:
                raise RuntimeError(f"two payload classes claim the type {event_type}")
            found[event_type] = obj
    return tuple(found[t] for t in sorted(found))


def topic_of(event_type: str) -> str:
    """The topic events of ``event_type`` are published on (DESIGN.md's topic table)."""
    if event_type == "org.pasokh.complaint.submitted":
        return topics.SUBMITTED
    if event_type == "org.pasokh.deadletter":
        return topics.DEADLETTER
    return topics.EVENTS


def file_name(model: type[EventPayload]) -> str:
    """``<type>.v<version>.json``: the schema file of ``model``'s current version."""
    return f"{model.TYPE}.v{model.VERSION}.json"


def event_schema(model: type[EventPayload]) -> dict[str, Any]:
    """The JSON Schema (draft 2020-12) of ``model``'s ``data``, ``$id`` = its dataschema URI."""
    schema = model.model_json_schema(mode="validation")
    return {"$schema": DIALECT, "$id": model.dataschema(), "x-cloudevents-type": model.TYPE, **schema}


def _key_description(event_type: str) -> str:
    if event_type == "org.pasokh.deadletter":
        return "The original message's key (the complaint id), or topic/partition/offset if it had none."
    if event_type.startswith("org.pasokh.citizen."):
        return "The complaint id when the message names one, else the citizen's phone_hash."
    return "The complaint id, equal to the event's subject, so one complaint's events stay in order."


def envelope_schema(model: type[EventPayload], data_ref: str) -> dict[str, Any]:
    """The CloudEvents 1.0 structured-mode JSON of one ``model`` event, ``data`` by reference."""
    return {
        "$schema": DIALECT,
        "type": "object",
        "required": [
            "specversion",
            "id",
            "source",
            "type",
            "subject",
            "time",
            "datacontenttype",
            "dataschema",
            "data",
        ],
        "properties": {
            "specversion": {"const": "1.0"},
            "id": {
                "type": "string",
                "minLength": 1,
                "description": "Unique per source: consumers drop a repeated source + id.",
            },
            "source": {"type": "string", "minLength": 1, "format": "uri-reference"},
            "type": {"const": model.TYPE},
            "subject": {"type": "string", "minLength": 1, "description": _key_description(model.TYPE)},
            "time": {"type": "string", "format": "date-time"},
            "datacontenttype": {"const": "application/json"},
            "dataschema": {"const": model.dataschema()},
            "data": {"$ref": data_ref},
        },
    }


def _message(model: type[EventPayload], schema_base: str) -> dict[str, Any]:
    doc = inspect.cleandoc(model.__doc__ or model.TYPE)
    return {
        "name": model.TYPE,
        "title": model.__name__,
        "summary": doc.splitlines()[0],
        "description": doc,
        "contentType": CONTENT_TYPE,
        "payload": {
            "schemaFormat": SCHEMA_FORMAT,
            "schema": envelope_schema(model, schema_base + file_name(model)),
        },
        "bindings": {
            "kafka": {
                "key": {"type": "string", "description": _key_description(model.TYPE)},
                "bindingVersion": KAFKA_BINDING_VERSION,
            }
        },
    }


def asyncapi(schema_base: str = FILE_REF_BASE) -> dict[str, Any]:
    """The AsyncAPI 3.0 document: the topics, their message types, payloads ``$ref``-ing the schemas."""
    models = payload_types()
    channels: dict[str, Any] = {}
    operations: dict[str, Any] = {}
    for topic in topics.ALL:
        types = [m.TYPE for m in models if topic_of(m.TYPE) == topic]
        channels[topic] = {
            "address": topic,
            "title": topic,
            "description": TOPIC_DESCRIPTIONS[topic],
            "messages": {t: {"$ref": f"#/components/messages/{t}"} for t in types},
            "bindings": {"kafka": {"topic": topic, "bindingVersion": KAFKA_BINDING_VERSION}},
        }
        operations[f"send.{topic}"] = {
            "action": "send",
            "channel": {"$ref": f"#/channels/{topic}"},
            "summary": f"Pasokh publishes on {topic} (acks=all, key = complaint id).",
            "messages": [{"$ref": f"#/channels/{topic}/messages/{t}"} for t in types],
        }
    return {
        "asyncapi": "3.0.0",
        "id": "urn:org:pasokh:events",
        "info": {
            "title": "Pasokh events",
            "version": "1",
            "description": "Events of Pasokh, the complaints router: CloudEvents 1.0 in Kafka's structured "
            "content mode (the whole event is the JSON value), keyed by complaint id. Consumers drop a "
            "repeated source + id. Each data schema's $id is the event's dataschema; a changed payload "
            "gets a new version and its old schema stays published.",
            "license": {"name": "Apache-2.0", "url": "https://www.apache.org/licenses/LICENSE-2.0"},
        },
        "defaultContentType": CONTENT_TYPE,
        "channels": channels,
        "operations": operations,
        "components": {"messages": {m.TYPE: _message(m, schema_base) for m in models}},
    }


def dumps(doc: dict[str, Any]) -> str:
    """The committed text of a JSON document: two-space indent, UTF-8 kept readable, final newline."""
    return json.dumps(doc, indent=2, ensure_ascii=False) + "\n"


def render() -> dict[str, str]:
    """Every generated file, by path relative to this package's directory."""
    files = {f"{SCHEMAS_DIR}/{file_name(m)}": dumps(event_schema(m)) for m in payload_types()}
    files[ASYNCAPI_FILE] = dumps(asyncapi())
    return files


def _orphans(root: Path, expected: dict[str, str]) -> list[str]:
    current = {m.TYPE: m.VERSION for m in payload_types()}
    orphans = []
    for path in sorted((root / SCHEMAS_DIR).glob("*.json")):
        relative = f"{SCHEMAS_DIR}/{path.name}"
        if relative in expected:
            continue
        match = _NAME.match(path.name)
        if match and int(match["version"]) < current.get(match["type"], 0):
            continue  # an earlier version of a known type: stays published
        orphans.append(relative)
    return orphans


def stale(root: Path) -> list[str]:
    """Files under ``root`` that differ from what the code generates, are missing, or are orphans."""
    expected = render()
    differ = [
        relative
        for relative, text in expected.items()
        if not (root / relative).is_file() or (root / relative).read_text(encoding="utf-8") != text
    ]
    return differ + _orphans(root, expected)


def export(root: Path) -> list[str]:
    """Write the generated files under ``root`` and remove orphans; return what changed."""
    expected = render()
    changed = []
    for relative, text in expected.items():
        path = root / relative
        if path.is_file() and path.read_text(encoding="utf-8") == text:
            continue
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_text(text, encoding="utf-8")
        changed.append(relative)
    for relative in _orphans(root, expected):
        (root / relative).unlink()
        changed.append(relative)
    return changed


def package_dir() -> Path:
    """The directory of this package in the source tree (where ``export`` writes by default)."""
    return Path(__file__).resolve().parent


@cache
def schema_names() -> tuple[str, ...]:
    """The names of every schema file shipped with this package."""
    folder = resources.files("services.contracts").joinpath(SCHEMAS_DIR)
    if not folder.is_dir():
        return ()
    return tuple(sorted(p.name for p in folder.iterdir() if _NAME.match(p.name)))


def published(name: str) -> dict[str, Any] | None:
    """The shipped schema file ``name`` (``<type>.v<version>.json``), or None if there is none."""
    return _load(name) if name in schema_names() else None


@cache
def _load(name: str) -> dict[str, Any]:
    path = resources.files("services.contracts").joinpath(SCHEMAS_DIR).joinpath(name)
    doc: dict[str, Any] = json.loads(path.read_text(encoding="utf-8"))
    return doc


def published_asyncapi(schema_base: str = FILE_REF_BASE) -> dict[str, Any]:
    """The shipped AsyncAPI document, its schema references rebased on ``schema_base`` (e.g. a URL)."""
    text = resources.files("services.contracts").joinpath(ASYNCAPI_FILE).read_text(encoding="utf-8")
    doc: dict[str, Any] = json.loads(text)
    for message in doc["components"]["messages"].values():
        data = message["payload"]["schema"]["properties"]["data"]
        if data["$ref"].startswith(FILE_REF_BASE):
            data["$ref"] = schema_base + data["$ref"][len(FILE_REF_BASE) :]
    return doc
