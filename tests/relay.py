"""A real SMTP server on loopback for tests: aiosmtpd, started by the test, recording every
message it accepts. Behaviours (reject some addresses, answer 4xx first, drop the connection,
reject everything) are set per test."""

from __future__ import annotations

import email
import email.policy
import socket
import ssl
import threading
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from email.message import EmailMessage
from typing import Any

from aiosmtpd.controller import Controller
from aiosmtpd.smtp import AuthResult


@dataclass
class Received:
    sender: str
    recipients: list[str]
    data: bytes

    @property
    def message(self) -> EmailMessage:
        msg = email.message_from_bytes(self.data, policy=email.policy.default)
        assert isinstance(msg, EmailMessage)
        return msg


@dataclass
class Relay:
    host: str
    port: int
    received: list[Received] = field(default_factory=list)
    # Return an SMTP reply string to refuse, None to accept.
    on_rcpt: Callable[[str], str | None] = lambda address: None
    on_data: Callable[[str], str | None] = lambda address: None
    drop_on_data: Callable[[str], bool] = lambda address: False
    lock: threading.Lock = field(default_factory=threading.Lock)
    attempts: dict[str, int] = field(default_factory=dict)

    @property
    def url(self) -> str:
        return f"smtp://{self.host}:{self.port}"

    def by_recipient(self) -> dict[str, list[Received]]:
        out: dict[str, list[Received]] = {}
        with self.lock:
            for item in self.received:
                for rcpt in item.recipients:
                    out.setdefault(rcpt.lower(), []).append(item)
        return out


class _Handler:
    def __init__(self, relay: Relay) -> None:
        self.relay = relay

    async def handle_RCPT(
        self, server: Any, session: Any, envelope: Any, address: str, rcpt_options: list[str]
    ) -> str:
        refusal = self.relay.on_rcpt(address)
        if refusal:
            return refusal
        envelope.rcpt_tos.append(address)
        return "250 OK"

    async def handle_DATA(self, server: Any, session: Any, envelope: Any) -> str:
        rcpt = envelope.rcpt_tos[0] if envelope.rcpt_tos else ""
        with self.relay.lock:
            self.relay.attempts[rcpt] = self.relay.attempts.get(rcpt, 0) + 1
        if self.relay.drop_on_data(rcpt):
            server.transport.close()
            return "421 4.4.2 connection dropped"
        refusal = self.relay.on_data(rcpt)
        if refusal:
            return refusal
        with self.relay.lock:
            self.relay.received.append(
                Received(
                    envelope.mail_from,
                    list(envelope.rcpt_tos),
                    envelope.original_content or envelope.content,
                )
            )
        return "250 2.0.0 OK queued"


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


@contextmanager
def running_relay(
    *, login: tuple[str, str] | None = None, tls_context: ssl.SSLContext | None = None
) -> Iterator[Relay]:
    """A relay on a free loopback port. ``login``: require AUTH with this user and password
    (over plain text: it is loopback). ``tls_context``: offer STARTTLS with this certificate."""
    relay = Relay(host="127.0.0.1", port=free_port())
    options: dict[str, Any] = {}
    if login is not None:

        def authenticator(
            server: Any, session: Any, envelope: Any, mechanism: str, auth_data: Any
        ) -> AuthResult:
            given = (auth_data.login.decode(), auth_data.password.decode())
            return AuthResult(success=given == login, handled=False)

        options.update(authenticator=authenticator, auth_required=True, auth_require_tls=False)
    if tls_context is not None:
        options.update(tls_context=tls_context)
    controller = Controller(
        _Handler(relay),
        hostname=relay.host,
        port=relay.port,
        data_size_limit=10_000_000,
        **options,
    )
    controller.start()
    try:
        yield relay
    finally:
        controller.stop()
