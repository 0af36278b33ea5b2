"""From recipients to personalised messages: the part a real send and a dry run share.

Recipients arrive grouped by content (see curate), so a small cache of rendered variants is
enough: MJML is compiled once per variant and each recipient costs a few byte substitutions.
"""

from __future__ import annotations

from collections import OrderedDict
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from typing import Any

from digest.clock import Clock
from digest.curate import Curator, EditionWindow
from digest.deliver.report import SendReport
from digest.errors import DigestError
from digest.mime import make_message_id
from digest.models import (
    DigestContent,
    Edition,
    OutgoingMessage,
    Recipient,
    RecipientRow,
    SubscriberStatus,
)
from digest.render import RenderedVariant, Renderer
from digest.validate import envelope_address

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
        key = (
            content.language,
            tuple((s.slug, tuple(a.id for a in s.articles)) for s in content.sections),
        )
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


MessageIds = Callable[[int], str]  # subscriber id -> Message-ID
OnSkip = Callable[[RecipientRow, str], None]


@dataclass(frozen=True)
class Composer:
    """Recipients -> personalised messages, for a send or a dry run. A recipient with
    nothing new is skipped (``on_skip``); one whose message cannot be made (an address no
    message can carry) is reported to ``on_undeliverable`` with the reason and the rest go
    on: one reader never stops the edition."""

    curator: Curator
    variants: Variants
    report: SendReport
    clock: Clock
    message_id: MessageIds
    on_skip: OnSkip
    on_undeliverable: OnSkip

    def __call__(self, rows: Iterator[RecipientRow]) -> Iterator[Job]:
        report = self.report
        for row in rows:
            report.recipients += 1
            if row.subscriber_status != SubscriberStatus.ACTIVE:
                report.skipped += 1
                self.on_skip(
                    row, f"subscriber is {row.subscriber_status} since the edition started"
                )
                continue
            content = self.curator.content_for(row)
            if content is None:
                report.skipped += 1
                self.on_skip(row, "nothing new")
                continue
            try:
                message = self._message(row, content)
            except (DigestError, ValueError) as e:
                report.undeliverable += 1
                self.on_undeliverable(row, f"undeliverable: {e}")
                continue
            report.messages += 1
            report.sizes[len(message.data)] += 1
            yield Job(row=row, message=message, article_ids=content.article_ids)

    def _message(self, row: RecipientRow, content: DigestContent) -> OutgoingMessage:
        variant = self.variants.get(content)
        address, smtputf8 = envelope_address(row.email)
        recipient = Recipient(row.subscriber_id, address, row.name, smtputf8=smtputf8)
        return self.variants.renderer.personalise(
            variant, recipient, message_id=self.message_id(row.subscriber_id), date=self.clock()
        )


def random_message_ids(domain: str) -> MessageIds:
    """For messages that are no delivery of an edition (a dry run of a new edition)."""
    return lambda subscriber_id: make_message_id(domain)


def window_of(edition: Edition) -> EditionWindow:
    return EditionWindow(
        frequency=edition.frequency,
        period=edition.period,
        starts_at=edition.starts_at,
        ends_at=edition.ends_at,
    )
