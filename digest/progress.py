"""How a long use case reports how far it is, without printing anything itself.

The core is handed a :class:`Progress` (the CLI passes a terminal bar, everything else the
no-op :data:`NO_PROGRESS`) and calls it as it goes: ``start`` once per phase, ``advance``
as often as once per row, ``done`` at the end of the phase. An implementation must keep
``advance`` cheap (a counter and a clock read): it is on the import and send hot paths.
"""

from __future__ import annotations

from collections.abc import Iterable, Iterator
from typing import Protocol, TypeVar

T = TypeVar("T")


class Progress(Protocol):
    def start(self, total: int | None, label: str) -> None:
        """A new phase of ``total`` steps (None: unknown, a live count without time left)."""

    def advance(self, n: int = 1) -> None:
        """``n`` more steps of the current phase are done."""

    def done(self) -> None:
        """The current phase is over (whatever the count reached)."""


class NoProgress:
    """Reports nothing: the default for the scheduler, the web and scripts."""

    def start(self, total: int | None, label: str) -> None:
        pass

    def advance(self, n: int = 1) -> None:
        pass

    def done(self) -> None:
        pass


NO_PROGRESS: Progress = NoProgress()


def counted(items: Iterable[T], progress: Progress) -> Iterator[T]:
    """``items`` unchanged, advancing ``progress`` by one for each as it is taken."""
    advance = progress.advance
    for item in items:
        yield item
        advance()
