"""Log lines for the long-running commands (`digest schedule run`, `digest serve`): text for a
person or journald, or ``--log-format json``: one JSON object per line for a log pipeline."""

from __future__ import annotations

import json
import logging
from datetime import UTC, datetime

import click

LOG_FORMATS = ("text", "json")

log_format_option = click.option(
    "--log-format",
    type=click.Choice(LOG_FORMATS),
    default="text",
    show_default=True,
    help="text, or json: one JSON object per line (time, level, logger, message).",
)


class JsonFormatter(logging.Formatter):
    """``{"time": ..., "level": ..., "logger": ..., "message": ...}`` and, for an
    exception, ``"exception"`` with the traceback: always one line."""

    def format(self, record: logging.LogRecord) -> str:
        line = {
            "time": datetime.fromtimestamp(record.created, UTC).isoformat(timespec="milliseconds"),
            "level": record.levelname.lower(),
            "logger": record.name,
            "message": record.getMessage(),
        }
        if record.exc_info:
            line["exception"] = self.formatException(record.exc_info)
        return json.dumps(line, ensure_ascii=False)
