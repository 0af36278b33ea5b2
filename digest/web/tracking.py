"""The click redirect and the open image (docs/tracking.md). Each reads the request, calls one
use case of the core and answers: a 302 to the article, a 1x1 transparent GIF, or a 404 for a
token that is not genuine (never a redirect to anywhere a token could name)."""

from __future__ import annotations

from flask import Blueprint, Response, abort, g, request

from digest.app import Fetch
from digest.links import CLICK_PREFIX, OPEN_PREFIX
from digest.tokens import TokenError
from digest.web.context import KEEP_DB, core

bp = Blueprint("tracking", __name__)

# The smallest transparent GIF (GIF89a, 1x1, one transparent colour): 43 bytes.
PIXEL = (
    b"GIF89a\x01\x00\x01\x00\x80\x00\x00\x00\x00\x00\x00\x00\x00"
    b"!\xf9\x04\x01\x00\x00\x00\x00,\x00\x00\x00\x00\x01\x00\x01\x00\x00\x02\x02D\x01\x00;"
)
# Each fetch of the image must reach us to be counted, and no shared cache may keep a
# per-reader one.
_NO_CACHE = {
    "Cache-Control": "no-cache, no-store, must-revalidate, private, max-age=0",
    "Pragma": "no-cache",
    "Expires": "0",
}


def _fetch(token: str, reader: str) -> Fetch:
    # Hundreds a second after a send: this thread keeps its connection (digest/web/app.py).
    setattr(g, KEEP_DB, True)
    return Fetch(
        token=token,
        reader=reader,
        head=request.method == "HEAD",
        user_agent=request.headers.get("User-Agent", ""),
        # With web.trust_proxy, ProxyFix has already put X-Forwarded-For's client here.
        client=request.remote_addr or "",
    )


@bp.get(f"{CLICK_PREFIX}<token>", defaults={"reader": ""})
@bp.get(f"{CLICK_PREFIX}<token>/<reader>")
def click(token: str, reader: str) -> Response:
    """GET and HEAD (Flask answers HEAD from GET): both redirect, HEAD counts as a scanner."""
    try:
        url = core().follow_click(_fetch(token, reader))
    except TokenError:
        abort(404)
    response = Response(status=302, headers={"Location": url})
    response.headers.update(_NO_CACHE)
    return response


@bp.get(f"{OPEN_PREFIX}<token>", defaults={"reader": ""})
@bp.get(f"{OPEN_PREFIX}<token>/<reader>")
def open_image(token: str, reader: str) -> Response:
    try:
        core().count_open(_fetch(token, reader))
    except TokenError:
        abort(404)
    return Response(PIXEL, status=200, mimetype="image/gif", headers=_NO_CACHE)
