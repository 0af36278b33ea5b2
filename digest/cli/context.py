"""What every command gets: settings, a lazily opened database and the clock."""

from __future__ import annotations

import json
from dataclasses import dataclass, field
from typing import Any

import click
import sqlite_utils

from digest.clock import Clock, system_clock
from digest.config import Settings, load_settings
from digest.store import open_db


@dataclass
class AppContext:
    config_path: str | None = None
    db_override: str | None = None
    clock: Clock = system_clock
    _settings: Settings | None = field(default=None, repr=False)
    _db: sqlite_utils.Database | None = field(default=None, repr=False)

    @property
    def settings(self) -> Settings:
        if self._settings is None:
            self._settings = load_settings(self.config_path, self.db_override)
        return self._settings

    @property
    def db_path(self) -> str:
        return self.settings.db_path

    @property
    def db(self) -> sqlite_utils.Database:
        if self._db is None:
            self._db = open_db(self.db_path)
        return self._db

    def close(self) -> None:
        if self._db is not None:
            self._db.close()
            self._db = None


pass_app = click.make_pass_decorator(AppContext)


def echo_json(value: Any) -> None:
    click.echo(json.dumps(value, indent=2, ensure_ascii=False, default=str))


json_option = click.option("--json", "as_json", is_flag=True, help="Print JSON for scripts.")
