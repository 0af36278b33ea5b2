"""What a send or a dry run did: the counts the CLI prints and --json dumps."""

from __future__ import annotations

import time
from collections import Counter
from dataclasses import dataclass, field
from typing import Any

# An HTML part above this gets a warning; Gmail clips at about 102 KB.
CLIP_WARNING_BYTES = 90_000


@dataclass
class SendReport:
    """What a send or dry run did; the CLI prints it, --json dumps it."""

    frequency: str
    period: str
    edition_id: int | None
    # dry-run, complete, already-complete, skipped, stopped, incomplete, waiting (local time)
    status: str = "dry-run"
    recipients: int = 0
    messages: int = 0  # rendered (dry run) or handed to the relay
    sent: int = 0
    skipped: int = 0
    failed: int = 0
    # Readers no message could be made or carried for (an address the relay cannot take):
    # recorded as failed with the reason, but not a failure of the send.
    undeliverable: int = 0
    bounced: int = 0
    deferred: int = 0
    retried: int = 0
    resumed_in_flight: int = 0
    compiles: int = 0
    variants: int = 0
    trimmed_articles: int = 0
    stop_reason: str = ""
    warnings: list[str] = field(default_factory=list)
    articles_per_category: dict[str, int] = field(default_factory=dict)
    # Message sizes as a histogram: recipients of one variant differ only by a few bytes,
    # so this stays small where a list of a million sizes (and sorting it) would not.
    sizes: Counter[int] = field(default_factory=Counter)
    largest_html: int = 0
    elapsed: float = 0.0
    # Messages each relay of a pool accepted in this run (empty with a single relay).
    relays: Counter[str] = field(default_factory=Counter)

    @property
    def ok(self) -> bool:
        return (
            self.status in ("dry-run", "complete", "already-complete", "waiting")
            and not self.failed
        )

    def size_summary(self) -> tuple[int, int]:
        """(median, largest) message size in bytes; the median is the lower one for an
        even count."""
        total = self.sizes.total()
        if not total:
            return 0, 0
        seen = 0
        for size in sorted(self.sizes):
            seen += self.sizes[size]
            if seen * 2 >= total:
                return size, max(self.sizes)
        raise AssertionError("unreachable: the counts add up to the total")

    def as_dict(self) -> dict[str, Any]:
        median, largest = self.size_summary()
        return {
            "frequency": self.frequency,
            "period": self.period,
            "edition_id": self.edition_id,
            "status": self.status,
            "recipients": self.recipients,
            "messages": self.messages,
            "sent": self.sent,
            "skipped": self.skipped,
            "failed": self.failed,
            "undeliverable": self.undeliverable,
            "bounced": self.bounced,
            "deferred": self.deferred,
            "retried": self.retried,
            "resumed_in_flight": self.resumed_in_flight,
            "mjml_compiles": self.compiles,
            "variants": self.variants,
            "trimmed_articles": self.trimmed_articles,
            "articles_per_category": self.articles_per_category,
            "message_size_median": median,
            "message_size_largest": largest,
            "largest_html": self.largest_html,
            "stop_reason": self.stop_reason,
            "warnings": self.warnings,
            "elapsed_seconds": round(self.elapsed, 3),
            **({"relays": dict(sorted(self.relays.items()))} if self.relays else {}),
        }

    def relay_shares(self) -> str:
        """'a 60 (60%), b 40 (40%)': each relay's share of the messages accepted."""
        total = self.relays.total() or 1
        return ", ".join(
            f"{name} {count} ({100 * count / total:.0f}%)"
            for name, count in sorted(self.relays.items())
        )


def finish_report(report: SendReport, compiles: int, started: float) -> None:
    report.compiles = compiles
    report.elapsed = time.monotonic() - started
    if report.largest_html > CLIP_WARNING_BYTES:
        report.warnings.append(
            f"largest HTML part is {report.largest_html:,} bytes: near Gmail's clipping limit "
            "(about 102 KB)"
        )
    if report.trimmed_articles:
        report.warnings.append(
            f"up to {report.trimmed_articles} article(s) were left out of some digests to stay "
            "under Gmail's clipping limit"
        )
