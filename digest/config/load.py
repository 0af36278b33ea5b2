"""Reading settings: an optional digest.toml plus environment overrides, with a default for
everything.

Lookup order for the file: ``--config PATH``, ``$DIGEST_CONFIG``, ``./digest.toml``.
Environment overrides: ``DIGEST_DB``, ``DIGEST_SMTP_URL``, ``DIGEST_SECRET_KEY``.
"""

from __future__ import annotations

import dataclasses
import os
import tomllib
import typing
from typing import Any
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

from digest.config.layout import Key, Table, tables
from digest.config.paths import find_config
from digest.config.schema import TRACKING_MODES, Settings
from digest.config.values import WEEKDAYS, parse_hhmm, parse_smtp_url
from digest.errors import ConfigError


def load_settings(config: str | None = None, db: str | None = None) -> Settings:
    """Read the config file (if any), apply environment overrides and validate."""
    path = find_config(config)
    data: dict[str, Any] = {}
    if path is not None:
        try:
            data = tomllib.loads(path.read_text(encoding="utf-8"))
        except FileNotFoundError:
            raise ConfigError(f"{path}: config file not found") from None
        except (OSError, UnicodeDecodeError) as e:
            raise ConfigError(f"{path}: cannot read config file: {e}") from e
        except tomllib.TOMLDecodeError as e:
            raise ConfigError(f"{path}: not valid TOML: {e}") from e
    settings = settings_from_dict(data, source=str(path) if path else "defaults")
    overrides: dict[str, Any] = {"config_path": str(path) if path else ""}
    db_path = db or os.environ.get("DIGEST_DB")
    if db_path:
        overrides["db_path"] = db_path
    if os.environ.get("DIGEST_SMTP_URL"):
        overrides["smtp"] = dataclasses.replace(settings.smtp, url=os.environ["DIGEST_SMTP_URL"])
    if os.environ.get("DIGEST_SECRET_KEY"):
        overrides["secret_key"] = os.environ["DIGEST_SECRET_KEY"]
    settings = dataclasses.replace(settings, **overrides)
    validate(settings, str(path) if path else "environment")
    return settings


def settings_from_dict(data: dict[str, Any], source: str = "config") -> Settings:
    """Build Settings from parsed TOML, checking every key's name, type and limits."""
    layout = {t.name: t for t in tables() if not t.attr}  # [[smtp.relays]] sits in [smtp]
    top = {k.name: k for k in layout.pop("").keys}
    kwargs: dict[str, Any] = {}
    for name, value in data.items():
        if name in top:
            kwargs[top[name].attr] = _value(top[name], value, f"{source}: {name}")
        elif name in layout:
            kwargs.update(_table_kwargs(layout[name], value, source))
        else:
            known = ", ".join(sorted([*top, *layout]))
            raise ConfigError(f"{source}: unknown section or key '{name}' (known: {known})")
    return Settings(**kwargs)


def _table_kwargs(table: Table, value: Any, source: str) -> dict[str, Any]:
    """Settings' keyword arguments for one table of the file."""
    if table.array:
        if not isinstance(value, list):
            raise ConfigError(f"{source}: [[{table.name}]] must be an array of tables")
        items = (_build(table, f"{table.name}[{i}]", v, source) for i, v in enumerate(value))
        return {table.name: tuple(items)}
    if table.cls is None:  # keys that Settings holds itself, such as [database] path
        return _read_keys(table, table.name, value, source)
    return {table.name: _build(table, table.name, value, source)}


def _build(table: Table, name: str, value: Any, source: str) -> Any:
    assert table.cls is not None
    return table.cls(**_read_keys(table, name, value, source))


def _read_keys(table: Table, name: str, value: Any, source: str) -> dict[str, Any]:
    if not isinstance(value, dict):
        raise ConfigError(f"{source}: [{name}] must be a table")
    keys = {k.name: k for k in table.keys}
    children = {c.attr: c for c in table.children}
    kwargs: dict[str, Any] = {}
    for key_name, item in value.items():
        if key_name in children:
            child = children[key_name]
            if not isinstance(item, list):
                raise ConfigError(f"{source}: [[{child.name}]] must be an array of tables")
            kwargs[key_name] = tuple(
                _build(child, f"{child.name}[{i}]", v, source) for i, v in enumerate(item)
            )
            continue
        if key_name not in keys:
            known = ", ".join(sorted([*keys, *children]))
            raise ConfigError(f"{source}: {name}.{key_name}: unknown key (known: {known})")
        key = keys[key_name]
        kwargs[key.attr] = _value(key, item, f"{source}: {name}.{key_name}")
    for key in table.keys:
        if key.required and key.attr not in kwargs:
            raise ConfigError(f"{source}: {name}.{key.name}: missing; this key is required")
    return kwargs


def _value(key: Key, value: Any, where: str) -> Any:
    """The value as its declared type, within its declared limits."""
    typed = _coerce(value, key.type, where)
    limit = key.about.limit
    if limit is not None and not limit.allows(typed):
        raise ConfigError(f"{where}: expected {limit.describe()}, got {value!r}")
    return typed


def _coerce(value: Any, expected: type[Any], where: str) -> Any:
    # bool is a subclass of int, so true must not pass for a number.
    if expected is bool:
        if not isinstance(value, bool):
            raise ConfigError(f"{where}: expected true or false, got {value!r}")
        return value
    if expected is int:
        if isinstance(value, bool) or not isinstance(value, int):
            raise ConfigError(f"{where}: expected a whole number, got {value!r}")
        return value
    if expected is float:
        if isinstance(value, bool) or not isinstance(value, int | float):
            raise ConfigError(f"{where}: expected a number, got {value!r}")
        return float(value)
    if expected is str:
        if not isinstance(value, str):
            raise ConfigError(f"{where}: expected a string, got {value!r}")
        return value
    if typing.get_origin(expected) is tuple:
        if not isinstance(value, list) or not all(isinstance(v, str) for v in value):
            raise ConfigError(f"{where}: expected a list of strings, got {value!r}")
        return tuple(value)
    raise TypeError(f"{where}: settings of type {expected!r} cannot be read from TOML")


def validate(settings: Settings, source: str) -> None:
    """Check values whose type and range are right but whose meaning is not."""
    try:
        ZoneInfo(settings.schedule.timezone)
    except (ZoneInfoNotFoundError, ValueError):
        raise ConfigError(
            f"{source}: schedule.timezone: unknown IANA timezone "
            f"{settings.schedule.timezone!r} (e.g. 'Europe/London')"
        ) from None
    if settings.schedule.approval not in ("optional", "required"):
        raise ConfigError(
            f"{source}: schedule.approval: expected optional or required, "
            f"got {settings.schedule.approval!r}"
        )
    for key in ("clicks", "opens"):
        mode = getattr(settings.tracking, key)
        if mode not in TRACKING_MODES:
            raise ConfigError(
                f"{source}: tracking.{key}: expected {', '.join(TRACKING_MODES)}, got {mode!r}"
            )
    if settings.schedule.weekly_day.lower()[:3] not in WEEKDAYS:
        raise ConfigError(
            f"{source}: schedule.weekly_day: expected one of {', '.join(WEEKDAYS)}, "
            f"got {settings.schedule.weekly_day!r}"
        )
    for key in ("weekly_time", "daily_time"):
        parse_hhmm(getattr(settings.schedule, key), f"{source}: schedule.{key}")
    if not settings.site.url.startswith(("https://", "http://")):
        raise ConfigError(f"{source}: site.url: expected an http(s) URL, got {settings.site.url!r}")
    parse_smtp_url(settings.smtp.url, settings.smtp.password_env, source)
    names: set[str] = set()
    for i, relay in enumerate(settings.smtp.relays):
        where = f"{source}: smtp.relays[{i}]"
        parse_smtp_url(relay.url, relay.password_env, source, key=f"smtp.relays[{i}].url")
        if relay.label in names:
            raise ConfigError(f"{where}: two relays named {relay.label!r}; give each a name")
        names.add(relay.label)
    known = ("rsa-sha256", "ed25519-sha256")
    for algorithm in settings.dkim.algorithms or ("(none)",):
        if algorithm not in known:
            raise ConfigError(
                f"{source}: dkim.algorithms: expected some of {', '.join(known)}, got {algorithm!r}"
            )
