"""From recipients to personalised messages: the part a real send and a dry run share.

Recipients arrive grouped by content (see curate), so a small cache of rendered variants is
enough: MJML is compiled once per variant and each recipient costs a few byte substitutions.
"""

from __future__ import annotations

import time
from collections import OrderedDict
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from datetime import datetime
from typing import Any

import sqlite_utils

from digest.clock import Clock
from digest.config import Settings
from digest.curate import Curator, EditionWindow, edition_window
from digest.deliver.outbox import Outbox
from digest.deliver.report import SendReport, already_done, finish_report
from digest.mime import make_message_id, sending_domain
from digest.models import DigestContent, Edition, OutgoingMessage, Recipient
from digest.render import RenderedVariant, Renderer
from digest.store import editions as store
from digest.store.editions import RecipientRow

VARIANT_CACHE_SIZE = 32


class Variants:
    """Rendered variants by content, a few at a time: recipients arrive grouped."""

    def __init__(self, renderer: Renderer, report: SendReport, subject_prefix: str = "") -> None:
        self.renderer = renderer
        self.report = report
        self.subject_prefix = subject_prefix
        self._cache: OrderedDict[tuple[Any, ...], RenderedVariant] = OrderedDict()
        self._seen_categories: dict[str, set[str]] = {}

    def get(self, content: DigestContent) -> RenderedVariant:
        key = tuple((s.slug, tuple(a.id for a in s.articles)) for s in content.sections)
        variant = self._cache.get(key)
        if variant is not None:
            self._cache.move_to_end(key)
            return variant
        variant = self.renderer.render_variant(content, subject_prefix=self.subject_prefix)
        self.report.variants += 1
        self.report.trimmed_articles = max(self.report.trimmed_articles, variant.trimmed)
        self.report.largest_html = max(self.report.largest_html, variant.html_size)
        for section in content.sections:
            self._seen_categories.setdefault(section.category, set()).update(
                a.id for a in section.articles
            )
        self.report.articles_per_category = {
            name: len(ids) for name, ids in sorted(self._seen_categories.items())
        }
        self._cache[key] = variant
        if len(self._cache) > VARIANT_CACHE_SIZE:
            self._cache.popitem(last=False)
        return variant


@dataclass(frozen=True)
class Job:
    row: RecipientRow
    message: OutgoingMessage
    article_ids: tuple[str, ...]


def personalised(
    rows: Iterator[RecipientRow],
    curator: Curator,
    variants: Variants,
    report: SendReport,
    clock: Clock,
    domain: str,
    on_skip: Callable[[RecipientRow, str], None],
) -> Iterator[Job]:
    """Recipients -> personalised messages; recipients with nothing new are skipped."""
    for row in rows:
        report.recipients += 1
        if row.status.startswith("inactive:"):
            report.skipped += 1
            on_skip(row, f"subscriber is {row.status.split(':', 1)[1]} since the edition started")
            continue
        content = curator.content_for(row)
        if content is None:
            report.skipped += 1
            on_skip(row, "nothing new")
            continue
        variant = variants.get(content)
        recipient = Recipient(subscriber_id=row.subscriber_id, email=row.email, name=row.name)
        message = variants.renderer.personalise(
            variant,
            recipient,
            message_id=make_message_id(domain),
            date=clock(),
        )
        report.messages += 1
        report.sizes[len(message.data)] += 1
        yield Job(row=row, message=message, article_ids=content.article_ids)


def window_of(edition: Edition) -> EditionWindow:
    return EditionWindow(
        frequency=edition.frequency,
        period=edition.period,
        starts_at=edition.starts_at,
        ends_at=edition.ends_at,
    )


def dry_run(
    db: sqlite_utils.Database,
    settings: Settings,
    renderer: Renderer,
    *,
    frequency: str,
    as_of: datetime,
    clock: Clock,
    outbox: Outbox | None = None,
) -> SendReport:
    """Render every message the real send would, send nothing, write nothing to the database.
    For an edition that was interrupted, shows what resuming it would send."""
    started = time.monotonic()
    window = edition_window(settings, frequency, as_of)
    edition = store.find_edition(db, frequency, window.period)
    if edition is not None and edition.status != "open":
        return already_done(db, edition)
    report = SendReport(frequency=frequency, period=window.period, edition_id=None)
    if edition is not None:
        window = window_of(edition)
        report.edition_id = edition.id
        rows = store.iter_open_deliveries(db, edition.id, batch=settings.sending.page_size)
    else:
        rows = store.iter_planned_recipients(db, frequency, batch=settings.sending.page_size)
    curator = Curator(db, settings, window, edition_id=report.edition_id)
    variants = Variants(renderer, report)
    for job in personalised(
        rows, curator, variants, report, clock, sending_domain(settings), lambda row, why: None
    ):
        if outbox is not None:
            outbox.write(job.message, job.article_ids)
    if outbox is not None:
        outbox.close()
    finish_report(report, renderer.compile_count, started)
    return report
