"""What every command gets: the settings and the application core, built on first use."""

from __future__ import annotations

import json
from dataclasses import dataclass, field
from typing import Any

import click

from digest.app import App
from digest.clock import Clock, system_clock
from digest.config import Settings, load_settings


@dataclass
class AppContext:
    config_path: str | None = None
    db_override: str | None = None
    clock: Clock = system_clock
    # Only `digest init` may create the database; every other command refuses a missing
    # or empty one rather than silently making it.
    create_db: bool = False
    _settings: Settings | None = field(default=None, repr=False)
    _app: App | None = field(default=None, repr=False)

    @property
    def settings(self) -> Settings:
        if self._settings is None:
            self._settings = load_settings(self.config_path, self.db_override)
        return self._settings

    @property
    def db_path(self) -> str:
        return self.settings.db_path

    @property
    def core(self) -> App:
        if self._app is None:
            self._app = App.open(self.settings, clock=self.clock, create=self.create_db)
        return self._app

    def close(self) -> None:
        if self._app is not None:
            self._app.close()
            self._app = None


pass_app = click.make_pass_decorator(AppContext)


def echo_json(value: Any) -> None:
    click.echo(json.dumps(value, indent=2, ensure_ascii=False, default=str))


json_option = click.option("--json", "as_json", is_flag=True, help="Print JSON for scripts.")
