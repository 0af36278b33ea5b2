"""The HTTP API under /api/v1/ for a news site's own systems: articles, categories,
subscribers and editions, JSON in and out, API keys, RFC 9457 problem details. Described by
openapi.json beside this file, served at /api/v1/openapi.json."""

from __future__ import annotations

from digest.web.api import content as _content
from digest.web.api import readers as _readers
from digest.web.api.blueprint import bp, http_problem
from digest.web.api.problems import is_api, problem

ROUTES = (_content, _readers)

__all__ = ["bp", "http_problem", "is_api", "problem"]
