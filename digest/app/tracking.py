"""Engagement tracking (issue 15, docs/tracking.md): a click on a tracked article link, a fetch
of the open image.

What is stored follows [tracking] now, not when the mail went out: a reader part in an old
link is ignored once the mode is "anonymous", and with the mode "off" a tracked link still
takes the reader to the article and records nothing. The target of a redirect is always the
article's own URL, looked up by the id the signed token names: a token carries no URL, so
the redirect can never be pointed anywhere else.
"""

from __future__ import annotations

import threading
from collections.abc import Hashable
from dataclasses import dataclass
from datetime import timedelta

from digest.app.base import AppBase
from digest.render.present import safe_url
from digest.scanners import BurstWindow, Link, scanner_agent
from digest.store import tracking as store
from digest.tokens import ClickClaim, TokenError

OFF = "off"
PER_READER = "per-reader"
# How reports name the open count (issue 15): never a bare "opens".
OPENS_LABEL = "opens (unreliable: mail privacy features prefetch images)"
_WINDOWS_LOCK = threading.Lock()


@dataclass(frozen=True)
class Fetch:
    """One request for a tracked link or the open image, as the web adapter saw it."""

    token: str
    reader: str = ""  # the per-reader part of the path, "" when there is none
    head: bool = False  # a HEAD request: a scanner checking the link, not a reader
    user_agent: str = ""
    # The client's address: only for spotting a scanner's burst in anonymous mode, held in
    # memory for a few seconds (digest/scanners.py) and never stored.
    client: str = ""


class Tracking(AppBase):
    _bursts: BurstWindow | None = None

    def follow_click(self, fetch: Fetch) -> str:
        """Count one click of a tracked article link and return the article's URL to send
        the reader to. TokenError (the adapter's 404) when the token or its reader part is
        not genuine, or names an article that is gone."""
        claim = self.links.read_click(fetch.token)
        subscriber = self._reader(claim.edition_id, fetch.reader)
        article_url = store.article_url(self.db, claim.article_id)
        if article_url is None:
            raise TokenError("the link names no article we have")
        # What the mail showed before tracking: digest/render/present.py, article_view.
        url = safe_url(article_url) or self.links.home()
        mode = self.settings.tracking.clicks
        if mode != OFF:
            if mode != PER_READER or not store.reader_trackable(self.db, subscriber or 0):
                subscriber = None
            self._count_click(claim, subscriber, fetch)
        return url

    def count_open(self, fetch: Fetch) -> None:
        """Count one fetch of an edition's open image: unreliable by nature (mail privacy
        features fetch images for the reader) and never used for anything automatic.
        TokenError when the token is not genuine."""
        edition_id = self.links.read_open(fetch.token)
        subscriber = self._reader(edition_id, fetch.reader)
        mode = self.settings.tracking.opens
        if mode == OFF:
            return
        if mode != PER_READER or not store.reader_trackable(self.db, subscriber or 0):
            subscriber = None
        store.record_open(
            self.db,
            edition_id=edition_id,
            scanner=fetch.head or scanner_agent(fetch.user_agent, image=True),
            now=self.now(),
            subscriber_id=subscriber,
        )

    def _reader(self, edition_id: int, part: str) -> int | None:
        """The subscriber a per-reader link names; TokenError for an altered one."""
        return self.links.read_reader(edition_id, part) if part else None

    def _count_click(self, claim: ClickClaim, subscriber: int | None, fetch: Fetch) -> None:
        now = self.now()
        scanner = fetch.head or scanner_agent(fetch.user_agent)
        burst, earlier = False, list[Link]()
        client: Hashable | None = ("reader", subscriber) if subscriber else ("ip", fetch.client)
        if subscriber is not None:
            # Per reader, only right after the delivery: a reader coming back to the message
            # later and opening three articles in tabs is a reader (docs/tracking.md).
            sent = store.delivered_at(self.db, claim.edition_id, subscriber)
            if sent is None or now - sent > self.bursts.rule.after_delivery:
                client = None
        if client is not None:
            link = (claim.article_id, claim.category_id)
            burst, earlier = self.bursts.add((claim.edition_id, client), link, now, scanner=scanner)
        with self.store.transaction() as db:
            store.record_click(
                db,
                edition_id=claim.edition_id,
                article_id=claim.article_id,
                category_id=claim.category_id,
                scanner=scanner or burst,
                now=now,
                subscriber_id=subscriber,
            )
            if earlier:
                store.recount_as_scanner(
                    db,
                    edition_id=claim.edition_id,
                    links=earlier,
                    since=now - timedelta(seconds=self.bursts.rule.seconds),
                    subscriber_id=subscriber,
                )

    @property
    def bursts(self) -> BurstWindow:
        """The in-memory burst window of this App (one per `digest serve` process)."""
        if self._bursts is None:
            with _WINDOWS_LOCK:
                if self._bursts is None:
                    self._bursts = BurstWindow()
        return self._bursts
