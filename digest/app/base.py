"""What every use case stands on: the settings, the store, the transports and the clock.

The use cases are grouped by subject in the modules beside this one, each a mixin over
:class:`AppBase`; :class:`digest.app.App` puts them together. All of them reach the
database through ``self.db`` (this thread's connection) and the time through ``self.now()``,
so tests pass a frozen clock and a real SQLite file, and nothing is global.
"""

from __future__ import annotations

import sqlite3
from collections.abc import Callable
from datetime import datetime

import sqlite_utils

from digest.clock import Clock, system_clock
from digest.config import Settings
from digest.deliver.smtp import SmtpTransport, Transport
from digest.errors import TemplateError
from digest.links import Links
from digest.mime import make_message_id, sending_domain
from digest.render import Renderer
from digest.render.checks import cached_check
from digest.store import Store

TransportFactory = Callable[[], Transport]
# What a use case raises when SQLite itself fails in a way the store did not translate into a
# StoreError (usually a lock held past the busy timeout). Adapters catch this name, so that
# only the core and the store know the database is SQLite.
DatabaseFailure = sqlite3.OperationalError


def smtp_transports(settings: Settings) -> TransportFactory:
    """A new connection to the relay in ``settings`` per call (one per sender thread)."""

    def factory() -> Transport:
        return SmtpTransport(settings.smtp.parsed, timeout=settings.smtp.timeout)

    return factory


class AppBase:
    def __init__(
        self,
        settings: Settings,
        store: Store,
        *,
        transports: TransportFactory | None = None,
        clock: Clock = system_clock,
    ) -> None:
        self.settings = settings
        self.store = store
        self.transports = transports or smtp_transports(settings)
        self.clock = clock
        self.links = Links.from_settings(settings)
        self._renderer: Renderer | None = None
        self._templates_checked = False

    @property
    def db(self) -> sqlite_utils.Database:
        return self.store.db

    def now(self) -> datetime:
        return self.clock()

    def new_renderer(self) -> Renderer:
        """A renderer of its own, for one run: its compile count is that run's."""
        return Renderer(self.settings, links=self.links)

    @property
    def renderer(self) -> Renderer:
        """A shared renderer for previews and system mail, built on first use."""
        if self._renderer is None:
            self._renderer = self.new_renderer()
        return self._renderer

    def ensure_templates(self) -> None:
        """The template check (digest.render.guard) every render path runs before its first
        message: once per App. Raises TemplateError with the first problem, one line."""
        if self._templates_checked:
            return
        report = cached_check(self.settings)
        if not report.ok:
            more = len(report.errors) - 1
            extra = f" (and {more} more: run `digest templates check`)" if more else ""
            raise TemplateError(report.errors[0] + extra)
        self._templates_checked = True

    def message_id(self) -> str:
        return make_message_id(sending_domain(self.settings))

    def close(self) -> None:
        """Close this thread's database connection."""
        self.store.close()
