"""The commented digest.toml that `digest init` writes, generated from the declaration: every
table and key with its help text and its default."""

from __future__ import annotations

import json
import textwrap
from typing import Any

from digest.config.layout import Key, Table, tables

_WIDTH = 99

_PREAMBLE = """\
# digest.toml: settings for `digest`. Every key is optional: a commented-out key shows its
# default, and uncommenting it changes nothing until you change the value.
# Environment overrides: DIGEST_DB, DIGEST_SMTP_URL, DIGEST_SECRET_KEY, DIGEST_CONFIG.
"""


def config_text(secret_key: str = "") -> str:
    """The whole file; ``secret_key`` is written as the value of the top-level key."""
    parts = [_PREAMBLE]
    for table in tables():
        parts.append(_table(table, secret_key))
    return "\n".join(parts)


def _table(table: Table, secret_key: str) -> str:
    lines: list[str] = []
    if table.name:
        lines += _comment(table.help)
        # A [[feeds]] entry needs a url, so the example stays commented out as a whole.
        header = f"[[{table.name}]]" if table.array else f"[{table.name}]"
        lines.append(f"# {header}" if table.array else header)
    for key in table.keys:
        lines += _comment(key.doc)
        value = secret_key if key.dotted == "secret_key" else _shown_value(key)
        line = f"{key.name} = {toml_value(value)}"
        lines.append(line if key.about.shown and not table.array else f"# {line}")
    return "\n".join(lines) + "\n"


def _shown_value(key: Key) -> Any:
    return key.about.example if key.required else key.default


def _comment(text: str) -> list[str]:
    wrapped = textwrap.wrap(text, width=_WIDTH - 2, break_long_words=False, break_on_hyphens=False)
    return [f"# {line}" for line in wrapped]


def toml_value(value: Any) -> str:
    """``value`` as TOML: strings JSON-escaped on one line (valid TOML basic strings once DEL
    is escaped too), numbers and booleans as themselves."""
    if isinstance(value, bool):
        return "true" if value else "false"
    if isinstance(value, int | float):
        return repr(value)
    if isinstance(value, str):
        return json.dumps(value, ensure_ascii=False).replace("\x7f", "\\u007f")
    if isinstance(value, tuple):
        return "[" + ", ".join(toml_value(v) for v in value) + "]"
    raise TypeError(f"no TOML form for {value!r}")
