"""The README's settings table, generated from the declaration.

``python -m digest.config`` prints it; ``python -m digest.config --write README.md`` replaces
the part of README.md between the markers with it.
"""

from __future__ import annotations

import argparse
from pathlib import Path

from digest.config.layout import Key, Table, tables
from digest.config.toml import toml_value

START = "<!-- settings:start -->"
END = "<!-- settings:end -->"


def settings_table() -> str:
    """Markdown: one row a table of the file, then one a key (table.key | default | help)."""
    rows = ["| setting | default | what it does |", "| --- | --- | --- |"]
    for table in tables():
        if table.name:
            rows.append(_row(_header(table), "", table.help))
        for key in table.keys:
            rows.append(_row(_name(table, key), _default(key), key.doc))
    return "\n".join(rows) + "\n"


def _header(table: Table) -> str:
    return _code(f"[[{table.name}]]" if table.array else f"[{table.name}]")


def _name(table: Table, key: Key) -> str:
    return _code(f"{table.name}[].{key.name}" if table.array else key.dotted)


def _default(key: Key) -> str:
    return "(required)" if key.required else _code(toml_value(key.default))


def _code(text: str) -> str:
    fence = "``" if "`" in text else "`"
    pad = " " if fence == "``" else ""
    return f"{fence}{pad}{text}{pad}{fence}"


def _row(*cells: str) -> str:
    return "| " + " | ".join(cell.replace("|", "\\|") for cell in cells) + " |"


def replace_table(readme: str) -> str:
    """``readme`` with the text between the markers replaced by a fresh table."""
    head, start, rest = readme.partition(START)
    _, end, tail = rest.partition(END)
    if not start or not end:
        raise ValueError(f"the README has no {START} ... {END} section")
    return f"{head}{START}\n{settings_table()}{END}{tail}"


def marked_section(readme: str) -> str:
    """The text between the markers, as ``replace_table`` writes it."""
    return readme.partition(START)[2].partition(END)[0].removeprefix("\n")


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(
        prog="python -m digest.config", description="Print the README's settings table."
    )
    parser.add_argument("--write", metavar="README", help="update this file between markers")
    args = parser.parse_args(argv)
    if args.write is None:
        print(settings_table(), end="")
        return 0
    path = Path(args.write)
    path.write_text(replace_table(path.read_text(encoding="utf-8")), encoding="utf-8")
    return 0
