"""Use cases for the public archive: the editions that went out, and what each carried.
Built from what was actually sent (the articles of an edition's sent deliveries) plus, in the
categories sent, the edition window's other new articles that digests linked to as "6 more in
Courts"; nothing here returns a reader's address or name."""

from __future__ import annotations

from dataclasses import dataclass

from digest.app.base import AppBase
from digest.clock import to_db
from digest.curate import build_sections
from digest.models import MAX_ROW_ID, ArchivedEdition, Section
from digest.store import editions as edition_store
from digest.store import web as store

# The most articles the archive shows under one category of one edition.
ARCHIVE_MAX_PER_CATEGORY = 1000


@dataclass(frozen=True)
class ArchivePage:
    edition: ArchivedEdition
    sections: tuple[Section, ...]


class Archive(AppBase):
    def archived_editions(self) -> list[ArchivedEdition]:
        """Editions with at least one sent message, newest first."""
        return store.sent_editions(self.db)

    def archived_edition(self, edition_id: int) -> ArchivePage | None:
        """One sent edition's articles per category, in the site's order; None when no
        such edition was sent."""
        if not 0 < edition_id <= MAX_ROW_ID:
            return None
        edition = store.sent_edition(self.db, edition_id)
        if edition is None:
            return None
        rows = store.sent_articles(self.db, edition_id)
        names = edition_store.category_names(self.db)
        category_ids = tuple(dict.fromkeys(r.category_id for r in rows))
        # A digest shows at most max_articles_per_category of a category and links "6 more in
        # Courts" here: the rest of that category's new articles in the edition's window.
        sent = {(r.id, r.category_id) for r in rows}
        rest = [
            r
            for r in edition_store.available_articles(
                self.db,
                published_after=to_db(edition.starts_at),
                available_until=to_db(edition.ends_at),
            )
            if r.category_id in category_ids and (r.id, r.category_id) not in sent
        ]
        rows = sorted(
            sorted([*rows, *rest], key=lambda r: r.id), key=lambda r: r.published_at, reverse=True
        )
        sections = build_sections(rows, category_ids, names, ARCHIVE_MAX_PER_CATEGORY)
        return ArchivePage(edition, sections)

    def healthy(self) -> bool:
        """The database answers (for /healthz)."""
        return bool(self.db.execute("SELECT 1").fetchone())
