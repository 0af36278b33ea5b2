"""Engagement tracking in the rendered digest (docs/tracking.md): article links through the
click redirect, the open image, and the one per-recipient placeholder they share.

Nothing here runs with tracking off: the digest then carries the articles' own URLs and no
image. A variant is tracked only when it belongs to an edition (a preview of content that
is no edition's links to the articles themselves).
"""

from __future__ import annotations

import dataclasses
import re

from digest.config import TrackingSettings
from digest.links import Links
from digest.render.present import ArticleView

OFF = "off"
PER_READER = "per-reader"
# Encoded text lines are at most 76 characters (RFC 2045 6.7), the soft break's "=" included.
_QP_LINE = 76


@dataclasses.dataclass(frozen=True)
class Tracker:
    """What one renderer does about tracking, from [tracking]. ``reader_token`` is the
    placeholder that per-reader links end with, filled per recipient."""

    settings: TrackingSettings
    links: Links
    reader_token: str

    def per_reader(self, edition_id: int | None) -> bool:
        """Whether the variants of ``edition_id`` carry the reader placeholder."""
        return edition_id is not None and PER_READER in (self.settings.clicks, self.settings.opens)

    def article(self, view: ArticleView, edition_id: int | None, category_id: int) -> ArticleView:
        """``view`` with its ``url`` through the click redirect, so the templates keep using
        ``article.url`` (headline, "Read the article", any image link alike). Untouched with
        clicks off, outside an edition, or without a category id (template samples)."""
        mode = self.settings.clicks
        if mode == OFF or edition_id is None or not category_id:
            return view
        url = self.links.click(edition_id, category_id, view.id)
        return dataclasses.replace(view, url=url + self._suffix(mode))

    def page(self, page: str, edition_id: int | None) -> str:
        """The compiled page with the 1x1 open image last in its body, on a line of its own
        (the template is not touched, so an editor's own layout gets it too). Empty ``alt``:
        screen readers skip it."""
        mode = self.settings.opens
        if mode == OFF or edition_id is None:
            return page
        src = self.links.open_image(edition_id) + self._suffix(mode)
        image = (
            f'<img src="{src}" width="1" height="1" alt="" '
            'style="display:block;width:1px;height:1px;border:0;" />'
        )
        head, found, tail = page.rpartition("</body>")
        if not found:
            return page + "\n" + image + "\n"
        return f"{head}{image}\n{found}{tail}"

    def reader_value(self, edition_id: int | None, subscriber_id: int | None) -> str:
        """What fills the placeholder: the reader part, or nothing without an edition or a
        reader (a test send: the links then count as anonymous ones)."""
        if edition_id is None or not subscriber_id:
            return ""
        return self.links.reader_part(edition_id, subscriber_id)

    def _suffix(self, mode: str) -> str:
        return self.reader_token if mode == PER_READER else ""


def join_soft_breaks(part: bytes, token: bytes) -> bytes:
    """The quoted-printable text part with each line that holds only ``token`` joined to the
    line before it by a soft line break, so the decoded URL reads ``.../r/<article><reader>``
    while the token still stands alone on its line (digest/mime/body.py: a token that shares
    a line could be split by the encoder). A line that has no room for the ``=`` gives its
    last character to a line of its own."""
    lines = part.split(b"\r\n")
    out: list[bytes] = []
    for line in lines:
        if line == token and out:
            before = out.pop()
            if len(before) + 1 > _QP_LINE:
                cut = _safe_cut(before)
                out.append(before[:cut] + b"=")
                before = before[cut:]
            out.append(before + b"=")
        out.append(line)
    return b"\r\n".join(out)


def _safe_cut(line: bytes) -> int:
    """Where to split a full encoded line: before its last character, or before an ``=XX``
    escape that the last character ends."""
    match = re.search(rb"=[0-9A-F]{2}$", line)
    return match.start() if match else len(line) - 1
