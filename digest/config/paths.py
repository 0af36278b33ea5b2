"""Where the config file and the templates are found."""

from __future__ import annotations

import os
from pathlib import Path

from digest.config.schema import Settings

DEFAULT_CONFIG_NAME = "digest.toml"


def find_config(explicit: str | None = None) -> Path | None:
    """The config file to read, or None to run on defaults."""
    if explicit:
        return Path(explicit)
    env = os.environ.get("DIGEST_CONFIG")
    if env:
        return Path(env)
    local = Path(DEFAULT_CONFIG_NAME)
    return local if local.exists() else None


def templates_dirs(settings: Settings) -> list[Path]:
    """Where templates are looked up: the editors' dir first, then the shipped defaults."""
    dirs = [Path(settings.templates.dir)] if settings.templates.dir else []
    return [*dirs, default_templates_dir()]


def default_templates_dir() -> Path:
    """The shipped templates: inside the package when installed, the repo's templates/ in a
    checkout (an editable install)."""
    package = Path(__file__).resolve().parent.parent
    installed = package / "templates"
    if installed.is_dir():
        return installed
    return package.parent / "templates"
