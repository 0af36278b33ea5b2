"""Settings: an optional digest.toml plus environment overrides, with a default for everything.

Lookup order for the file: ``--config PATH``, ``$DIGEST_CONFIG``, ``./digest.toml``.
Environment overrides: ``DIGEST_DB``, ``DIGEST_SMTP_URL``, ``DIGEST_SECRET_KEY``.
"""

from __future__ import annotations

import dataclasses
import os
import tomllib
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any
from urllib.parse import unquote, urlsplit
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

from digest.errors import ConfigError

DEFAULT_CONFIG_NAME = "digest.toml"
DEFAULT_DB_NAME = "subscribers.db"
WEEKDAYS = ("mon", "tue", "wed", "thu", "fri", "sat", "sun")


@dataclass(frozen=True)
class SiteSettings:
    name: str = "Legal Reader"
    url: str = "https://news.example.com"
    postal_address: str = "Legal Reader, 100 Main Street, Springfield, IL 62701, USA"
    lang: str = "en"
    # Colours shared by the email and the web pages; both pass WCAG AA on white.
    accent_color: str = "#1a4d8f"


@dataclass(frozen=True)
class SenderSettings:
    from_: str = "Legal Reader <digest@news.example.com>"
    reply_to: str = ""
    # Envelope sender (MAIL FROM), where bounces go. Empty: the address in from_. With
    # "{token}" in it (bounces+{token}@example.com) each reader's gets a signed token (VERP).
    return_path: str = ""
    # RFC 2919 List-Id label; empty: derived from the From domain.
    list_id: str = ""
    # Optional mailto: for List-Unsubscribe, next to the https URL.
    unsubscribe_mailto: str = ""


@dataclass(frozen=True)
class SmtpSettings:
    url: str = "smtp://127.0.0.1:25"
    # Name of an environment variable holding the password, so it need not sit in the file.
    password_env: str = ""
    timeout: float = 30.0

    @property
    def parsed(self) -> SmtpUrl:
        return parse_smtp_url(self.url, self.password_env)


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


@dataclass(frozen=True)
class DigestSettings:
    max_articles_per_category: int = 5
    lookback_days_weekly: int = 7
    lookback_days_daily: int = 1
    subject: str = (
        "{{ site.name }} {{ frequency }}: {{ article_count }} new "
        "article{{ 's' if article_count != 1 else '' }} in {{ category_summary }}"
    )


@dataclass(frozen=True)
class TemplateSettings:
    dir: str = ""  # editors' own templates; anything missing falls back to the defaults


@dataclass(frozen=True)
class ScheduleSettings:
    timezone: str = "UTC"
    weekly_day: str = "mon"
    weekly_time: str = "08:00"
    daily_time: str = "07:00"
    local_time: bool = False
    max_delay_hours: float = 6.0


@dataclass(frozen=True)
class SendingSettings:
    concurrency: int = 4
    rate: float = 0.0  # messages per second; 0 means unlimited
    hourly_limit: int = 0  # 0 means unlimited
    max_attempts: int = 4
    # Stop the whole send after this many failures in a row: the relay is refusing everything.
    max_consecutive_failures: int = 20
    page_size: int = 1000


@dataclass(frozen=True)
class DkimSettings:
    domain: str = ""
    selector: str = ""
    key_file: str = ""

    @property
    def enabled(self) -> bool:
        return bool(self.domain and self.selector and self.key_file)


@dataclass(frozen=True)
class WebSettings:
    host: str = "127.0.0.1"
    port: int = 8080
    trust_proxy: bool = False
    signup_limit_per_ip_per_hour: int = 10
    signup_limit_per_address_per_day: int = 3


@dataclass(frozen=True)
class BounceSettings:
    soft_limit: int = 3
    soft_window_days: int = 30


@dataclass(frozen=True)
class FeedSettings:
    url: str
    category: str = ""
    refresh_minutes: int = 60


@dataclass(frozen=True)
class Settings:
    site: SiteSettings = field(default_factory=SiteSettings)
    sender: SenderSettings = field(default_factory=SenderSettings)
    smtp: SmtpSettings = field(default_factory=SmtpSettings)
    digest: DigestSettings = field(default_factory=DigestSettings)
    templates: TemplateSettings = field(default_factory=TemplateSettings)
    schedule: ScheduleSettings = field(default_factory=ScheduleSettings)
    sending: SendingSettings = field(default_factory=SendingSettings)
    dkim: DkimSettings = field(default_factory=DkimSettings)
    web: WebSettings = field(default_factory=WebSettings)
    bounces: BounceSettings = field(default_factory=BounceSettings)
    feeds: tuple[FeedSettings, ...] = ()
    secret_key: str = ""
    db_path: str = DEFAULT_DB_NAME
    config_path: str = ""  # the file these came from, "" when none

    @property
    def tz(self) -> ZoneInfo:
        return ZoneInfo(self.schedule.timezone)


_SECTIONS: dict[str, type[Any]] = {
    "site": SiteSettings,
    "sender": SenderSettings,
    "smtp": SmtpSettings,
    "digest": DigestSettings,
    "templates": TemplateSettings,
    "schedule": ScheduleSettings,
    "sending": SendingSettings,
    "dkim": DkimSettings,
    "web": WebSettings,
    "bounces": BounceSettings,
}
# TOML keys that are Python keywords.
_KEY_ALIASES = {"from": "from_"}


def find_config(explicit: str | None = None) -> Path | None:
    """The config file to read, or None to run on defaults."""
    if explicit:
        return Path(explicit)
    env = os.environ.get("DIGEST_CONFIG")
    if env:
        return Path(env)
    local = Path(DEFAULT_CONFIG_NAME)
    return local if local.exists() else None


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
    db_path = db or os.environ.get("DIGEST_DB") or data.get("database", {}).get("path")
    if db_path:
        overrides["db_path"] = str(db_path)
    if os.environ.get("DIGEST_SMTP_URL"):
        overrides["smtp"] = dataclasses.replace(settings.smtp, url=os.environ["DIGEST_SMTP_URL"])
    if os.environ.get("DIGEST_SECRET_KEY"):
        overrides["secret_key"] = os.environ["DIGEST_SECRET_KEY"]
    settings = dataclasses.replace(settings, **overrides)
    validate(settings, str(path) if path else "environment")
    return settings


def settings_from_dict(data: dict[str, Any], source: str = "config") -> Settings:
    """Build Settings from parsed TOML, checking every key's name and type."""
    kwargs: dict[str, Any] = {}
    for key, value in data.items():
        if key in _SECTIONS:
            kwargs[key] = _section(_SECTIONS[key], key, value, source)
        elif key == "feeds":
            if not isinstance(value, list):
                raise ConfigError(f"{source}: [[feeds]] must be an array of tables")
            kwargs["feeds"] = tuple(
                _section(FeedSettings, f"feeds[{i}]", v, source) for i, v in enumerate(value)
            )
        elif key == "secret_key":
            if not isinstance(value, str):
                raise ConfigError(f"{source}: secret_key: expected a string")
            kwargs["secret_key"] = value
        elif key == "database":
            if not isinstance(value, dict) or set(value) - {"path"}:
                raise ConfigError(f"{source}: [database]: only 'path' is allowed")
        else:
            known = ", ".join(sorted([*_SECTIONS, "feeds", "secret_key", "database"]))
            raise ConfigError(f"{source}: unknown section or key '{key}' (known: {known})")
    return Settings(**kwargs)


def _section(cls: type[Any], name: str, value: Any, source: str) -> Any:
    if not isinstance(value, dict):
        raise ConfigError(f"{source}: [{name}] must be a table")
    fields = {f.name: f for f in dataclasses.fields(cls)}
    kwargs: dict[str, Any] = {}
    for key, item in value.items():
        attr = _KEY_ALIASES.get(key, key)
        if attr not in fields:
            known = ", ".join(sorted(k.rstrip("_") for k in fields))
            raise ConfigError(f"{source}: {name}.{key}: unknown key (known: {known})")
        expected = fields[attr].type
        kwargs[attr] = _coerce(item, expected, f"{source}: {name}.{key}")
    try:
        return cls(**kwargs)
    except TypeError as e:
        raise ConfigError(f"{source}: [{name}]: {e}") from e


def _coerce(value: Any, expected: Any, where: str) -> Any:
    expected = str(expected)
    if expected == "bool":
        if not isinstance(value, bool):
            raise ConfigError(f"{where}: expected true or false, got {value!r}")
        return value
    if expected == "int":
        if isinstance(value, bool) or not isinstance(value, int):
            raise ConfigError(f"{where}: expected a whole number, got {value!r}")
        return value
    if expected == "float":
        if isinstance(value, bool) or not isinstance(value, int | float):
            raise ConfigError(f"{where}: expected a number, got {value!r}")
        return float(value)
    if not isinstance(value, str):
        raise ConfigError(f"{where}: expected a string, got {value!r}")
    return value


def validate(settings: Settings, source: str) -> None:
    """Check values whose type is right but whose meaning is not."""
    try:
        ZoneInfo(settings.schedule.timezone)
    except (ZoneInfoNotFoundError, ValueError):
        raise ConfigError(
            f"{source}: schedule.timezone: unknown IANA timezone "
            f"{settings.schedule.timezone!r} (e.g. 'Europe/London')"
        ) from None
    if settings.schedule.weekly_day.lower()[:3] not in WEEKDAYS:
        raise ConfigError(
            f"{source}: schedule.weekly_day: expected one of {', '.join(WEEKDAYS)}, "
            f"got {settings.schedule.weekly_day!r}"
        )
    for key in ("weekly_time", "daily_time"):
        parse_hhmm(getattr(settings.schedule, key), f"{source}: schedule.{key}")
    if not settings.site.url.startswith(("https://", "http://")):
        raise ConfigError(f"{source}: site.url: expected an http(s) URL, got {settings.site.url!r}")
    for key in ("concurrency", "max_attempts", "page_size", "max_consecutive_failures"):
        if getattr(settings.sending, key) < 1:
            raise ConfigError(f"{source}: sending.{key}: expected at least 1")
    if settings.sending.rate < 0 or settings.sending.hourly_limit < 0:
        raise ConfigError(f"{source}: sending.rate/hourly_limit: expected 0 (unlimited) or more")
    if settings.digest.max_articles_per_category < 1:
        raise ConfigError(f"{source}: digest.max_articles_per_category: expected at least 1")
    parse_smtp_url(settings.smtp.url, settings.smtp.password_env, source)
    for i, feed in enumerate(settings.feeds):
        if feed.refresh_minutes < 1:
            raise ConfigError(f"{source}: feeds[{i}].refresh_minutes: expected at least 1")


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


def parse_smtp_url(url: str, password_env: str = "", source: str = "config") -> SmtpUrl:
    """``smtp://host:port``, ``smtp+starttls://user:pass@host:587`` or ``smtps://host``."""
    parts = urlsplit(url)
    if parts.scheme not in _DEFAULT_PORTS or not parts.hostname:
        raise ConfigError(
            f"{source}: smtp.url: expected smtp://, smtp+starttls:// or smtps:// with a host, "
            f"got {_redact(url)!r}"
        )
    try:
        port = parts.port or _DEFAULT_PORTS[parts.scheme]
    except ValueError:
        raise ConfigError(f"{source}: smtp.url: bad port in {_redact(url)!r}") from None
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


def templates_dirs(settings: Settings) -> list[Path]:
    """Where templates are looked up: the editors' dir first, then the shipped defaults."""
    dirs = [Path(settings.templates.dir)] if settings.templates.dir else []
    return [*dirs, default_templates_dir()]


def default_templates_dir() -> Path:
    """The shipped templates: inside the package when installed, the repo's templates/ in a
    checkout (an editable install)."""
    here = Path(__file__).resolve().parent
    installed = here / "templates"
    if installed.is_dir():
        return installed
    return here.parent / "templates"


CONFIG_TEMPLATE = """\
# digest.toml: settings for `digest`. Every key is optional; the value shown is the default.
# Environment overrides: DIGEST_DB, DIGEST_SMTP_URL, DIGEST_SECRET_KEY, DIGEST_CONFIG.

# Signs unsubscribe, preference and confirmation links. Keep it secret; changing it
# invalidates links in mail already sent.
secret_key = "{secret_key}"

[site]
name = "Legal Reader"
url = "https://news.example.com"       # public address of `digest serve`, used in links
postal_address = "Legal Reader, 100 Main Street, Springfield, IL 62701, USA"
# lang = "en"
# accent_color = "#1a4d8f"

[sender]
from = "Legal Reader <digest@news.example.com>"
# reply_to = "editors@news.example.com"
# return_path = "bounces+{{token}}@news.example.com"  # envelope sender; {{token}}: VERP
# list_id = "weekly.news.example.com"
# unsubscribe_mailto = "unsubscribe@news.example.com"

[smtp]
url = "smtp://127.0.0.1:25"              # or smtp+starttls://user@host:587, smtps://host:465
# password_env = "DIGEST_SMTP_PASSWORD"   # read the password from this variable
# timeout = 30.0

[digest]
max_articles_per_category = 5
lookback_days_weekly = 7
lookback_days_daily = 1

# [templates]
# dir = "my-templates"                    # your copies; missing ones fall back to the defaults

[schedule]
timezone = "UTC"
weekly_day = "mon"
weekly_time = "08:00"
daily_time = "07:00"
# local_time = false                      # send at the hour in each reader's own timezone
# max_delay_hours = 6.0                   # skip a missed send older than this

[sending]
concurrency = 4
rate = 0                                  # messages per second, 0 = unlimited
# hourly_limit = 0
# max_attempts = 4

# [dkim]                                  # only when your relay does not sign
# domain = "news.example.com"
# selector = "digest"
# key_file = "dkim.pem"

# [web]                                   # `digest serve`
# host = "127.0.0.1"
# port = 8080
# trust_proxy = false                     # true only behind your own reverse proxy
# signup_limit_per_ip_per_hour = 10
# signup_limit_per_address_per_day = 3

# [bounces]                               # `digest bounces import`
# soft_limit = 3                          # soft bounces within soft_window_days -> bounced
# soft_window_days = 30

# [[feeds]]
# url = "https://news.example.com/feed.xml"
# category = ""                           # for a feed that is all one category
# refresh_minutes = 60
"""
