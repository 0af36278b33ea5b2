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
from digest.config import Settings, parse_smtp_url
from digest.deliver.pool import PoolTransports, RelayPool
from digest.deliver.smtp import Transport, relay_offers
from digest.errors import InputError, TemplateError
from digest.links import Links
from digest.mime import make_message_id, sending_domain
from digest.render import Renderer
from digest.render.checks import cached_check
from digest.render.verdicts import Verdicts, fingerprint
from digest.store import Store
from digest.validate import envelope_address, normalise_email

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
        self._smtputf8: bool | None = None
        self._templates_checked = False

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

    def usable_address(self, email: str) -> str:
        """The normalised address, or InputError: what every way in (the CLI, a CSV import,
        the web form) accepts. An address with non-ASCII characters before the @ needs a
        relay offering SMTPUTF8; when the relay says it does not, the address is refused
        here rather than accepted and never mailed (the relay is asked once per App; a relay
        that cannot be reached is not held against the address)."""
        address = normalise_email(email)
        if envelope_address(address)[1] and self._relay_smtputf8() is False:
            raise InputError(
                f"{address} cannot be mailed: our mail server does not accept non-ASCII "
                "characters before the @ (SMTPUTF8); please use another address"
            )
        return address

    def _relay_smtputf8(self) -> bool | None:
        """Whether a relay of the pool offers SMTPUTF8 (the pool sends such a message through
        one that does): True if any does, False if every one answered without it, None when
        none could be asked."""
        if self._smtputf8 is None:
            smtp = self.settings.smtp
            answers = [
                relay_offers(parse_smtp_url(r.url, r.password_env), "smtputf8", smtp.timeout)
                for r in smtp.pool
            ]
            if any(answers):
                self._smtputf8 = True
            elif answers and all(a is False for a in answers):
                self._smtputf8 = False
        return self._smtputf8

    def ensure_templates(self) -> None:
        """The template check (digest.render.guard) every render path runs before its first
        message: once per App. Raises TemplateError with the first problem, one line.

        A pass is remembered next to the database under the hash of everything the check
        reads (digest.render.verdicts): the next process with the same templates and
        settings skips the half second the check costs, and any change checks again."""
        if self._templates_checked:
            return
        key = fingerprint(self.settings)
        verdicts = Verdicts.beside(self.store.path)
        if not verdicts.passed(key):
            report = cached_check(self.settings, key)
            if not report.ok:
                more = len(report.errors) - 1
                extra = f" (and {more} more: run `digest templates check`)" if more else ""
                raise TemplateError(report.errors[0] + extra)
            verdicts.record(key)
        self._templates_checked = True

    def message_id(self) -> str:
        return make_message_id(sending_domain(self.settings))

    def close(self) -> None:
        """Close this thread's database connection."""
        self.store.close()
