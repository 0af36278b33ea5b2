"""Automatic sends: `digest schedule run` keeps the weekly and daily editions and the feed
refreshes going, calling the same library functions as `digest send` and
`digest articles import`.

Three layers, each testable on its own:

* *When* (:mod:`digest.timing`, pure functions of a ``SendSpec``, a timezone and a
  moment): the send time of a send day in a timezone, the latest send day reached, the next
  send time, the period a send day belongs to.
* *What* (``App.send_due`` in :mod:`digest.app.scheduled`, reached through
  :class:`~digest.schedule.runner.Runner`): given the clock, which
  editions are due, which deliveries are due, late or missed, and the one call to
  ``App.send`` that sends them.
* *Keeping it going* (:mod:`~digest.schedule.daemon`, ``run_daemon``): APScheduler 3 jobs, a
  retry after a failure, a lock so only one scheduler runs against a database, and a graceful
  stop.

``App.next_local_edition`` answers `digest schedule list`: when the next edition goes out.

Period identity. An edition is one frequency for one period: an ISO week ('2026-W49') or a
date ('2026-11-30'). The scheduler names the period by the *send day*, the calendar date on
which the digest goes out (a ``weekly_day`` for weekly). With local-time delivery every reader
gets the digest on that same calendar date in their own timezone, so the label is the same for
all of them however far apart their clocks are: a reader in Pacific/Kiritimati (+14) receives
Monday's 08:00 digest while it is still Sunday in UTC, and it is still the edition of the week
containing that Monday. The edition is created (and its cutoff fixed) when the first reader's
send time arrives; later timezones receive the same edition when theirs does.
"""

from __future__ import annotations

from digest.models import FREQUENCIES
from digest.schedule.daemon import (
    FEED_ANCHOR,
    RETRY_AFTER,
    JobSpec,
    job_specs,
    lock_path,
    run_daemon,
    run_feed_job,
    run_send_job,
    single_runner,
)
from digest.schedule.runner import Runner, SendRun
from digest.timing import (
    EARLIEST_ZONE,
    LATEST_ZONE,
    SendSpec,
    candidate_days,
    delivery_state,
    edition_period,
    fmt,
    latest_send_day,
    next_send_time,
    previous_send_day,
    reader_zone,
    send_time,
    send_zones,
    tick_minutes,
)

__all__ = [
    "EARLIEST_ZONE",
    "FEED_ANCHOR",
    "FREQUENCIES",
    "LATEST_ZONE",
    "RETRY_AFTER",
    "JobSpec",
    "Runner",
    "SendRun",
    "SendSpec",
    "candidate_days",
    "delivery_state",
    "edition_period",
    "fmt",
    "job_specs",
    "latest_send_day",
    "lock_path",
    "next_send_time",
    "previous_send_day",
    "reader_zone",
    "run_daemon",
    "run_feed_job",
    "run_send_job",
    "send_time",
    "send_zones",
    "single_runner",
    "tick_minutes",
]
