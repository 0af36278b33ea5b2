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
from digest.deliver.pool import PoolTransports, RelayPool
from digest.deliver.smtp import Transport
from digest.links import Links
from digest.mime import make_message_id, sending_domain
from digest.render import Renderer
from digest.store import Store

TransportFactory = Callable[[], Transport]
# What a use case raises when SQLite itself fails in a way the store did not translate into a
# StoreError (usually a lock held past the busy timeout). Adapters catch this name, so that
# only the core and the store know the database is SQLite.
DatabaseFailure = sqlite3.OperationalError


def smtp_transports(settings: Settings) -> TransportFactory:
    """A transport per call (one per sender thread) over the process's pool of relays:
    [[smtp.relays]], or smtp.url as a pool of one (digest/deliver/pool.py)."""
    return PoolTransports(RelayPool.from_settings(settings))


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

    @property
    def db(self) -> sqlite_utils.Database:
        return self.store.db

    def now(self) -> datetime:
        return self.clock()

    def new_renderer(self, *, signing: bool = True) -> Renderer:
        """A renderer of its own, for one run: its compile count is that run's."""
        return Renderer(self.settings, links=self.links, signing=signing)

    @property
    def renderer(self) -> Renderer:
        """A shared renderer for previews and system mail, built on first use."""
        if self._renderer is None:
            self._renderer = self.new_renderer()
        return self._renderer

    def message_id(self) -> str:
        return make_message_id(sending_domain(self.settings))

    def close(self) -> None:
        """Close this thread's database connection."""
        self.store.close()
