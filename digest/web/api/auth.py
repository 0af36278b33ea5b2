"""API keys on each request: ``Authorization: Bearer dg_...``, the scope the route needs,
and the key's rate limit (web.api_rate_limit_per_minute, counted in the database)."""

from __future__ import annotations

from collections.abc import Callable
from functools import wraps
from typing import ParamSpec, TypeVar

from flask import g, request

from digest.models import ApiKey, ApiScope
from digest.web.api.problems import Problem
from digest.web.context import core

P = ParamSpec("P")
R = TypeVar("R")
_CHALLENGE = {"WWW-Authenticate": 'Bearer realm="digest"'}


def requires(scope: ApiScope) -> Callable[[Callable[P, R]], Callable[P, R]]:
    """The view runs only for a live key whose scope includes ``scope``."""

    def decorate(view: Callable[P, R]) -> Callable[P, R]:
        @wraps(view)
        def checked(*args: P.args, **kwargs: P.kwargs) -> R:
            key = _key()
            if not key.scope.allows(scope):
                raise Problem(
                    403, f"this needs a key with scope '{scope}'; key '{key.name}' is '{key.scope}'"
                )
            retry = core().take_api_slot(key)
            if retry is not None:
                raise Problem(
                    429,
                    f"key '{key.name}' made more than its limit of requests in a minute; "
                    f"try again in {retry} s",
                    **{"Retry-After": str(retry)},
                )
            g.api_key = key
            return view(*args, **kwargs)

        return checked

    return decorate


def current_key() -> ApiKey:
    key: ApiKey = g.api_key
    return key


def _key() -> ApiKey:
    header = request.headers.get("Authorization", "")
    scheme, _, token = header.partition(" ")
    if not header:
        raise Problem(401, "send an API key as 'Authorization: Bearer <key>'", **_CHALLENGE)
    if scheme.lower() != "bearer" or not token.strip():
        raise Problem(401, "the Authorization header must be 'Bearer <key>'", **_CHALLENGE)
    key = core().api_key_for(token.strip())
    if key is None:
        raise Problem(401, "unknown or revoked API key (see `digest keys list`)", **_CHALLENGE)
    return key
