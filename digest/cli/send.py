"""`digest send` and `digest editions`: the main job and its bookkeeping."""

from __future__ import annotations

import dataclasses
import signal
import sys
import threading
from collections.abc import Iterator
from contextlib import contextmanager
from datetime import datetime
from pathlib import Path
from types import FrameType
from typing import Any

import click

from digest.app import EditionSummary
from digest.cli.context import AppContext, echo_json, json_option, pass_app
from digest.cli.params import parse_date_option
from digest.cli.progress import progress_bar, quiet_option
from digest.config import WEEKDAYS
from digest.deliver.outbox import Outbox
from digest.deliver.report import SendReport


@click.command()
@click.option(
    "--frequency",
    type=click.Choice(["weekly", "daily"]),
    default="weekly",
    show_default=True,
    help="Which edition to send.",
)
@click.option(
    "--as-of",
    "as_of",
    callback=parse_date_option,
    metavar="DATETIME",
    help="Send the edition of the period containing this moment (default: now).",
)
@click.option(
    "--day",
    type=click.Choice(WEEKDAYS),
    help="Weekly only: the edition of the readers who chose this delivery day (default: the"
    " site's weekly_day). The scheduler sends every day's edition by itself.",
)
@click.option("--dry-run", is_flag=True, help="Render every message, send nothing, change nothing.")
@click.option(
    "--output",
    "output",
    type=click.Path(file_okay=False),
    help="With --dry-run: also write the messages as .eml files and a manifest.",
)
@click.option("--limit", type=click.IntRange(min=1), help="With --output: at most N .eml files.")
@click.option("--to", "to", help="Send one real test copy to this address, recording nothing.")
@click.option(
    "--as", "as_subscriber", metavar="EMAIL", help="With --to: the copy this subscriber would get."
)
@click.option(
    "--category",
    "categories",
    multiple=True,
    help="With --to: the copy a reader of these categories would get.",
)
@json_option
@quiet_option
@pass_app
def send(
    app: AppContext,
    frequency: str,
    as_of: datetime | None,
    day: str | None,
    dry_run: bool,
    output: str | None,
    limit: int | None,
    to: str | None,
    as_subscriber: str | None,
    categories: tuple[str, ...],
    as_json: bool,
    quiet: bool,
) -> None:
    """Send the current edition's digest to every active subscriber with something new.

    Each delivery is recorded the moment the relay accepts it, so a send that was stopped
    or killed resumes where it stopped when you run the same command again. On a terminal
    a progress bar (count, rate, time left) runs on stderr; --quiet or --json hides it.

    \b
    Examples:
        digest send --dry-run                       # who gets what; nothing sent
        digest send --dry-run --output out/ --limit 20
        digest send --to editor@example.com --as reader@example.com
        digest send                                 # the weekly edition, now
        digest send --frequency daily --as-of 2026-11-28
        digest send --day thu                       # the readers who chose Thursday
    """
    moment = as_of or app.clock()
    if day and frequency != "weekly":
        raise click.UsageError("--day goes with weekly editions (a delivery day is weekly)")
    if day and to is not None:
        raise click.UsageError("--day picks an edition to send; leave it out with --to")
    if (output or limit) and not dry_run:
        raise click.UsageError("--output and --limit go with --dry-run")
    if to is None and (as_subscriber or categories):
        raise click.UsageError("--as and --category go with --to")
    if to is not None:
        if dry_run:
            raise click.UsageError("--to sends a real test copy; leave out --dry-run")
        _send_test_copy(app, to, as_subscriber, categories, moment)
        return
    if dry_run:
        outbox = Outbox(Path(output), limit) if output else None
        with progress_bar(quiet=quiet, as_json=as_json) as progress:
            report = app.core.dry_run(
                frequency, moment, outbox=outbox, progress=progress, day=day or ""
            )
        _print_report(report, as_json, dry=True)
        if outbox is not None and not as_json:
            click.echo(f"Wrote {len(outbox.manifest)} message(s) and manifest.json to {output}")
        return
    app.core.ensure_templates()  # before the relay: a broken template is the editor's to fix
    app.core.check_relay()
    with _stop_on_sigterm() as stop, progress_bar(quiet=quiet, as_json=as_json) as progress:
        report = app.core.send(frequency, moment, stop=stop, progress=progress, day=day or "")
    _print_report(report, as_json, dry=False)
    if not report.ok:
        sys.exit(1)


def _send_test_copy(
    app: AppContext,
    to: str,
    as_subscriber: str | None,
    categories: tuple[str, ...],
    moment: datetime,
) -> None:
    if as_subscriber and categories:
        raise click.UsageError("use either --as or --category, not both")
    if not as_subscriber and not categories:
        raise click.UsageError("--to needs --as SUBSCRIBER or --category NAME")
    sent = app.core.test_send(to, as_of=moment, as_subscriber=as_subscriber, categories=categories)
    message = sent.message
    click.echo(
        f"Sent a test copy to {sent.address} ({len(message.data):,} bytes): {message.subject}"
    )


def _kb(size: int) -> str:
    return f"{size / 1000:.1f} KB"


def _print_report(report: SendReport, as_json: bool, *, dry: bool) -> None:
    if as_json:
        echo_json(report.as_dict())
        return
    label = f"{report.frequency} {report.period}"
    if report.status == "already-complete":
        click.echo(
            f"Edition {label} (#{report.edition_id}) is complete: {report.sent} sent, "
            f"{report.skipped} skipped, {report.failed + report.bounced} failed. "
            "Nothing to send."
        )
        return
    if report.status in ("skipped", "cancelled"):
        click.echo(
            f"Edition {label} (#{report.edition_id}) was {report.status}: {report.stop_reason}"
        )
        return
    if dry:
        state = f"edition #{report.edition_id}, resuming" if report.edition_id else "new edition"
        click.echo(f"Dry run: {label} ({state}); nothing sent, nothing recorded.")
        click.echo(
            f"Recipients: {report.recipients}; messages: {report.messages}; "
            f"skipped (nothing new): {report.skipped}"
        )
    else:
        click.echo(f"Edition {label} (#{report.edition_id}): {report.status}")
        click.echo(
            f"Recipients: {report.recipients}; sent: {report.sent}; skipped: "
            f"{report.skipped}; failed: {report.failed}; bounced: {report.bounced}; "
            f"deferred: {report.deferred}; retried: {report.retried}"
        )
        if report.undeliverable:
            click.echo(
                f"Undeliverable: {report.undeliverable} reader(s) whose address this relay "
                "cannot carry; recorded as failed with the reason (`digest editions show "
                f"{report.edition_id} --deliveries`)"
            )
        if report.resumed_in_flight:
            click.echo(
                f"Resumed: {report.resumed_in_flight} message(s) were in flight when the "
                "last send was killed and were sent again; those the relay had already "
                "accepted (at most one per connection) arrive twice."
            )
    if report.articles_per_category:
        click.echo("Articles per category:")
        width = max(len(n) for n in report.articles_per_category)
        for name, count in report.articles_per_category.items():
            click.echo(f"  {name:<{width}}  {count}")
    if report.messages:
        median, largest = report.size_summary()
        click.echo(
            f"Message size: median {_kb(median)}, largest {_kb(largest)}; "
            f"MJML compiles: {report.compiles} for {report.variants} variant(s); "
            f"{report.elapsed:.2f} s"
        )
    if report.relays:
        click.echo(f"Relays: {report.relay_shares()}")
    for warning in report.warnings:
        click.echo(f"Warning: {warning}", err=True)
    if report.status in ("stopped", "incomplete"):
        click.echo(
            f"Stopped: {report.stop_reason}. Run the same `digest send` again to resume.", err=True
        )


@contextmanager
def _stop_on_sigterm() -> Iterator[threading.Event]:
    """SIGTERM stops the send at the next message boundary, like Ctrl-C."""
    stop = threading.Event()

    def handler(signum: int, frame: FrameType | None) -> None:
        stop.set()

    previous = signal.signal(signal.SIGTERM, handler)
    try:
        yield stop
    finally:
        signal.signal(signal.SIGTERM, previous)


@click.group()
def editions() -> None:
    """Editions: one send of one frequency for one period, with its delivery counts; and
    the editor's desk: prepare a draft, steer it, approve it.

    An edition moves draft -> approved -> sending -> sent, or cancelled; it is held when
    approval is required ([schedule] approval) and its send time came without it.

    \b
    Examples:
        digest editions list
        digest editions show 3 --json
        digest editions prepare
        digest editions pin 4 a-7f3c --position 1
        digest editions approve 4
    """


@editions.command("list")
@json_option
@pass_app
def editions_list(app: AppContext, as_json: bool) -> None:
    """List editions, newest first, with their counts."""
    rows = [_edition_dict(summary) for summary in app.core.list_editions()]
    if as_json:
        echo_json(rows)
        return
    if not rows:
        click.echo("No editions yet.")
        return
    click.echo(
        f"{'id':>4}  {'edition':<18} {'status':<9} {'recip.':>7} {'sent':>6} "
        f"{'skipped':>7} {'failed':>6} {'pending':>7}"
    )
    for r in rows:
        click.echo(
            f"{r['id']:>4}  {r['frequency'] + ' ' + r['period']:<18} {r['status']:<9} "
            f"{r['recipients']:>7} {r['sent']:>6} {r['skipped']:>7} {r['failed']:>6} "
            f"{r['pending']:>7}"
        )


@editions.command("show")
@click.argument("edition_id", type=int)
@click.option("--deliveries", is_flag=True, help="Also list every delivery.")
@json_option
@pass_app
def editions_show(app: AppContext, edition_id: int, deliveries: bool, as_json: bool) -> None:
    """Show one edition's window and counts."""
    detail = app.core.show_edition(edition_id, deliveries=deliveries)
    data = _edition_dict(detail)
    bounces = detail.bounces
    data.update(
        hard_bounces=bounces["hard"],
        soft_bounces=bounces["soft"],
        complaints=bounces["complaints"],
        policy=bounces["policy"],
    )
    edition = detail.edition
    view = app.core.edition_plan_view(edition_id)
    data.update(
        approval=edition.approval,
        due_at=edition.due_at.isoformat() if edition.due_at else None,
        approved_by=edition.approved_by,
        approved_at=edition.approved_at.isoformat() if edition.approved_at else None,
        subject=edition.subject,
        intro=edition.intro,
        pinned=[
            {"category": c.name, "article": p.article.id, "title": p.article.title}
            for c in view.categories
            for p in c.articles
            if p.pinned
        ],
        excluded=[p.article_id for p in view.excluded],
        changes=[
            {"at": c.at.isoformat(), "editor": c.editor, "action": c.action, "detail": c.detail}
            for c in view.changes
        ],
    )
    if deliveries:
        data["deliveries"] = [
            {**dataclasses.asdict(d), "articles": list(d.articles)} for d in detail.deliveries
        ]
    if as_json:
        echo_json(data)
        return
    for key in (
        "id",
        "frequency",
        "period",
        "status",
        "starts_at",
        "ends_at",
        "created_at",
        "completed_at",
        "note",
        "recipients",
        "sent",
        "skipped",
        "failed",
        "bounced",
        "hard_bounces",
        "soft_bounces",
        "complaints",
        "policy",
        "pending",
        "in_flight",
        "approval",
        "due_at",
        "approved_by",
        "approved_at",
        "subject",
    ):
        if data.get(key) not in (None, ""):
            click.echo(f"{key + ':':<14}{data[key]}")
    if edition.intro:
        click.echo("intro:")
        for line in edition.intro.splitlines():
            click.echo(f"  | {line}" if line else "  |")
    for p in data["pinned"]:
        click.echo(f"pinned:       {p['article']} leads {p['category']}: {p['title']}")
    for article in data["excluded"]:
        click.echo(f"excluded:     {article}")
    if view.changes:
        click.echo("changes:")
        for c in view.changes:
            what = f": {c.detail}" if c.detail else ""
            click.echo(f"  {c.at:%Y-%m-%d %H:%M} UTC  {c.editor}  {c.action}{what}")
    for d in data.get("deliveries", []):
        click.echo(
            f"  {d['email'] or '(forgotten)'}  {d['status']}  {len(d['articles'])} "
            f"articles  {d['reply']}"
        )


def _edition_dict(summary: EditionSummary) -> dict[str, Any]:
    edition, counts = summary.edition, summary.counts
    return {
        "id": edition.id,
        "frequency": edition.frequency,
        "period": edition.period,
        "status": edition.status,
        "starts_at": edition.starts_at.isoformat(),
        "ends_at": edition.ends_at.isoformat(),
        "created_at": edition.created_at.isoformat() if edition.created_at else None,
        "completed_at": edition.completed_at.isoformat() if edition.completed_at else None,
        "note": edition.note,
        "recipients": counts["recipients"],
        "sent": counts["sent"],
        "skipped": counts["skipped"],
        "failed": counts["failed"],
        "bounced": counts["bounced"],
        "deferred": counts["deferred"],
        "pending": counts["pending"] + counts["sending"] + counts["deferred"],
        "in_flight": counts["sending"],
    }


COMMANDS = [send, editions]
