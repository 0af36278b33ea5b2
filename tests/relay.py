"""A real SMTP server on loopback for tests: aiosmtpd, started by the test, recording every
message it accepts. Behaviours (reject some addresses, answer 4xx first, drop the connection,
reject everything) are set per test.

Tests never poll it: ``wait_for_count`` sleeps on a condition the relay notifies with each
message, and ``hold_from`` keeps the sender mid-message (its DATA accepted, the reply held
back) until the test calls ``release``, so a signal can land at a known point of a send."""

from __future__ import annotations

import asyncio
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
    # Hold the reply to the n-th accepted message (1-based) and to every one after it.
    hold_from: int | None = None
    held: int = 0  # replies being held back right now
    # Answer each DATA this many seconds late: a slow relay, well within the client timeout.
    reply_delay: float = 0.0
    changed: threading.Condition = field(init=False)
    _accepted: int = field(default=0, init=False)
    _release: asyncio.Event = field(default_factory=asyncio.Event, init=False)
    _loop: asyncio.AbstractEventLoop | None = field(default=None, init=False)
    _controller: Any = field(default=None, init=False)

    def __post_init__(self) -> None:
        self.changed = threading.Condition(self.lock)

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

    def wait_for_count(self, count: int, timeout: float = 30.0) -> list[Received]:
        """Block until the relay has accepted ``count`` messages; return them. The timeout
        is only a safety net: reaching it fails the test."""
        with self.changed:
            if not self.changed.wait_for(lambda: len(self.received) >= count, timeout):
                raise AssertionError(
                    f"relay: expected {count} message(s), got {len(self.received)} "
                    f"after {timeout:g} s"
                )
            return list(self.received)

    def wait_for_held(self, count: int, timeout: float = 30.0) -> None:
        """Block until ``count`` senders are waiting for the reply to their message (see
        ``hold_from``): each is provably mid-message. Timeout: as for ``wait_for_count``."""
        with self.changed:
            if not self.changed.wait_for(lambda: self.held >= count, timeout):
                raise AssertionError(
                    f"relay: expected {count} held message(s), got {self.held} "
                    f"after {timeout:g} s ({len(self.received)} accepted)"
                )

    def stop(self) -> None:
        """Kill the relay now: connections (held replies too) are cut, never answered, and
        new ones are refused. Idempotent."""
        controller, self._controller = self._controller, None
        if controller is not None:
            controller.stop()

    def release(self) -> None:
        """Answer every held message (250) and stop holding."""
        with self.lock:
            self.hold_from = None
        if self._loop is not None and not self._loop.is_closed():
            self._loop.call_soon_threadsafe(self._release.set)


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
        relay = self.relay
        with relay.changed:
            relay.received.append(
                Received(
                    envelope.mail_from,
                    list(envelope.rcpt_tos),
                    envelope.original_content or envelope.content,
                )
            )
            relay._accepted += 1
            hold = relay.hold_from is not None and relay._accepted >= relay.hold_from
            if hold:
                relay.held += 1
            relay.changed.notify_all()
        if relay.reply_delay:
            await asyncio.sleep(relay.reply_delay)
        if hold:
            # Accepted (recorded above) but not yet answered: the worst moment for the
            # sender to die, since it cannot know the relay has the message.
            try:
                await relay._release.wait()
            finally:
                with relay.changed:
                    relay.held -= 1
                    relay.changed.notify_all()
        return "250 2.0.0 OK queued"


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


@contextmanager
def running_relay(
    *,
    login: tuple[str, str] | None = None,
    tls_context: ssl.SSLContext | None = None,
    smtputf8: bool = False,
) -> Iterator[Relay]:
    """A relay on a free loopback port. ``login``: require AUTH with this user and password
    (over plain text: it is loopback). ``tls_context``: offer STARTTLS with this certificate.
    ``smtputf8``: offer SMTPUTF8 (RFC 6531), so non-ASCII local parts can be sent."""
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
        enable_SMTPUTF8=smtputf8,
        **options,
    )
    controller.start()
    relay._loop = controller.loop
    relay._controller = controller
    try:
        yield relay
    finally:
        if relay._controller is not None:
            relay.release()
        relay.stop()
