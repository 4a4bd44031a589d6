"""Open311 GeoReport v2 documents as JSON or XML (wiki.open311.org/GeoReport_v2, "Format Support").

Handlers build one plain structure (dicts, lists, str, int, float, bool, None) and this module
writes it in the format the client asked for by the resource's extension. The XML is built with
ElementTree: schemaless, no namespace, UTF-8 with the XML declaration. The JSON is the XML's
"Spark convention" mapping: a list's wrapper element becomes an array of its items, so the root
``<services>`` is a JSON array of services and ``<service_definition>`` a JSON object.
"""

from __future__ import annotations

import json
import re
import xml.etree.ElementTree as ET
from datetime import UTC, datetime
from typing import Any, Literal

from fastapi import Response

Format = Literal["json", "xml"]
FORMATS: dict[str, Format] = {"json": "json", "xml": "xml"}
MEDIA_TYPES: dict[Format, str] = {
    "json": "application/json; charset=utf-8",
    "xml": "text/xml; charset=utf-8",
}
# The element name of one item in each list, as the specification names them.
ITEMS: dict[str, str] = {
    "services": "service",
    "attributes": "attribute",
    "values": "value",
    "service_requests": "request",
    "service_request_updates": "request_update",
    "endpoints": "endpoint",
    "formats": "format",
    "errors": "error",
}
# Characters XML 1.0 cannot carry even escaped; complaint text is user input.
_NOT_XML = re.compile("[^\t\n\r\u0020-\ud7ff\ue000-\ufffd\U00010000-\U0010ffff]")


def w3(at: datetime) -> str:
    """``at`` in the w3 subset of ISO 8601 the spec requires, in UTC: ``2010-01-01T00:00:00Z``."""
    if at.tzinfo is None:  # BSON dates are UTC even when a client forgets to say so
        at = at.replace(tzinfo=UTC)
    return at.astimezone(UTC).strftime("%Y-%m-%dT%H:%M:%SZ")


def _scalar(value: Any) -> str | None:
    if value is None:
        return None
    if isinstance(value, bool):
        return "true" if value else "false"
    if isinstance(value, datetime):
        return w3(value)
    return _NOT_XML.sub("\ufffd", str(value))


def _fill(element: ET.Element, value: Any) -> None:
    if isinstance(value, dict):
        for name, child in value.items():
            _fill(ET.SubElement(element, name), child)
    elif isinstance(value, list | tuple):
        item = ITEMS[element.tag]
        for child in value:
            _fill(ET.SubElement(element, item), child)
    else:
        element.text = _scalar(value)


def to_xml(root: str, value: Any) -> bytes:
    """``value`` as an XML document whose root element is ``root``."""
    element = ET.Element(root)
    _fill(element, value)
    written: bytes = ET.tostring(element, encoding="UTF-8", xml_declaration=True)
    return written


def _json_default(value: Any) -> Any:
    if isinstance(value, datetime):
        return w3(value)
    raise TypeError(f"{type(value).__name__} is not JSON serialisable")


def to_json(value: Any) -> bytes:
    """``value`` as UTF-8 JSON (Persian stays readable, not \\u-escaped)."""
    return json.dumps(value, ensure_ascii=False, default=_json_default).encode("utf-8")


def document(
    fmt: Format,
    root: str,
    value: Any,
    *,
    status: int = 200,
    headers: dict[str, str] | None = None,
) -> Response:
    """The HTTP response carrying ``value`` (root element ``root`` in XML) in format ``fmt``."""
    body = to_xml(root, value) if fmt == "xml" else to_json(value)
    return Response(body, status_code=status, media_type=MEDIA_TYPES[fmt], headers=headers)


def errors(
    fmt: Format,
    status: int,
    problems: list[tuple[int, str]],
    *,
    headers: dict[str, str] | None = None,
) -> Response:
    """The spec's error document: ``<errors><error><code/><description/></error></errors>``."""
    value = [{"code": code, "description": description} for code, description in problems]
    return document(fmt, "errors", value, status=status, headers=headers)


def format_of_path(path: str) -> Format:
    """The format a path asks for by its extension; XML (the spec's required format) otherwise."""
    return "json" if path.lower().endswith(".json") else "xml"
