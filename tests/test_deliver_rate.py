from __future__ import annotations

import bisect

from digest.deliver.rate import RateLimiter


class FakeTime:
    """A clock that only moves when the limiter sleeps: the test never waits."""

    def __init__(self) -> None:
        self.now = 100.0

    def clock(self) -> float:
        return self.now

    def sleep(self, seconds: float) -> None:
        self.now += seconds


def _max_in_window(times: list[float], window: float) -> int:
    return max(bisect.bisect_left(times, t + window) - i for i, t in enumerate(times))


def test_never_over_the_limit_in_any_second_and_average_on_target() -> None:
    fake = FakeTime()
    limiter = RateLimiter(200, clock=fake.clock, sleep=fake.sleep)
    times = []
    for _ in range(2000):
        limiter.acquire()
        times.append(fake.now)
    assert _max_in_window(times, 1.0) <= 200
    average = (len(times) - 1) / (times[-1] - times[0])
    assert abs(average - 200) / 200 < 0.05


def test_hourly_limit_holds_the_next_send_for_an_hour() -> None:
    fake = FakeTime()
    limiter = RateLimiter(0, per_hour=3, clock=fake.clock, sleep=fake.sleep)
    for _ in range(4):
        limiter.acquire()
    assert fake.now == 100.0 + 3600.0


def test_unlimited_never_sleeps() -> None:
    fake = FakeTime()
    limiter = RateLimiter(0, clock=fake.clock, sleep=fake.sleep)
    for _ in range(1000):
        limiter.acquire()
    assert fake.now == 100.0


def test_late_callers_do_not_lower_the_average() -> None:
    """Senders that come back late (a slow SMTP reply) catch up within the window cap, so
    the average stays at the limit."""
    fake = FakeTime()
    limiter = RateLimiter(200, clock=fake.clock, sleep=fake.sleep)
    times = []
    for i in range(2000):
        if i % 10 == 0:
            fake.now += 0.02  # every tenth message the sender was busy for 20 ms
        limiter.acquire()
        times.append(fake.now)
    assert _max_in_window(times, 1.0) <= 200
    average = (len(times) - 1) / (times[-1] - times[0])
    assert abs(average - 200) / 200 < 0.05
