"""The file's layout, derived from the declaration: which tables digest.toml has, in what
order, and each key's type, default and help. The loader and both generators walk this."""

from __future__ import annotations

import dataclasses
import functools
import typing
from collections.abc import Iterator
from dataclasses import dataclass
from typing import Any

from digest.config.schema import LOOSE_TABLES, About, Settings, about


@dataclass(frozen=True)
class Key:
    """One TOML key: where it sits in the file and in Settings, and what it accepts."""

    table: str  # "" for a top-level key
    name: str
    attr: str
    type: type[Any]
    default: Any  # dataclasses.MISSING for a required key
    about: About

    @property
    def required(self) -> bool:
        return self.default is dataclasses.MISSING

    @property
    def dotted(self) -> str:
        return f"{self.table}.{self.name}" if self.table else self.name

    @property
    def doc(self) -> str:
        """The help text with the limits spelled out."""
        limit = self.about.limit
        return f"{self.about.help} Must be {limit.describe()}." if limit else self.about.help


@dataclass(frozen=True)
class Table:
    """One TOML table (or array of tables) and its keys. ``cls`` is None for keys kept in
    Settings itself (the top level, [database])."""

    name: str
    help: str
    keys: tuple[Key, ...]
    cls: type[Any] | None = None
    array: bool = False
    # Arrays of tables inside this one ([[smtp.relays]] in [smtp]), and for such an array the
    # attribute of the parent that holds it.
    children: tuple[Table, ...] = ()
    attr: str = ""


@functools.cache
def tables() -> tuple[Table, ...]:
    """The whole file, in order: top-level keys, the sections, [database], [[feeds]]."""
    hints = typing.get_type_hints(Settings)
    sections: list[Table] = []
    loose: dict[str, list[Key]] = {}
    for f in dataclasses.fields(Settings):
        info = about(f)
        hint = hints[f.name]
        if info is not None:
            loose.setdefault(info.table, []).append(_key(info.table, f, hint))
        elif dataclasses.is_dataclass(hint):
            sections.append(_table(f.name, hint))
        elif typing.get_origin(hint) is tuple:
            sections.append(_table(f.name, typing.get_args(hint)[0], array=True))
    top = Table("", "", tuple(loose.pop("", [])))
    rest = [Table(name, LOOSE_TABLES[name], tuple(keys)) for name, keys in loose.items()]
    plain = [t for t in sections if not t.array]
    arrays = [t for t in sections if t.array]
    nested = [child for t in plain for child in t.children]
    return (top, *plain, *rest, *nested, *arrays)


def _table(name: str, cls: Any, array: bool = False) -> Table:
    hints = typing.get_type_hints(cls)
    keys = []
    children = []
    for f in dataclasses.fields(cls):
        info = about(f)
        hint = hints[f.name]
        if info is None and typing.get_origin(hint) is tuple:  # [[smtp.relays]]
            child = _table(f"{name}.{f.name}", typing.get_args(hint)[0], array=True)
            children.append(dataclasses.replace(child, attr=f.name))
            continue
        if info is None:
            raise TypeError(f"{cls.__name__}.{f.name} has no help text")
        keys.append(_key(name, f, hint))
    doc = cls.__doc__ or ""
    return Table(name, doc, tuple(keys), cls=cls, array=array, children=tuple(children))


def _key(table: str, f: dataclasses.Field[Any], hint: Any) -> Key:
    info = about(f)
    assert info is not None
    return Key(table, info.key or f.name, f.name, hint, f.default, info)


def all_keys() -> Iterator[Key]:
    for table in tables():
        yield from table.keys
