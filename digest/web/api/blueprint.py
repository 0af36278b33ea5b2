"""The /api/v1/ blueprint: its body limit, its error handlers (problem details for every
error, never an HTML page) and the OpenAPI document that describes it."""

from __future__ import annotations

import logging
from importlib import resources

from flask import Blueprint, Response, request
from werkzeug.exceptions import HTTPException

from digest.errors import DigestError, InputError, NotFoundError, StoreError
from digest.web.api.body import MAX_BODY
from digest.web.api.problems import API_PREFIX, Problem, problem

log = logging.getLogger("digest.web.api")
bp = Blueprint("api", __name__, url_prefix=API_PREFIX)


@bp.before_request
def _limits() -> None:
    # The pages' limit (digest.web.app.MAX_CONTENT_LENGTH) is for forms; an article's JSON
    # may be larger. Anything bigger is refused with 413 before it is read.
    request.max_content_length = MAX_BODY


@bp.get("/openapi.json")
def openapi() -> Response:
    text = resources.files("digest.web.api").joinpath("openapi.json").read_text("utf-8")
    response = Response(text, mimetype="application/json")
    response.headers["Cache-Control"] = "public, max-age=300"
    return response


@bp.errorhandler(Problem)
def _problem(error: Problem) -> Response:
    return problem(error.status, error.detail, error.headers)


@bp.errorhandler(InputError)
def _invalid(error: InputError) -> Response:
    return problem(422, str(error))


@bp.errorhandler(NotFoundError)
def _not_found(error: NotFoundError) -> Response:
    return problem(404, str(error))


@bp.errorhandler(StoreError)
def _store(error: StoreError) -> Response:
    log.error("database: %s", error)
    return problem(503, "the database is busy; try again in a minute", {"Retry-After": "60"})


@bp.errorhandler(DigestError)
def _refused(error: DigestError) -> Response:
    return problem(422, str(error))


def http_problem(error: HTTPException) -> Response:
    """For errors raised before a view runs (no route, wrong method, body too large)."""
    code = error.code or 500
    details = {
        404: f"no such resource: {request.path} (see {API_PREFIX}/openapi.json)",
        405: f"{request.method} is not allowed on {request.path}",
        413: f"the body is larger than {MAX_BODY // 1024} KB",
    }
    headers = {}
    if code == 405 and error.valid_methods:  # type: ignore[attr-defined]
        headers["Allow"] = ", ".join(error.valid_methods)  # type: ignore[attr-defined]
    return problem(code, details.get(code, error.description or ""), headers)
