"""Progress bars for long commands: on a terminal only, never in --json or --quiet output.

The core reports through :class:`digest.progress.Progress`; this module supplies the one
that draws. The bar goes to stderr, so stdout carries only the command's result (an export
to stdout stays a clean file); it is drawn only when stdout and stderr are both terminals,
so a command piped or redirected, or run by cron, prints exactly what it printed before.
"""

from __future__ import annotations

import sys
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from typing import Any, TypeVar

import click

from digest.progress import NO_PROGRESS, Progress

F = TypeVar("F", bound=Callable[..., Any])

quiet_option: Callable[[F], F] = click.option(
    "--quiet", "-q", is_flag=True, help="No progress bar (one is shown only on a terminal)."
)


def wants_progress(*, quiet: bool, as_json: bool = False) -> bool:
    """Draw only for a person watching: both streams on a terminal, neither flag given."""
    if quiet or as_json:
        return False
    return sys.stdout.isatty() and sys.stderr.isatty()


@contextmanager
def progress_bar(*, quiet: bool, as_json: bool = False) -> Iterator[Progress]:
    """A terminal bar when :func:`wants_progress`, else the core's no-op."""
    if not wants_progress(quiet=quiet, as_json=as_json):
        yield NO_PROGRESS
        return
    # Here, not at the top: only a command that draws pays for importing rich.
    from rich.console import Console

    from digest.cli.terminal import TerminalProgress

    with TerminalProgress(Console(stderr=True)) as bar:
        yield bar
