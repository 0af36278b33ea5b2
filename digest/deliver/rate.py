"""A rate limiter that is never over its limit in any window, shared by the sender threads."""

from __future__ import annotations

import threading
import time
from collections import deque
from collections.abc import Callable

# The limiter times the start of each SMTP transaction; the relay counts acceptances, which
# come a little later and jitter by a few milliseconds. Pacing 2% under the limit keeps the
# relay's view of any one-second window under it too (measured: bench/RESULTS.md, section 6).
HEADROOM = 0.02


class RateLimiter:
    """At most ``per_second`` sends in any one-second window and ``per_hour`` in any hour
    (0 = unlimited), with sends spaced evenly (2% under the limit, see HEADROOM) so the
    average is the limit, not a burst and a pause. ``clock`` and ``sleep`` are injectable
    for tests."""

    def __init__(
        self,
        per_second: float = 0.0,
        per_hour: int = 0,
        *,
        clock: Callable[[], float] = time.monotonic,
        sleep: Callable[[float], None] = time.sleep,
    ) -> None:
        self.per_second = per_second
        self.per_hour = per_hour
        self._pace = per_second * (1 - HEADROOM)
        self._clock = clock
        self._sleep = sleep
        self._lock = threading.Lock()
        self._next = 0.0
        self._second: deque[float] = deque()
        self._hour: deque[float] = deque()

    @property
    def unlimited(self) -> bool:
        return self.per_second <= 0 and self.per_hour <= 0

    def acquire(self) -> None:
        """Block until one more send is allowed, then count it."""
        if self.unlimited:
            return
        with self._lock:
            # Holding the lock while sleeping serialises the waiters, which is the point:
            # each takes the next slot in turn.
            while True:
                now = self._clock()
                wait = self._wait(now)
                if wait <= 0:
                    break
                self._sleep(wait)
            self._record(now)

    def _wait(self, now: float) -> float:
        waits = [self._next - now]
        if self.per_second > 0:
            while self._second and now - self._second[0] >= 1.0:
                self._second.popleft()
            # Whole messages per window; a fractional limit such as 0.5/s is handled by spacing.
            if len(self._second) >= max(1, int(self._pace)):
                waits.append(self._second[0] + 1.0 - now)
        if self.per_hour > 0:
            while self._hour and now - self._hour[0] >= 3600.0:
                self._hour.popleft()
            if len(self._hour) >= self.per_hour:
                waits.append(self._hour[0] + 3600.0 - now)
        return max(waits)

    def _record(self, now: float) -> None:
        if self.per_second > 0:
            self._second.append(now)
            # An absolute schedule: a sender that comes late does not push every later slot
            # back, so the average holds at the limit; the one-second window above caps the
            # catch-up. Only a long stall (a second behind) restarts the schedule from now.
            interval = 1.0 / self._pace
            self._next = (self._next if now - self._next < 1.0 else now) + interval
        if self.per_hour > 0:
            self._hour.append(now)
