"""/metrics in the Prometheus text format, through prometheus-client (digest.web.exposition,
imported by the first scrape). /metrics needs an API key with the read scope, like the API:
the counts of a mailing list are not for everyone (Prometheus: ``authorization:
credentials: dg_...``)."""

from __future__ import annotations

from flask import Blueprint, Response, request

from digest.models import ApiScope
from digest.web.api.auth import requires
from digest.web.api.problems import Problem, problem
from digest.web.context import core

bp = Blueprint("metrics", __name__)


@bp.get("/metrics")
@requires(ApiScope.READ)
def metrics() -> Response:
    from digest.web.exposition import exposition

    body, content_type = exposition(core(), request.headers.get("Accept", ""))
    return Response(body, content_type=content_type)


@bp.errorhandler(Problem)
def _problem(error: Problem) -> Response:
    return problem(error.status, error.detail, error.headers)
