"""`digest schedule run` and `digest schedule list`: automatic sends and feed refreshes."""

from __future__ import annotations

import logging
import os
import signal
import sys
import threading
from collections.abc import Iterator
from contextlib import contextmanager
from types import FrameType

import click

from digest.cli.context import AppContext, pass_app
from digest.cli.logs import JsonFormatter, log_format_option

LOG_LEVELS = ("debug", "info", "warning", "error")
# syslog priorities, for the "<N>" prefix journald reads from a service's stderr.
_SYSLOG_PRIORITY = {"DEBUG": 7, "INFO": 6, "WARNING": 4, "ERROR": 3, "CRITICAL": 2}


class _LineFormatter(logging.Formatter):
    """`LEVEL logger: message`, no colours and no timestamp: journald and container runtimes
    stamp each line themselves. Under systemd the line also starts with the syslog priority
    ("<4>"), which journald strips and turns into the entry's level."""

    def __init__(self, journald: bool) -> None:
        super().__init__("%(levelname)s %(name)s: %(message)s")
        self.journald = journald

    def format(self, record: logging.LogRecord) -> str:
        line = super().format(record)
        if self.journald:
            return f"<{_SYSLOG_PRIORITY.get(record.levelname, 6)}>{line}"
        return line


def _stderr_is_journal() -> bool:
    """systemd sets JOURNAL_STREAM=dev:inode when stderr goes to the journal."""
    stream = os.environ.get("JOURNAL_STREAM", "")
    try:
        stat = os.fstat(sys.stderr.fileno())
    except (OSError, ValueError):
        return False
    return stream == f"{stat.st_dev}:{stat.st_ino}"


def configure_logging(level: str, log_format: str = "text") -> None:
    handler = logging.StreamHandler(sys.stderr)
    if log_format == "json":
        handler.setFormatter(JsonFormatter())
    else:
        handler.setFormatter(_LineFormatter(journald=_stderr_is_journal()))
    for name in ("digest", "apscheduler"):
        logger = logging.getLogger(name)
        logger.handlers[:] = [handler]
        logger.propagate = False
    logging.getLogger("digest").setLevel(level.upper())
    # APScheduler's own "Running job"/"executed successfully" lines duplicate ours.
    logging.getLogger("apscheduler").setLevel(
        logging.DEBUG if level == "debug" else logging.WARNING
    )


@contextmanager
def _stop_on_signals(stop: threading.Event) -> Iterator[None]:
    """SIGTERM (systemctl stop, docker stop) and SIGINT (Ctrl-C) ask for a graceful stop."""
    log = logging.getLogger("digest.schedule")

    def handler(signum: int, frame: FrameType | None) -> None:
        if not stop.is_set():
            log.info("%s received: stopping", signal.Signals(signum).name)
        stop.set()

    previous = {sig: signal.signal(sig, handler) for sig in (signal.SIGTERM, signal.SIGINT)}
    try:
        yield
    finally:
        for sig, old in previous.items():
            signal.signal(sig, old)


@click.group()
def schedule() -> None:
    """Send the digests automatically, on the schedule in digest.toml.

    \b
    Examples:
        digest schedule list                 # when each job runs next
        digest schedule run                  # in the foreground, until stopped
        digest schedule run --log-level debug
        digest schedule run --log-format json   # one JSON object per line
    """


@schedule.command("run")
@click.option(
    "--log-level",
    type=click.Choice(LOG_LEVELS, case_sensitive=False),
    default="info",
    show_default=True,
    help="Least important log lines to show.",
)
@log_format_option
@pass_app
def run(app: AppContext, log_level: str, log_format: str) -> None:
    """Run the scheduler in the foreground until SIGTERM or Ctrl-C.

    Sends the weekly and daily editions at [schedule] times and refreshes each [[feeds]]
    entry every refresh_minutes; feeds are also refreshed just before an edition is created.
    A send missed while the scheduler was down goes out when it starts, if it is at most
    max_delay_hours late; an older one is recorded as skipped. Only one scheduler runs per
    database. Logs go to stderr, one line per job start and end.

    \b
    Examples:
        digest schedule run
        digest --config /etc/digest/digest.toml schedule run --log-level warning
    """
    # digest.schedule is imported by the two commands that use it: it brings APScheduler,
    # which every other command would load for nothing (docs/performance.md, Memory).
    from digest.schedule import Runner, run_daemon, single_runner

    settings = app.settings
    # Open and migrate now, so a bad or missing database fails before the jobs start (and
    # before logging is set up: the error is one line on stderr, like every command's).
    app.core.db  # noqa: B018
    configure_logging(log_level.lower(), log_format)
    stop = threading.Event()
    with single_runner(settings), _stop_on_signals(stop):
        runner = Runner(settings, clock=app.clock, stop=stop)
        run_daemon(settings, runner, stop, on_job_done=runner.record_job_run)


@schedule.command("list")
@pass_app
def list_(app: AppContext) -> None:
    """Show when every job runs next, in the configured timezone.

    With local_time on, also the next edition's first and last send time across the
    readers' timezones.

    \b
    Example:
        digest schedule list
    """
    from digest.schedule import fmt, job_specs

    settings = app.settings
    now = app.clock()
    tz = settings.tz
    jobs = job_specs(settings)
    click.echo(
        f"Timezone: {settings.schedule.timezone}; local_time: "
        f"{'on' if settings.schedule.local_time else 'off'}; max_delay_hours: "
        f"{settings.schedule.max_delay_hours:g}"
    )
    width = max(len(job.id) for job in jobs)
    for job in jobs:
        upcoming = job.trigger.get_next_fire_time(None, now.astimezone(tz))
        when = fmt(upcoming, tz) if upcoming else "never"
        click.echo(f"{job.id:<{width}}  {when}  {job.description}")
    if not settings.schedule.local_time:
        return
    for job in jobs:
        if not job.frequency or job.kind != "send":
            continue
        edition = app.core.next_local_edition(job.frequency, now)
        if edition is None:
            click.echo(f"Next {job.frequency} edition: no active {job.frequency} subscribers")
            continue
        click.echo(
            f"Next {job.frequency} edition {edition.period} ({edition.status}): first "
            f"send {fmt(edition.first, tz)} ({edition.first_zone}), last "
            f"{fmt(edition.last, tz)} ({edition.last_zone})"
        )


COMMANDS = [schedule]
