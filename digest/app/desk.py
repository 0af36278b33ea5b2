"""Use cases of the editor's desk: prepare the next edition as a draft, steer it (pin,
exclude, include, intro, subject), approve or cancel it. Every change is recorded with who
made it and when (`digest editions show`).

A draft fixes the edition's cutoff, and with it the articles it can carry: the selection of
each category is a function of the cutoff and the editors' picks, so articles imported later
wait for the next edition (prepare again, while it is a draft, to take them in). Recipients
are fixed only when the send starts.
"""

from __future__ import annotations

import dataclasses
import sqlite3
import threading
import time
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import datetime

from digest.app.editions import PREVIEW_RECIPIENT, Editions, Preview, TestSend
from digest.curate import edition_window
from digest.deliver.compose import window_of
from digest.errors import InputError, NotFoundError
from digest.models import (
    ArticleRow,
    Edition,
    EditionChange,
    EditionPick,
    EditionStatus,
    Recipient,
)
from digest.render.intro import render_intro
from digest.store import desk as desk_store
from digest.store import editions as store
from digest.store.categories import resolve_categories

SUBJECT_MAX = 200
# Reader counts on the desk may be this old (seconds): see Desk.reader_counts.
COUNTS_SECONDS = 60.0
_COUNTS: dict[tuple[int, str], tuple[float, dict[int, int], int]] = {}
_COUNTS_LOCK = threading.Lock()


@dataclass(frozen=True)
class PlannedArticle:
    article: ArticleRow
    pinned: bool


@dataclass(frozen=True)
class CategoryPlan:
    """What a new reader of one category gets in the edition, in send order."""

    category_id: int
    name: str
    articles: tuple[PlannedArticle, ...]
    candidates: int  # articles it could carry (in the look-back, available by the cutoff)
    readers: int = 0
    others: tuple[ArticleRow, ...] = ()  # candidates it does not carry, newest first


@dataclass(frozen=True)
class EditionPlanView:
    edition: Edition
    categories: tuple[CategoryPlan, ...]
    excluded: tuple[EditionPick, ...]
    intro_html: str
    intro_text: str
    changes: tuple[EditionChange, ...]
    refreshed: bool = False  # prepare found the draft and moved its cutoff
    variants: int = 0  # distinct category sets among its readers


@dataclass(frozen=True)
class PastEdition:
    edition: Edition
    counts: dict[str, int]
    unsubscribes: int  # of its readers, since it started


class Desk(Editions):
    # -- prepare -----------------------------------------------------------------------------

    def prepare_edition(
        self,
        frequency: str,
        as_of: datetime,
        *,
        editor: str,
        period: str | None = None,
        due_at: datetime | None = None,
    ) -> EditionPlanView:
        """The draft of the edition of the period containing ``as_of``, made now with its
        cutoff at ``as_of``, or refreshed (cutoff moved to ``as_of``) while still a draft."""
        window = edition_window(self.settings, frequency, as_of)
        period = period or window.period
        edition = store.find_edition(self.db, frequency, period)
        refreshed = False
        if edition is None:
            try:
                edition = desk_store.create_draft(
                    self.db,
                    frequency=frequency,
                    period=period,
                    starts_at=window.starts_at,
                    ends_at=window.ends_at,
                    now=self.now(),
                    approval=self.settings.schedule.approval,
                    due_at=due_at,
                    editor=editor,
                )
            except sqlite3.IntegrityError:
                edition = store.find_edition(self.db, frequency, period)
                if edition is None:
                    raise
        elif edition.status == EditionStatus.DRAFT:
            refreshed = desk_store.refresh_draft(
                self.db,
                edition.id,
                starts_at=window.starts_at,
                ends_at=window.ends_at,
                now=self.now(),
                editor=editor,
            )
        else:
            raise InputError(
                f"edition #{edition.id} ({frequency} {period}) is {edition.status}, not a "
                "draft: nothing prepared"
            )
        return dataclasses.replace(self.edition_plan_view(edition.id), refreshed=refreshed)

    def edition_plan_view(self, edition_id: int) -> EditionPlanView:
        """The edition as its editors see it: per category what a new reader gets, the
        exclusions, the intro, and every change so far."""
        edition = store.get_edition(self.db, edition_id)
        curator = self.curator(window_of(edition), edition.id)
        plan = curator.plan
        readers, variants = self.reader_counts(edition.frequency)
        categories: list[CategoryPlan] = []
        names = sorted(curator.names.items(), key=lambda kv: (kv[1][2], kv[1][0]))
        for category_id, (name, _, _) in names:
            candidates = [r for r in curator.candidates(category_id) if r.id not in plan.excluded]
            content = curator.select((category_id,), None)
            by_id = {r.id: r for r in candidates}
            pinned = set(plan.pins.get(category_id, ()))
            chosen = (
                tuple(
                    PlannedArticle(by_id[a.id], a.id in pinned)
                    for s in content.sections
                    for a in s.articles
                    if a.id in by_id
                )
                if content is not None
                else ()
            )
            carried = {p.article.id for p in chosen}
            categories.append(
                CategoryPlan(
                    category_id,
                    name,
                    chosen,
                    len(candidates),
                    readers.get(category_id, 0),
                    tuple(r for r in candidates if r.id not in carried),
                )
            )
        picks = desk_store.picks(self.db, edition_id)
        return EditionPlanView(
            edition=edition,
            categories=tuple(categories),
            excluded=tuple(p for p in picks if p.action == "exclude"),
            intro_html=plan.intro_html,
            intro_text=plan.intro_text,
            changes=tuple(desk_store.changes(self.db, edition_id)),
            variants=variants,
        )

    def category_choices(self) -> list[tuple[str, str]]:
        """(slug, name) of every category in the site's order: cheaper than the counts of
        list_categories."""
        names = store.category_names(self.db)
        return [
            (slug, name) for name, slug, _ in sorted(names.values(), key=lambda v: (v[2], v[0]))
        ]

    def reader_counts(self, frequency: str) -> tuple[dict[int, int], int]:
        """(active readers per category, distinct category sets) of ``frequency``. Two
        aggregates over every reader (hundreds of ms at 100k): computed at most once a
        minute per process, so the desk's pages stay fast (bench/desk.py)."""
        now = time.monotonic()
        with _COUNTS_LOCK:
            cached = _COUNTS.get((id(self.store), frequency))
            if cached is not None and now - cached[0] < COUNTS_SECONDS:
                return cached[1], cached[2]
        readers = desk_store.readers_per_category(self.db, frequency)
        sets = desk_store.category_sets(self.db, frequency)
        with _COUNTS_LOCK:
            _COUNTS[(id(self.store), frequency)] = (now, readers, sets)
        return readers, sets

    # -- steer -------------------------------------------------------------------------------

    def pin_article(
        self,
        edition_id: int,
        article_id: str,
        *,
        editor: str,
        category: str | None = None,
        position: int | None = None,
    ) -> EditionPlanView:
        """Make the article lead its category in this edition (at ``position`` among the
        pins, 1 first; default after the pins already there)."""
        edition = self._steerable(edition_id, "pin an article in")
        category_id = self._candidate_category(edition, article_id, category)
        if position is not None and position < 1:
            raise InputError(f"--position: expected 1 or more, got {position}")
        current = [
            p.article_id
            for p in desk_store.picks(self.db, edition_id)
            if p.action == "pin" and p.category_id == category_id and p.article_id != article_id
        ]
        at = len(current) if position is None else min(position - 1, len(current))
        current.insert(at, article_id)
        name = self._category_name(category_id)
        self._changed(
            desk_store.save_pins(
                self.db,
                edition_id,
                category_id,
                current,
                now=self.now(),
                editor=editor,
                action="pin",
                detail=f"{article_id} in {name} at {at + 1}",
            ),
            edition,
        )
        return self.edition_plan_view(edition_id)

    def unpin_article(self, edition_id: int, article_id: str, *, editor: str) -> EditionPlanView:
        edition = self._steerable(edition_id, "unpin an article in")
        pins = [p for p in desk_store.picks(self.db, edition_id) if p.action == "pin"]
        pin = next((p for p in pins if p.article_id == article_id), None)
        if pin is None:
            raise NotFoundError(f"article {article_id!r} is not pinned in edition #{edition_id}")
        rest = [p.article_id for p in pins if p.category_id == pin.category_id and p is not pin]
        self._changed(
            desk_store.save_pins(
                self.db,
                edition_id,
                pin.category_id,
                rest,
                now=self.now(),
                editor=editor,
                action="unpin",
                detail=article_id,
            ),
            edition,
        )
        return self.edition_plan_view(edition_id)

    def move_pin(
        self, edition_id: int, article_id: str, by: int, *, editor: str
    ) -> EditionPlanView:
        """Move a pinned article ``by`` places among its category's pins (-1: up)."""
        pins = [p for p in desk_store.picks(self.db, edition_id) if p.action == "pin"]
        pin = next((p for p in pins if p.article_id == article_id), None)
        if pin is None:
            raise NotFoundError(f"article {article_id!r} is not pinned in edition #{edition_id}")
        same = [p.article_id for p in pins if p.category_id == pin.category_id]
        position = max(1, min(len(same), same.index(article_id) + 1 + by))
        return self.pin_article(
            edition_id,
            article_id,
            editor=editor,
            category=self._category_name(pin.category_id),
            position=position,
        )

    def exclude_article(self, edition_id: int, article_id: str, *, editor: str) -> EditionPlanView:
        """Never send the article in this edition (a pin of it goes too)."""
        edition = self._steerable(edition_id, "exclude an article from")
        if desk_store.article_categories(self.db, article_id) is None:
            raise NotFoundError(f"no article with id {article_id!r} (see `digest articles list`)")
        if any(
            p.action == "exclude" and p.article_id == article_id
            for p in desk_store.picks(self.db, edition_id)
        ):
            raise InputError(f"article {article_id!r} is already excluded from #{edition_id}")
        self._changed(
            desk_store.set_excluded(
                self.db, edition_id, article_id, True, now=self.now(), editor=editor
            ),
            edition,
        )
        return self.edition_plan_view(edition_id)

    def include_article(self, edition_id: int, article_id: str, *, editor: str) -> EditionPlanView:
        """Put an excluded article back."""
        edition = self._steerable(edition_id, "include an article in")
        if not any(
            p.action == "exclude" and p.article_id == article_id
            for p in desk_store.picks(self.db, edition_id)
        ):
            raise NotFoundError(
                f"article {article_id!r} is not excluded from edition #{edition_id}"
            )
        self._changed(
            desk_store.set_excluded(
                self.db, edition_id, article_id, False, now=self.now(), editor=editor
            ),
            edition,
        )
        return self.edition_plan_view(edition_id)

    def set_intro(self, edition_id: int, markdown: str, *, editor: str) -> EditionPlanView:
        """The edition's introduction, in Markdown; '' removes it."""
        edition = self._steerable(edition_id, "change the intro of")
        intro = render_intro(markdown)
        detail = f"{len(intro.markdown)} characters" if intro.markdown else "removed"
        self._changed(
            desk_store.set_text(
                self.db,
                edition_id,
                "intro",
                intro.markdown,
                now=self.now(),
                editor=editor,
                detail=detail,
            ),
            edition,
        )
        return self.edition_plan_view(edition_id)

    def set_subject(self, edition_id: int, subject: str, *, editor: str) -> EditionPlanView:
        """The edition's own subject; '' goes back to the subject template."""
        edition = self._steerable(edition_id, "change the subject of")
        value = " ".join(subject.split())
        if len(value) > SUBJECT_MAX:
            raise InputError(f"subject: {len(value)} characters, the most is {SUBJECT_MAX}")
        if any(ord(c) < 32 for c in subject if c not in "\t\n\r"):
            raise InputError("subject: control characters are not allowed")
        self._changed(
            desk_store.set_text(
                self.db,
                edition_id,
                "subject",
                value,
                now=self.now(),
                editor=editor,
                detail=value or "(the template's)",
            ),
            edition,
        )
        return self.edition_plan_view(edition_id)

    # -- look and try ------------------------------------------------------------------------

    def edition_preview(
        self,
        edition_id: int,
        *,
        reader: str | None = None,
        categories: Sequence[str] = (),
    ) -> Preview:
        """What ``reader`` (an address), or a new reader of ``categories``, gets in this
        edition as it stands: its cutoff, pins, exclusions, intro and subject."""
        edition = store.get_edition(self.db, edition_id)
        curator = self.curator(window_of(edition), edition.id)
        if reader:
            row = store.planned_recipient(self.db, reader)
            if row is None:
                raise NotFoundError(f"no subscriber with address {reader!r}")
            content = curator.content_for(row)
            recipient = Recipient(row.subscriber_id, row.email, row.name)
        else:
            if not categories:
                raise InputError("choose a reader or at least one category to preview")
            ids = tuple(sorted(c.id for c in resolve_categories(self.db, list(categories))))
            content = curator.select(ids, None)
            recipient = PREVIEW_RECIPIENT
        if content is None:
            raise NotFoundError("nothing new for that reader in this edition")
        return Preview(recipient, content)

    def edition_test_send(
        self,
        edition_id: int,
        to: str,
        *,
        reader: str | None = None,
        categories: Sequence[str] = (),
    ) -> TestSend:
        """One real copy of this edition, "[TEST]" in the subject, to an editor's address."""
        preview = self.edition_preview(edition_id, reader=reader, categories=categories)
        return self.send_test_copy(to, preview)

    # -- decide ------------------------------------------------------------------------------

    def approve_edition(self, edition_id: int, *, editor: str) -> Edition:
        """Approve a draft or a held edition: it goes at its send time (a held one at the
        scheduler's next run)."""
        edition = store.get_edition(self.db, edition_id)
        if edition.status not in (EditionStatus.DRAFT, EditionStatus.HELD):
            raise InputError(
                f"edition #{edition_id} is {edition.status}: only a draft or a held edition "
                "can be approved"
            )
        self._changed(
            desk_store.set_status(
                self.db,
                edition_id,
                EditionStatus.APPROVED,
                allowed_from=(EditionStatus.DRAFT, EditionStatus.HELD),
                now=self.now(),
                editor=editor,
                action="approve",
            ),
            edition,
        )
        return store.get_edition(self.db, edition_id)

    def cancel_edition(self, edition_id: int, *, editor: str, reason: str = "") -> Edition:
        """Cancel an edition that has not started sending: it is never sent."""
        edition = store.get_edition(self.db, edition_id)
        if not edition.status.steerable:
            raise InputError(
                f"edition #{edition_id} is {edition.status}: only an edition that has not "
                "started sending can be cancelled"
            )
        self._changed(
            desk_store.set_status(
                self.db,
                edition_id,
                EditionStatus.CANCELLED,
                allowed_from=(EditionStatus.DRAFT, EditionStatus.APPROVED, EditionStatus.HELD),
                now=self.now(),
                editor=editor,
                action="cancel",
                detail=reason or f"cancelled by {editor}",
            ),
            edition,
        )
        return store.get_edition(self.db, edition_id)

    def past_editions(self, limit: int = 50) -> list[PastEdition]:
        """Editions that started sending (or were cancelled or skipped), newest first, with
        their counts and the unsubscribes among their readers since."""
        rows = []
        for edition in store.list_editions(self.db)[: limit * 2]:
            if edition.status.steerable:
                continue
            rows.append(
                PastEdition(
                    edition,
                    store.delivery_counts(self.db, edition.id),
                    desk_store.unsubscribes_since(self.db, edition.id),
                )
            )
        return rows[:limit]

    def upcoming_editions(self) -> list[Edition]:
        """Drafts, approved and held editions, soonest first."""
        return desk_store.editions_in(self.db, ("draft", "approved", "held"))

    # -- helpers -----------------------------------------------------------------------------

    def _steerable(self, edition_id: int, what: str) -> Edition:
        edition = store.get_edition(self.db, edition_id)
        if not edition.status.steerable:
            raise InputError(
                f"edition #{edition_id} is {edition.status}: cannot {what} it any more"
            )
        return edition

    def _changed(self, done: bool, edition: Edition) -> None:
        """A conditional write found the edition moved on meanwhile (sent, cancelled)."""
        if not done:
            now = store.get_edition(self.db, edition.id)
            raise InputError(
                f"edition #{edition.id} became {now.status} meanwhile: nothing changed"
            )

    def _category_name(self, category_id: int) -> str:
        return store.category_names(self.db)[category_id][0]

    def _candidate_category(self, edition: Edition, article_id: str, category: str | None) -> int:
        """The category the article will lead: named, or its only one among the edition's
        candidates. An error when it is not a candidate there."""
        filed = desk_store.article_categories(self.db, article_id)
        if filed is None:
            raise NotFoundError(f"no article with id {article_id!r} (see `digest articles list`)")
        names = store.category_names(self.db)
        curator = self.curator(window_of(edition), edition.id)
        where = [c for c in filed if any(r.id == article_id for r in curator.candidates(c))]
        if category is not None:
            wanted = resolve_categories(self.db, [category])[0]
            if wanted.id not in filed:
                known = ", ".join(names[c][0] for c in filed) or "none"
                raise InputError(
                    f"article {article_id!r} is not in category {wanted.name!r} (it is in: {known})"
                )
            if wanted.id not in where:
                raise InputError(self._not_candidate(edition, article_id))
            return wanted.id
        if not where:
            raise InputError(self._not_candidate(edition, article_id))
        if len(where) > 1:
            listed = ", ".join(names[c][0] for c in where)
            raise InputError(
                f"article {article_id!r} is in several categories ({listed}): say which "
                "with --category"
            )
        return where[0]

    @staticmethod
    def _not_candidate(edition: Edition, article_id: str) -> str:
        return (
            f"article {article_id!r} is not among edition #{edition.id}'s candidates: only "
            f"articles published after {edition.starts_at:%Y-%m-%d %H:%M} and available by "
            f"its cutoff {edition.ends_at:%Y-%m-%d %H:%M} UTC can be pinned"
        )
