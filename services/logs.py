"""Structured JSON logs on stderr: one object a line, with the service name on every line.

Every line written while a complaint's message is handled carries its ``complaint_id`` and
``event_id`` (set once by :func:`log_context`, which the workers' message policy wraps around each
handler), and phone numbers are masked in the whole line — message, extra fields and tracebacks —
so that a clear number written by mistake never reaches the log. The level comes from
configuration (``PASOKH_LOG_LEVEL``).
"""

from __future__ import annotations

import logging
import re
import sys
from collections.abc import Iterator
from contextlib import contextmanager
from contextvars import ContextVar
from typing import IO, Any

from pythonjsonlogger.json import JsonFormatter

from services.privacy import mask_phone
from services.text import to_latin_digits

_CONTEXT: ContextVar[dict[str, str]] = ContextVar("pasokh_log_context", default={})  # noqa: B039  # never mutated

_DIGIT = "[0-9\u06f0-\u06f9\u0660-\u0669]"  # Latin, Persian and Arabic-Indic digits
_ZERO, _EIGHT, _NINE = "[0\u06f0\u0660]", "[8\u06f8\u0668]", "[9\u06f9\u0669]"
_COUNTRY = f"{_NINE}{_EIGHT}"
# An Iranian mobile number as it may appear anywhere in a line, in any of those digits: +98 / 0098 /
# 98 / 0 prefix or none, then 9 and nine more digits, not inside a longer run of digits.
_PHONE = re.compile(
    rf"(?<!{_DIGIT})(?:\+{_COUNTRY}|{_ZERO}{_ZERO}{_COUNTRY}|{_COUNTRY}|{_ZERO})?{_NINE}{_DIGIT}{{9}}(?!{_DIGIT})"
)


def mask_phones(text: str) -> str:
    """Every Iranian mobile number in ``text`` replaced by its masked E.164 form (``+98912***4567``)."""
    return _PHONE.sub(lambda m: mask_phone("+98" + to_latin_digits(m.group(0))[-10:]), text)


@contextmanager
def log_context(**fields: str | None) -> Iterator[None]:
    """Add ``fields`` (e.g. ``complaint_id``, ``event_id``) to every log line written inside the block."""
    token = _CONTEXT.set({**_CONTEXT.get(), **{k: v for k, v in fields.items() if v is not None}})
    try:
        yield
    finally:
        _CONTEXT.reset(token)


def bind_log_context(**fields: str | None) -> None:
    """Add ``fields`` to the current :func:`log_context` block, until that block ends."""
    _CONTEXT.set({**_CONTEXT.get(), **{k: v for k, v in fields.items() if v is not None}})


class _ContextFilter(logging.Filter):
    """Copies the current :func:`log_context` fields onto each record (explicit ``extra`` wins)."""

    def filter(self, record: logging.LogRecord) -> bool:
        for key, value in _CONTEXT.get().items():
            if not hasattr(record, key):
                setattr(record, key, value)
        return True


class _MaskingJsonFormatter(JsonFormatter):
    """python-json-logger's formatter, with phone numbers masked in the finished line."""

    def format(self, record: logging.LogRecord) -> str:
        return mask_phones(super().format(record))


def json_handler(service: str, stream: IO[str] | None = None) -> logging.Handler:
    """A handler writing JSON lines tagged with ``service``, with log context and phone masking."""
    handler = logging.StreamHandler(stream or sys.stderr)
    formatter_options: dict[str, Any] = {
        "rename_fields": {"asctime": "time", "levelname": "level", "name": "logger"},
        "static_fields": {"service": service},
        "json_ensure_ascii": False,
    }
    handler.setFormatter(
        _MaskingJsonFormatter("{asctime}{levelname}{name}{message}", style="{", **formatter_options)
    )
    handler.addFilter(_ContextFilter())
    return handler


def setup_logging(service: str, level: str = "INFO", *, stream: IO[str] | None = None) -> None:
    """Send every logger's records to stderr (or ``stream``) as JSON lines tagged with ``service``."""
    root = logging.getLogger()
    root.handlers[:] = [json_handler(service, stream)]
    root.setLevel(level)
    # Third-party chatter at INFO drowns the service's own lines.
    for noisy in ("aiokafka", "kafka", "faust", "mode", "pymongo", "uvicorn.access"):
        logging.getLogger(noisy).setLevel(max(logging.WARNING, logging.getLevelName(level)))
