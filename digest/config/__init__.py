"""Settings: declared once in ``schema``, read from digest.toml by ``load``, written out as a
commented digest.toml by ``toml`` and as the README's table by ``docs``."""

from __future__ import annotations

from digest.config.docs import settings_table
from digest.config.load import load_settings, settings_from_dict, validate
from digest.config.paths import (
    DEFAULT_CONFIG_NAME,
    default_templates_dir,
    find_config,
    templates_dirs,
)
from digest.config.schema import (
    DEFAULT_DB_NAME,
    BounceSettings,
    DigestSettings,
    DkimSettings,
    FeedSettings,
    HooksSettings,
    RelaySettings,
    ScheduleSettings,
    SenderSettings,
    SendingSettings,
    Settings,
    SiteSettings,
    SmtpSettings,
    TemplateSettings,
    TrackingSettings,
    WebSettings,
)
from digest.config.toml import config_text
from digest.config.values import WEEKDAYS, SmtpUrl, parse_hhmm, parse_smtp_url

__all__ = [
    "DEFAULT_CONFIG_NAME",
    "DEFAULT_DB_NAME",
    "WEEKDAYS",
    "BounceSettings",
    "DigestSettings",
    "DkimSettings",
    "FeedSettings",
    "HooksSettings",
    "RelaySettings",
    "ScheduleSettings",
    "SenderSettings",
    "SendingSettings",
    "Settings",
    "SiteSettings",
    "SmtpSettings",
    "SmtpUrl",
    "TemplateSettings",
    "TrackingSettings",
    "WebSettings",
    "config_text",
    "default_templates_dir",
    "find_config",
    "load_settings",
    "parse_hhmm",
    "parse_smtp_url",
    "settings_from_dict",
    "settings_table",
    "templates_dirs",
    "validate",
]
