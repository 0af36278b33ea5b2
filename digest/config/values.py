"""Parsers for the settings that are more than a string or a number: the relay URL and the
HH:MM send times."""

from __future__ import annotations

import os
from dataclasses import dataclass
from urllib.parse import unquote, urlsplit

from digest.errors import ConfigError

WEEKDAYS = ("mon", "tue", "wed", "thu", "fri", "sat", "sun")


@dataclass(frozen=True)
class SmtpUrl:
    scheme: str  # smtp, smtp+starttls, smtps
    host: str
    port: int
    username: str = ""
    password: str = ""

    @property
    def starttls(self) -> bool:
        return self.scheme == "smtp+starttls"

    @property
    def implicit_tls(self) -> bool:
        return self.scheme == "smtps"


def parse_hhmm(value: str, where: str) -> tuple[int, int]:
    try:
        hour_s, minute_s = value.split(":")
        hour, minute = int(hour_s), int(minute_s)
    except ValueError:
        raise ConfigError(f"{where}: expected HH:MM, got {value!r}") from None
    if not (0 <= hour < 24 and 0 <= minute < 60):
        raise ConfigError(f"{where}: expected HH:MM, got {value!r}")
    return hour, minute


_DEFAULT_PORTS = {"smtp": 25, "smtp+starttls": 587, "smtps": 465}


def parse_smtp_url(
    url: str, password_env: str = "", source: str = "config", *, key: str = "smtp.url"
) -> SmtpUrl:
    """``smtp://host:port``, ``smtp+starttls://user:pass@host:587`` or ``smtps://host``."""
    parts = urlsplit(url)
    if parts.scheme not in _DEFAULT_PORTS or not parts.hostname:
        raise ConfigError(
            f"{source}: {key}: expected smtp://, smtp+starttls:// or smtps:// with a host, "
            f"got {_redact(url)!r}"
        )
    try:
        port = parts.port or _DEFAULT_PORTS[parts.scheme]
    except ValueError:
        raise ConfigError(f"{source}: {key}: bad port in {_redact(url)!r}") from None
    password = unquote(parts.password or "")
    if password_env:
        password = os.environ.get(password_env, password)
    return SmtpUrl(
        scheme=parts.scheme,
        host=parts.hostname,
        port=port,
        username=unquote(parts.username or ""),
        password=password,
    )


def _redact(url: str) -> str:
    parts = urlsplit(url)
    if parts.password:
        return url.replace(f":{parts.password}@", ":***@")
    return url
