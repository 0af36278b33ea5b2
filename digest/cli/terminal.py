"""The bar itself: rich's Progress with count, rate and time left, told of advances at
most every UPDATE_SECONDS. Imported only when a bar is drawn (digest/cli/progress.py):
rich costs a few hundred milliseconds to import, which no piped command should pay.
"""

from __future__ import annotations

from time import monotonic

from rich.console import Console
from rich.progress import (
    BarColumn,
    MofNCompleteColumn,
    ProgressColumn,
    Task,
    TaskID,
    TextColumn,
    TimeRemainingColumn,
)
from rich.progress import Progress as RichProgress
from rich.text import Text

# The core may call advance() once a row; the bar hears of it at most this often, so a
# million rows cost a million additions and a few hundred lock-taking updates.
UPDATE_SECONDS = 0.1
# How often rich redraws the line: "a few times a second" (issue 15).
REFRESH_PER_SECOND = 4


class RateColumn(ProgressColumn):
    """Steps a second, as counted by rich over its recent samples."""

    def render(self, task: Task) -> Text:
        speed = task.finished_speed or task.speed
        return Text(f"{speed:,.0f}/s" if speed else "-/s", style="progress.data.speed")


class TerminalProgress:
    """A rich bar with count, rate and time left (a live count when the total is unknown).
    Use as a context manager: it owns the live display until the block ends."""

    def __init__(self, console: Console, *, update_seconds: float = UPDATE_SECONDS) -> None:
        self._bar = RichProgress(
            TextColumn("{task.description}"),
            BarColumn(),
            MofNCompleteColumn(),
            RateColumn(),
            TimeRemainingColumn(),
            console=console,
            refresh_per_second=REFRESH_PER_SECOND,
        )
        self._update_seconds = update_seconds
        self._task: TaskID | None = None
        self._pending = 0
        self._last = 0.0

    def __enter__(self) -> TerminalProgress:
        self._bar.start()
        return self

    def __exit__(self, *exc: object) -> None:
        self.done()
        self._bar.stop()

    @property
    def completed(self) -> float:
        """How far the bar shows the current (or last) phase: what has reached rich."""
        tasks = self._bar.tasks
        return tasks[-1].completed if tasks else 0

    def start(self, total: int | None, label: str) -> None:
        self.done()
        self._task = self._bar.add_task(label, total=total)
        self._last = monotonic()

    def advance(self, n: int = 1) -> None:
        self._pending += n
        now = monotonic()
        if now - self._last >= self._update_seconds:
            self._flush(now)

    def done(self) -> None:
        task = self._task
        if task is None:
            return
        self._flush(monotonic())
        if self._bar.tasks[task].total is None:  # show the unknown total as reached
            self._bar.update(task, total=self._bar.tasks[task].completed)
        self._bar.stop_task(task)
        self._bar.refresh()
        self._task = None

    def _flush(self, now: float) -> None:
        if self._task is not None and self._pending:
            self._bar.update(self._task, advance=self._pending)
        self._pending = 0
        self._last = now
