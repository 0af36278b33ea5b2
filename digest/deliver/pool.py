"""A pool of relays: messages spread by weight, a relay that fails taken out, the others on.

One :class:`RelayPool` per process (its state outlives a send: a relay taken out stays out
for its back-off, whoever sends next); each sender thread gets a :class:`PooledTransport`
over it, with its own connection to each relay it uses.

Per message, the pool picks the relay with smooth weighted round robin (nginx's: over any
run of sends each relay's share is its weight's) among the relays that are in (not backed
off, not stopped, under their connection cap and hourly limit). Then:

- Accepted: that relay's failure counts go back to zero.
- The relay could not be reached, dropped the connection or answered 421 (it is closing):
  a strike; ``failures_before_backoff`` strikes in a row take it out for
  ``backoff_seconds``. The message is tried at once on another relay. (A connection
  dropped after DATA may have been accepted: that message may arrive twice, the same
  in-flight bound as with one relay, and with the same Message-ID.)
- Any other 5xx that is no mailbox verdict (a refusal of the sender, x.7.x, relaying
  denied, a plain 554...): the message gets a second opinion from another relay, so a relay
  that refuses everything fails nobody. ``max_consecutive`` such answers in a row, with
  no acceptance between, stop that relay for the rest of the process; the pool never stops
  its last relay (the send loop's own stop applies then, and leaves the readers pending).
- A message this relay cannot carry (a non-ASCII address and no SMTPUTF8): tried on the
  others.
- A mailbox verdict (5.1.x), a reader's 4xx (greylisting, mailbox busy): that reader's,
  returned as it is.

Every result says which relay gave it (``SendResult.relay``), which the send records with
the delivery.
"""

from __future__ import annotations

import dataclasses
import threading
import time
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field

from digest.config import RelaySettings, Settings, SmtpUrl
from digest.deliver.rate import RateLimiter
from digest.deliver.smtp import SendResult, SmtpTransport, Transport
from digest.errors import DeliveryError
from digest.models import OutgoingMessage, ResultKind

# Answers that mean "this relay, not this reader": try another relay.
_RELAY_DOWN_CODES = (0, 421)
_SECOND_OPINION = (ResultKind.REFUSED, ResultKind.PERMANENT)


@dataclass
class PoolRelay:
    """One relay of the pool and what the pool knows about it."""

    name: str
    url: SmtpUrl
    weight: int
    concurrency: int  # 0: no cap of its own
    limiter: RateLimiter
    current: int = 0  # smooth weighted round robin
    in_use: int = 0
    strikes: int = 0  # unreachable / dropped / 421 in a row
    refusals: int = 0  # 5xx (not mailbox verdicts) in a row
    out_until: float = 0.0
    stopped: str = ""
    hour: list[float] = field(default_factory=list)

    def usable(self, now: float) -> bool:
        return not self.stopped and now >= self.out_until


class RelayPool:
    """The relays and their state, shared by every sender thread of the process."""

    def __init__(
        self,
        relays: Sequence[RelaySettings],
        *,
        timeout: float = 30.0,
        failures_before_backoff: int = 3,
        backoff_seconds: float = 60.0,
        max_consecutive: int = 20,
        clock: Callable[[], float] = time.monotonic,
    ) -> None:
        if not relays:
            raise ValueError("a relay pool needs at least one relay")
        self.relays = [
            PoolRelay(
                name=r.label,
                url=r.parsed,
                weight=r.weight,
                concurrency=r.concurrency,
                limiter=RateLimiter(r.rate, r.hourly_limit),
            )
            for r in relays
        ]
        self.timeout = timeout
        self.failures_before_backoff = failures_before_backoff
        self.backoff_seconds = backoff_seconds
        self.max_consecutive = max_consecutive
        self.clock = clock
        self._changed = threading.Condition()
        self._notes: list[str] = []

    @classmethod
    def from_settings(cls, settings: Settings) -> RelayPool:
        smtp = settings.smtp
        return cls(
            smtp.pool,
            timeout=smtp.timeout,
            failures_before_backoff=smtp.failures_before_backoff,
            backoff_seconds=smtp.backoff_seconds,
            max_consecutive=settings.sending.max_consecutive_failures,
        )

    @property
    def size(self) -> int:
        return len(self.relays)

    def notes(self) -> list[str]:
        """What happened to relays so far (taken out, stopped), oldest first; a send reports
        the ones that came during it."""
        with self._changed:
            return list(self._notes)

    def take(self, exclude: set[str]) -> PoolRelay | None:
        """The next relay for a message (counted in use until :meth:`done`), waiting while
        every candidate is at its connection cap; None when no relay outside ``exclude`` is
        in."""
        with self._changed:
            while True:
                now = self.clock()
                candidates = [
                    r
                    for r in self.relays
                    if r.name not in exclude and r.usable(now) and not _hour_full(r, now)
                ]
                if not candidates:
                    return None
                free = [r for r in candidates if not r.concurrency or r.in_use < r.concurrency]
                if free:
                    total = sum(r.weight for r in free)
                    for r in free:
                        r.current += r.weight
                    best = max(free, key=lambda r: r.current)
                    best.current -= total
                    best.in_use += 1
                    if best.limiter.per_hour:
                        best.hour.append(now)
                    return best
                self._changed.wait(timeout=1.0)

    def done(self, relay: PoolRelay, result: SendResult | None, error: str = "") -> str:
        """Count one answer from ``relay``: 'retry' when the message should go to another
        relay, else 'keep'. ``result`` None: the relay refused our login or TLS (``error``),
        which stops it, unless it is the last relay in ('' then: the send stops)."""
        with self._changed:
            relay.in_use -= 1
            self._changed.notify_all()
            now = self.clock()
            others_in = any(r is not relay and r.usable(now) for r in self.relays)
            if result is None:
                if not others_in:
                    return ""
                self._stop(relay, error)
                return "retry"
            if result.kind == ResultKind.SENT:
                relay.strikes = relay.refusals = 0
                return "keep"
            if result.kind == ResultKind.TRANSIENT and result.code in _RELAY_DOWN_CODES:
                relay.strikes += 1
                # The last relay in is never taken out: with nowhere else to go, the send
                # loop's own retries and back-off apply, as with a single relay.
                if relay.strikes >= self.failures_before_backoff and others_in:
                    relay.strikes = 0
                    relay.out_until = now + self.backoff_seconds
                    self._notes.append(
                        f"relay {relay.name}: taken out for {self.backoff_seconds:g} s after "
                        f"{self.failures_before_backoff} failures in a row (last: "
                        f"{_reply(result)})"
                    )
                return "retry"
            if result.kind == ResultKind.UNDELIVERABLE:
                return "retry"  # this relay cannot carry it (no SMTPUTF8); another may
            if result.kind in _SECOND_OPINION:
                relay.refusals += 1
                if relay.refusals >= self.max_consecutive and others_in:
                    self._stop(
                        relay,
                        f"answered {relay.refusals} messages in a row with a refusal "
                        f"(last: {_reply(result)})",
                    )
                return "retry"
            return "keep"

    def _stop(self, relay: PoolRelay, why: str) -> None:
        if not relay.stopped:
            relay.stopped = why or "stopped"
            self._notes.append(f"relay {relay.name}: stopped: {relay.stopped}")

    def unavailable(self) -> str:
        """Why no relay could be had, for the reply of a message that could not go out."""
        with self._changed:
            return self._unavailable()

    def _unavailable(self) -> str:
        now = self.clock()
        parts = []
        for r in self.relays:
            if r.stopped:
                parts.append(f"{r.name} stopped")
            elif now < r.out_until:
                parts.append(f"{r.name} out for {r.out_until - now:.0f} s")
            elif _hour_full(r, now):
                parts.append(f"{r.name} at its hourly limit")
        return "no relay available: " + (", ".join(parts) or "all tried")


def _hour_full(relay: PoolRelay, now: float) -> bool:
    limit = relay.limiter.per_hour
    if not limit:
        return False
    relay.hour[:] = [t for t in relay.hour if now - t < 3600.0]
    return len(relay.hour) >= limit


def _reply(result: SendResult) -> str:
    return f"{result.code} {result.reply}".strip()


class PooledTransport:
    """A :class:`Transport` over the pool for one sender thread: one connection a relay."""

    def __init__(self, pool: RelayPool) -> None:
        self.pool = pool
        self._conns: dict[str, SmtpTransport] = {}

    def send(self, message: OutgoingMessage) -> SendResult:
        tried: set[str] = set()
        last: SendResult | None = None
        pool = self.pool
        while True:
            relay = pool.take(tried)
            if relay is None:
                if last is not None:
                    return last
                return SendResult(ResultKind.TRANSIENT, 0, pool.unavailable())
            tried.add(relay.name)
            relay.limiter.acquire()
            conn = self._conns.get(relay.name)
            if conn is None:
                conn = self._conns[relay.name] = SmtpTransport(relay.url, timeout=pool.timeout)
            try:
                result = conn.send(message)
            except DeliveryError as e:  # login or TLS refused: this relay is misconfigured
                if not pool.done(relay, None, str(e)):
                    raise  # the pool's last relay: the send stops, as with one relay
                continue
            result = dataclasses.replace(result, relay=relay.name)
            if pool.done(relay, result) == "keep":
                return result
            last = result

    def close(self) -> None:
        conns, self._conns = self._conns, {}
        for conn in conns.values():
            conn.close()


class PoolTransports:
    """A transport factory over one pool: each call is a new sender thread's transport."""

    def __init__(self, pool: RelayPool) -> None:
        self.pool = pool

    def __call__(self) -> Transport:
        return PooledTransport(self.pool)
