"""Reading a JSON request body and query parameters, with one clear problem per mistake,
and the opaque cursors of paginated lists."""

from __future__ import annotations

import base64
import binascii
import json
from typing import Any

from flask import request

from digest.web.api.problems import Problem

# Large enough for an article with a long summary; nothing the API takes comes near it.
MAX_BODY = 256 * 1024
MAX_LIMIT = 100
DEFAULT_LIMIT = 50


class Body:
    """The request's JSON object; each field read is checked, and a field the route does
    not know is refused (a typo must not be silently ignored)."""

    def __init__(self, allowed: tuple[str, ...]) -> None:
        if request.mimetype != "application/json":
            raise Problem(415, "send the body as JSON with 'Content-Type: application/json'")
        raw = request.get_data(cache=True)
        try:
            value = json.loads(raw.decode("utf-8"))
        except (UnicodeDecodeError, json.JSONDecodeError) as e:
            raise Problem(400, f"the body is not valid UTF-8 JSON: {e}") from e
        if not isinstance(value, dict):
            raise Problem(400, "the body must be a JSON object")
        unknown = sorted(set(value) - set(allowed))
        if unknown:
            raise Problem(422, f"unknown field {unknown[0]!r} (known: {', '.join(allowed)})")
        self.data: dict[str, Any] = value

    def has(self, name: str) -> bool:
        return name in self.data

    def text(self, name: str, *, required: bool = False, default: str = "") -> str:
        if name not in self.data:
            if required:
                raise Problem(422, f"field {name!r} is required")
            return default
        value = self.data[name]
        if not isinstance(value, str):
            raise Problem(422, f"field {name!r} must be a string")
        return value

    def strings(self, name: str, *, required: bool = False) -> tuple[str, ...] | None:
        if name not in self.data:
            if required:
                raise Problem(422, f"field {name!r} is required")
            return None
        value = self.data[name]
        if not isinstance(value, list) or not all(isinstance(v, str) for v in value):
            raise Problem(422, f"field {name!r} must be a list of strings")
        return tuple(value)


def limit_arg() -> int:
    text = request.args.get("limit", str(DEFAULT_LIMIT))
    if not text.isdigit() or not 1 <= int(text) <= MAX_LIMIT:
        raise Problem(400, f"limit must be a whole number from 1 to {MAX_LIMIT}, not {text!r}")
    return int(text)


def encode_cursor(*values: str) -> str:
    raw = json.dumps(list(values), separators=(",", ":")).encode("utf-8")
    return base64.urlsafe_b64encode(raw).decode("ascii").rstrip("=")


def decode_cursor(text: str, size: int) -> list[str]:
    """The values an earlier page's ``next`` cursor holds; 400 for anything else."""
    try:
        raw = base64.urlsafe_b64decode(text + "=" * (-len(text) % 4))
        values = json.loads(raw.decode("utf-8"))
    except (binascii.Error, ValueError) as e:
        raise Problem(400, "cursor: not one this API gave (pass 'next' from a page)") from e
    if not isinstance(values, list) or len(values) != size:
        raise Problem(400, "cursor: not one this API gave (pass 'next' from a page)")
    if not all(isinstance(v, str) for v in values):
        raise Problem(400, "cursor: not one this API gave (pass 'next' from a page)")
    return values
