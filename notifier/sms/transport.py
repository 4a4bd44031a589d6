"""What the HTTP adapters share: how a failed request is classified, and a tolerant JSON reader."""

from __future__ import annotations

from typing import Any

import httpx

from notifier.sms import SmsOutcomeUnknown, SmsUnavailable

# The request never reached the provider: safe to hand the message to another provider.
_NOT_SENT = (httpx.ConnectError, httpx.ConnectTimeout, httpx.PoolTimeout, httpx.UnsupportedProtocol)


def unavailable(provider: str, exc: httpx.HTTPError) -> SmsUnavailable:
    """The error for a request that got no answer; the URL (it may hold an API key) is left out."""
    if isinstance(exc, _NOT_SENT):
        return SmsUnavailable(f"{provider} unreachable: {type(exc).__name__}")
    return SmsOutcomeUnknown(f"{provider} did not answer: {type(exc).__name__}")


def json_body(response: httpx.Response) -> dict[str, Any]:
    """The answer's JSON object, or ``{}`` when the body is no JSON object (an error page)."""
    try:
        body = response.json()
    except ValueError:
        return {}
    return body if isinstance(body, dict) else {}
