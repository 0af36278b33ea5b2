"""A message with placeholder tokens, split once and filled per recipient."""

from __future__ import annotations

import re
from collections.abc import Mapping
from dataclasses import dataclass


@dataclass(frozen=True)
class MessageTemplate:
    """A whole message with placeholder tokens, pre-split at them, so personalising is one
    ``b"".join``: a single pass, and a value can never be mistaken for another placeholder
    (as chained ``bytes.replace`` calls could, e.g. a name containing a token)."""

    data: bytes
    chunks: tuple[bytes, ...]
    slots: tuple[str, ...]

    @classmethod
    def split(cls, data: bytes, tokens: Mapping[str, bytes]) -> MessageTemplate:
        names = {token: name for name, token in tokens.items()}
        pattern = re.compile(b"(" + b"|".join(re.escape(t) for t in tokens.values()) + b")")
        pieces = pattern.split(data)
        return cls(
            data=data,
            chunks=tuple(pieces[0::2]),
            slots=tuple(names[t] for t in pieces[1::2]),
        )

    def fill(self, values: Mapping[str, bytes]) -> bytes:
        out = [self.chunks[0]]
        for slot, chunk in zip(self.slots, self.chunks[1:], strict=True):
            out.append(values[slot])
            out.append(chunk)
        return b"".join(out)

    def count(self, slot: str) -> int:
        return self.slots.count(slot)
