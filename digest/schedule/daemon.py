"""Keeping it going: the jobs, APScheduler 3 running them, a retry after a failure, a lock
so only one scheduler runs against a database, and a graceful stop."""

from __future__ import annotations

import fcntl
import logging
import os
import threading
import time as monotime
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import TypeVar

from apscheduler.events import EVENT_JOB_EXECUTED
from apscheduler.schedulers.background import BackgroundScheduler
from apscheduler.triggers.base import BaseTrigger
from apscheduler.triggers.cron import CronTrigger
from apscheduler.triggers.interval import IntervalTrigger

from digest.bounces import ImportReport
from digest.config import FeedSettings, Settings
from digest.errors import DigestError, SchedulerLockedError, SendLockedError
from digest.models import FREQUENCIES, UpsertCounts
from digest.schedule.runner import Runner, SendRun, WebhookRun
from digest.timing import SendSpec, fmt, tick_minutes

# One logger for the whole package, as before the split: operators filter on it and the
# daemon tests match its lines.
log = logging.getLogger("digest.schedule")
T = TypeVar("T")

# After a failure (relay down, another process sending the edition) the send job runs again.
RETRY_AFTER = timedelta(minutes=5)
# With approval required: how often the desk job looks for a draft to prepare or a held
# edition that was approved meanwhile.
DESK_MINUTES = 5
# Feed refreshes are aligned to this moment so `digest schedule list` can tell when they run.
FEED_ANCHOR = datetime(2024, 1, 1)

# Called after every job run with the job's id ("send-daily", "retry-daily", "feed-1") and
# what the run did: the SendRun of a send job, the counts of a feed refresh, None when the job
# did nothing (the scheduler is stopping, or a refresh failed). Called once APScheduler counts
# the run as finished, so the job can fire again. For tests, logging and metrics; it runs on
# a scheduler thread and must not block.
JobDone = Callable[[str, SendRun | UpsertCounts | WebhookRun | ImportReport | None], None]
# How often the scheduler posts due webhook events (digest.app.webhooks); `digest serve`
# does it too, every few seconds, and rows are claimed, so both may run.
WEBHOOKS_EVERY = timedelta(minutes=1)


@dataclass(frozen=True)
class JobSpec:
    """One scheduler job: a send job (``frequency``) or a feed refresh (``feed``)."""

    id: str
    description: str
    trigger: BaseTrigger
    frequency: str = ""
    feed: FeedSettings | None = None
    kind: str = "send"  # send, desk (approval on) or feed


def job_specs(settings: Settings) -> list[JobSpec]:
    """The jobs `digest schedule run` runs and `digest schedule list` shows."""
    s = settings.schedule
    jobs: list[JobSpec] = []
    for frequency in FREQUENCIES:
        spec = SendSpec.from_settings(settings, frequency)
        trigger: BaseTrigger
        # Weekly readers may each choose their day: the weekly job runs every day and sends
        # the editions of the days that have come (Runner.send_due decides).
        days = "" if spec.weekday is None else f" (readers' own day; default {s.weekly_day})"
        hhmm = f"{spec.hour:02d}:{spec.minute:02d}"
        if s.local_time:
            # A tick at every quarter hour some timezone reaches the send time; each tick
            # sends to the readers whose local time has come (Runner.send_due decides).
            trigger = CronTrigger(minute=tick_minutes(spec), timezone=UTC)
            what = f"{frequency} digest at {hhmm} in each reader's timezone{days}"
        else:
            trigger = CronTrigger(hour=spec.hour, minute=spec.minute, timezone=settings.tz)
            what = f"{frequency} digest at {hhmm} {s.timezone}{days}"
        jobs.append(JobSpec(f"send-{frequency}", what, trigger, frequency=frequency))
    if s.approval == "required":
        for frequency in FREQUENCIES:
            jobs.append(
                JobSpec(
                    f"desk-{frequency}",
                    f"{frequency}: prepare the draft {s.prepare_hours_before:g} h before the "
                    "send, send a held edition once approved (every 5 min)",
                    IntervalTrigger(minutes=DESK_MINUTES, timezone=UTC),
                    frequency=frequency,
                    kind="desk",
                )
            )
    for i, feed in enumerate(settings.feeds, 1):
        if feed.refresh_minutes < 1:
            raise DigestError(
                f"feeds[{i - 1}].refresh_minutes: expected at least 1, got {feed.refresh_minutes}"
            )
        # Anchored, so refreshes fall on predictable times (every 60 min: on the hour).
        trigger = IntervalTrigger(
            minutes=feed.refresh_minutes,
            start_date=FEED_ANCHOR.replace(tzinfo=settings.tz),
            timezone=settings.tz,
        )
        jobs.append(
            JobSpec(
                f"feed-{i}",
                f"refresh {feed.url} every {feed.refresh_minutes} min",
                trigger,
                feed=feed,
            )
        )
    return jobs


def run_send_job(runner: Runner, frequency: str, *, desk: bool = False) -> SendRun | None:
    """One run of a send job (or, with ``desk``, of the approval job), logged as one start
    and one end line. Never raises: a failure is logged and the returned run asks for a
    retry."""
    if runner.stop.is_set():
        return None
    job = f"{'desk' if desk else 'send'}-{frequency}"
    retry_note = f"; retrying in {RETRY_AFTER.seconds // 60} min"
    log.info("job %s start", job)
    started = monotime.monotonic()
    try:
        run = runner.desk_due(frequency) if desk else runner.send_due(frequency)
    except SendLockedError as e:
        # An editor's `digest send` (or another host) is sending this edition right now.
        log.warning("job %s end: %s%s", job, e, retry_note)
        return SendRun(frequency, retry=True)
    except DigestError as e:
        log.error("job %s end: %s%s", job, e, retry_note)
        return SendRun(frequency, retry=True)
    except Exception as e:  # keep the daemon alive; the traceback is for a bug report
        log.exception("job %s end: unexpected error: %s%s", job, e, retry_note)
        return SendRun(frequency, retry=True)
    elapsed = monotime.monotonic() - started
    failed = run.retry or run.failed or run.bounced or run.deferred
    log.log(
        logging.WARNING if failed else logging.INFO,
        "job %s end: %s (%.1f s)%s",
        job,
        run.summary(),
        elapsed,
        retry_note if run.retry else "",
    )
    return run


def run_feed_job(runner: Runner, job: str, feed: FeedSettings) -> UpsertCounts | None:
    """One feed refresh, logged as one start and one end line. Never raises."""
    if runner.stop.is_set():
        return None
    return _logged(
        job,
        feed.url,
        lambda: runner.refresh_feed(feed),
        lambda c: f"added={c.added} updated={c.updated} unchanged={c.unchanged}",
    )


def _logged(job: str, start: str, work: Callable[[], T], describe: Callable[[T], str]) -> T | None:
    """Run one job's ``work`` between a start and an end log line; a failure is logged
    (a DigestError as a warning, anything else with its traceback) and gives None."""
    log.info("job %s start: %s", job, start)
    try:
        result = work()
    except DigestError as e:
        log.warning("job %s end: %s", job, e)
        return None
    except Exception as e:
        log.exception("job %s end: unexpected error: %s", job, e)
        return None
    log.info("job %s end: %s", job, describe(result))
    return result


def run_webhooks_job(runner: Runner) -> WebhookRun | None:
    """Post the webhook events that are due; logs only when there were some. Never raises."""
    if runner.stop.is_set():
        return None
    try:
        run = runner.deliver_webhooks()
    except Exception as e:
        log.exception("job webhooks end: unexpected error: %s", e)
        return None
    if run.delivered or run.retrying or run.given_up:
        log.info("job webhooks end: %s", run.summary())
    return run


BOUNCES_JOB = "bounces"


def run_bounces_job(runner: Runner) -> ImportReport | None:
    """One fetch of the bounce mailbox, logged as one start and one end line. Never raises."""
    if runner.stop.is_set():
        return None
    return _logged(
        BOUNCES_JOB,
        runner.settings.bounces.imap_url,
        runner.fetch_bounces,
        lambda r: (
            f"{r.messages} messages, {r.hard} hard, {r.soft} soft, "
            f"{r.complaints} complaints, {len(r.unrecognised)} unrecognised"
        ),
    )


def run_daemon(
    settings: Settings,
    runner: Runner,
    stop: threading.Event,
    on_job_done: JobDone | None = None,
) -> None:
    """Run every job until ``stop`` is set, then wait for running jobs to reach a safe point
    (a send stops at the next message boundary) and return. ``on_job_done``: see JobDone.

    misfire_grace_time=None: APScheduler always runs a late job (after a suspend, or while
    another job held the worker), and ``send_due`` itself decides from max_delay_hours whether
    it is still worth sending. Each send job also runs once at start for the same reason."""
    scheduler = BackgroundScheduler(
        timezone=settings.tz,
        job_defaults={"coalesce": True, "max_instances": 1, "misfire_grace_time": None},
    )

    def send_job(frequency: str) -> SendRun | None:
        run = run_send_job(runner, frequency)
        if run is not None and run.retry and not stop.is_set():
            scheduler.add_job(
                send_job,
                "date",
                args=[frequency],
                id=f"retry-{frequency}",
                run_date=datetime.now(UTC) + RETRY_AFTER,
                replace_existing=True,
            )
        return run

    if on_job_done is not None:
        hook = on_job_done
        scheduler.add_listener(lambda event: hook(event.job_id, event.retval), EVENT_JOB_EXECUTED)

    now = datetime.now(settings.tz)
    s = settings.schedule
    log.info(
        "scheduler starting: database %s, timezone %s, local_time %s, max_delay_hours %g",
        settings.db_path,
        s.timezone,
        "on" if s.local_time else "off",
        s.max_delay_hours,
    )
    for job in job_specs(settings):
        upcoming = job.trigger.get_next_fire_time(None, now)
        log.info(
            "job %s: %s; next %s",
            job.id,
            job.description,
            fmt(upcoming, settings.tz) if upcoming else "never",
        )
        if job.feed is not None:
            scheduler.add_job(
                run_feed_job,
                job.trigger,
                args=[runner, job.id, job.feed],
                id=job.id,
                name=job.description,
                next_run_time=now,
            )
        elif job.kind == "desk":
            scheduler.add_job(
                run_send_job,
                job.trigger,
                args=[runner, job.frequency],
                kwargs={"desk": True},
                id=job.id,
                name=job.description,
                next_run_time=now,
            )
        else:
            scheduler.add_job(
                send_job,
                job.trigger,
                args=[job.frequency],
                id=job.id,
                name=job.description,
                next_run_time=now,
            )
    scheduler.add_job(
        run_webhooks_job,
        IntervalTrigger(seconds=WEBHOOKS_EVERY.total_seconds()),
        args=[runner],
        id="webhooks",
        name="post due webhook events",
        next_run_time=now,
    )

    if settings.bounces.imap_url:
        minutes = settings.bounces.fetch_minutes
        log.info("job %s: fetch the bounce mailbox every %d min", BOUNCES_JOB, minutes)
        scheduler.add_job(
            run_bounces_job,
            IntervalTrigger(minutes=minutes),
            args=[runner],
            id=BOUNCES_JOB,
            name="fetch the bounce mailbox",
            next_run_time=now,
        )
    scheduler.start()
    try:
        while not stop.wait(0.5):
            pass
    finally:
        log.info("stopping: waiting for running jobs to reach a safe point")
        stop.set()
        scheduler.shutdown(wait=True)
    log.info("stopped")


def lock_path(settings: Settings) -> Path:
    return Path(f"{settings.db_path}.schedule.lock")


@contextmanager
def single_runner(settings: Settings) -> Iterator[Path]:
    """Hold an exclusive flock on a file next to the database for as long as the scheduler
    runs. The OS releases it when the process dies, however it dies, so there is nothing stale
    to clean up; the file itself stays (deleting it would race with the next runner)."""
    path = lock_path(settings)
    fd = os.open(path, os.O_RDWR | os.O_CREAT, 0o644)
    try:
        fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
    except BlockingIOError:
        holder = os.read(fd, 64).decode("ascii", "replace").strip() or "unknown"
        os.close(fd)
        raise SchedulerLockedError(
            f"another `digest schedule run` (pid {holder}) is already running against "
            f"{settings.db_path}; stop it first (lock file {path})"
        ) from None
    try:
        os.ftruncate(fd, 0)
        os.write(fd, f"{os.getpid()}\n".encode())
        yield path
    finally:
        os.close(fd)
