"""RFC 9457 problem details: every error the API gives is a JSON object with a type, a
title, the status and a detail a client's developer can act on."""

from __future__ import annotations

from typing import Any

from flask import Response, json

PROBLEM_TYPE = "application/problem+json"
API_PREFIX = "/api/v1"
# The type URIs are relative references to the API's own documentation of each problem.
_TITLES = {
    400: ("bad-request", "Bad request"),
    401: ("unauthorized", "Missing or unknown API key"),
    403: ("forbidden", "The API key's scope does not allow this"),
    404: ("not-found", "Not found"),
    405: ("method-not-allowed", "Method not allowed"),
    409: ("conflict", "Conflict"),
    413: ("too-large", "Request body too large"),
    415: ("unsupported-media-type", "Unsupported media type"),
    422: ("invalid", "Invalid input"),
    429: ("rate-limited", "Too many requests"),
    500: ("server-error", "Internal server error"),
    503: ("unavailable", "Service unavailable"),
}


class Problem(Exception):
    """Raised by a view to answer with a problem document."""

    def __init__(self, status: int, detail: str, **headers: str) -> None:
        super().__init__(detail)
        self.status = status
        self.detail = detail
        self.headers = headers


def is_api(path: str) -> bool:
    return path == API_PREFIX or path.startswith(API_PREFIX + "/")


def problem(status: int, detail: str, headers: dict[str, str] | None = None) -> Response:
    slug, title = _TITLES.get(status, _TITLES[500 if status >= 500 else 400])
    body: dict[str, Any] = {
        "type": f"{API_PREFIX}/problems/{slug}",
        "title": title,
        "status": status,
        "detail": detail,
    }
    response = Response(json.dumps(body), status, mimetype=PROBLEM_TYPE)
    response.headers.update(headers or {})
    return response
