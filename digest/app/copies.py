"""One reader's copy of an edition on the web: the page "View in browser" opens
(docs/email.md rule 28).

Rebuilt from what the reader was sent: the delivery's articles, in its order and under the
reader's categories, with the edition's own intro, subject and pins, rendered by the same
Renderer in the reader's language, with their own links."""

from __future__ import annotations

import dataclasses

from digest.app.editions import Editions
from digest.clock import to_db
from digest.curate import build_sections
from digest.models import MAX_ROW_ID, DigestContent, Recipient
from digest.store import editions as edition_store
from digest.store import subscribers as subscriber_store
from digest.store import web as store


class ReaderCopies(Editions):
    def reader_copy(self, subscriber_id: int, edition_id: int) -> str | None:
        """The HTML of the digest ``subscriber_id`` was sent in ``edition_id``, with their
        own links; None when no such digest was sent (or the reader was forgotten)."""
        if not (0 < subscriber_id <= MAX_ROW_ID and 0 < edition_id <= MAX_ROW_ID):
            return None
        copy = store.delivered_copy(self.db, edition_id, subscriber_id)
        reader = subscriber_store.get_subscriber(self.db, subscriber_id)
        if copy is None or reader is None or not reader.email:
            return None
        category_ids, article_ids = copy
        content = self._copy_content(edition_id, category_ids, article_ids, reader.language)
        if content is None:
            return None
        self.ensure_templates()
        renderer = self.renderer
        variant = renderer.render_variant(content)
        recipient = Recipient(subscriber_id=reader.id, email=reader.email, name=reader.name)
        return renderer.render_html(variant, recipient)

    def _copy_content(
        self,
        edition_id: int,
        category_ids: tuple[int, ...],
        article_ids: tuple[str, ...],
        language: str,
    ) -> DigestContent | None:
        edition = edition_store.get_edition(self.db, edition_id)
        plan = self.edition_plan(edition_id)
        names = edition_store.category_names(self.db)
        category_ids = tuple(c for c in category_ids if c in names)
        rows = [
            r for r in store.articles_by_ids(self.db, article_ids) if r.category_id in category_ids
        ]
        # The curator's own rule over only the articles sent puts each where the digest did:
        # the newest N of a category are the newest N of any subset holding them, and an
        # article past a full category's N goes on to the reader's next category of it.
        limit = self.settings.digest.max_articles_per_category
        sections = build_sections(rows, category_ids, names, limit, plan.pins)
        if not sections:
            return None
        # "5 of 11": the curator's count over the edition's window, as for a reader new to
        # the edition (exactly what their digest said; a returning reader's may have said
        # fewer, the window reaching back to their last digest).
        window = [
            r
            for r in edition_store.available_articles(
                self.db,
                published_after=to_db(edition.starts_at),
                available_until=to_db(edition.ends_at),
            )
            if r.category_id in category_ids and r.id not in plan.excluded
        ]
        totals = {
            s.category: s.total
            for s in build_sections(window, category_ids, names, limit, plan.pins)
        }
        sections = tuple(
            dataclasses.replace(s, total=max(s.total, totals.get(s.category, 0))) for s in sections
        )
        return DigestContent(
            site_name=self.settings.site.name,
            frequency=edition.frequency,
            starts_at=edition.starts_at,
            ends_at=edition.ends_at,
            sections=sections,
            edition_id=edition_id,
            language=language,
            intro_html=plan.intro_html,
            intro_text=plan.intro_text,
            subject=plan.subject,
            pinned=frozenset(a for ids in plan.pins.values() for a in ids),
        )
