"""A real local SMTP server (aiosmtpd, in its own thread) that records each message it accepts.

It can require a login (AUTH PLAIN/LOGIN without TLS, loopback only), answer the next DATA commands
with scripted replies (``451 …`` to test retries, ``554 …`` to test a refusal), and refuse recipients.
"""

from __future__ import annotations

import socket
import threading
from dataclasses import dataclass, field
from email import message_from_bytes, policy
from email.message import EmailMessage
from typing import Any

from aiosmtpd.controller import Controller
from aiosmtpd.smtp import AuthResult, Envelope, LoginPassword, Session


def _free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


@dataclass
class Received:
    """One accepted message: the SMTP envelope, the parsed message and who logged in."""

    sender: str
    recipients: list[str]
    message: EmailMessage
    login: str | None


@dataclass
class MailCapture:
    """Accepts mail on 127.0.0.1; ``data_replies`` are answered to the next DATA commands first."""

    username: str | None = None
    password: str | None = None
    refuse: set[str] = field(default_factory=set)  # recipients answered 550
    data_replies: list[str] = field(default_factory=list)
    received: list[Received] = field(default_factory=list)

    def __post_init__(self) -> None:
        self._lock = threading.Lock()
        self._stopped = False
        self.port = _free_port()
        kwargs: dict[str, Any] = {}
        if self.username is not None:
            # AUTH is offered without TLS on loopback; the tests assert that the client logged in.
            kwargs = {"authenticator": self._authenticate, "auth_require_tls": False}
        self._controller = Controller(self, hostname="127.0.0.1", port=self.port, **kwargs)

    def _authenticate(
        self, server: Any, session: Session, envelope: Envelope, mechanism: str, auth_data: Any
    ) -> AuthResult:
        ok = (
            isinstance(auth_data, LoginPassword)
            and auth_data.login.decode() == self.username
            and auth_data.password.decode() == self.password
        )
        return AuthResult(success=ok, auth_data=auth_data.login.decode() if ok else None)

    async def handle_RCPT(  # noqa: N802 (aiosmtpd's hook name)
        self, server: Any, session: Session, envelope: Envelope, address: str, rcpt_options: list[str]
    ) -> str:
        if address in self.refuse:
            return "550 5.1.1 no such mailbox"
        envelope.rcpt_tos.append(address)
        return "250 OK"

    async def handle_DATA(  # noqa: N802 (aiosmtpd's hook name)
        self, server: Any, session: Session, envelope: Envelope
    ) -> str:
        with self._lock:
            if self.data_replies:
                return self.data_replies.pop(0)
            raw = envelope.original_content or b""
            parsed = message_from_bytes(raw, policy=policy.default)
            assert isinstance(parsed, EmailMessage)
            login = session.auth_data if isinstance(session.auth_data, str) else None
            self.received.append(Received(str(envelope.mail_from), list(envelope.rcpt_tos), parsed, login))
        return "250 Message accepted for delivery"

    def start(self) -> MailCapture:
        """Serve in a background thread."""
        self._controller.start()
        return self

    def stop(self) -> None:
        """Stop serving (a second call does nothing)."""
        if not self._stopped:
            self._stopped = True
            self._controller.stop()
