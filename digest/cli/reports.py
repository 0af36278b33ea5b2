"""`digest editions stats` and `digest stats`: what an edition did, and the weekly trend per
category with the sign-up funnel. Each calls one use case of the core (digest/app/reports.py);
the JSON keys are documented in docs/reports.md."""

from __future__ import annotations

import csv
import sys

import click

from digest.app import EditionStats, Trend
from digest.app.report_values import FunnelWeek
from digest.app.reports import readable_duration
from digest.cli.context import AppContext, echo_json, json_option, pass_app
from digest.cli.send import editions
from digest.errors import InputError

CSV_COLUMNS = (
    "category",
    "slug",
    "recipients",
    "sent",
    "pending",
    "deferred",
    "failed",
    "undeliverable",
    "skipped",
    "bounced_hard",
    "bounced_soft",
    "complained",
    "policy",
    "unsubscribed",
    "clicks",
    "scanner_clicks",
    "click_readers",
)


@editions.command("stats")
@click.argument("edition_id", type=int, required=False)
@json_option
@click.option("--csv", "as_csv", is_flag=True, help="One CSV row per category.")
@pass_app
def editions_stats(app: AppContext, edition_id: int | None, as_json: bool, as_csv: bool) -> None:
    """What an edition did: recipients, sent, deferred, failed, bounced, complaints,
    unsubscribes through its links (within 7 days), clicks and opens; in all and per
    category. Without ID: the latest edition sent. docs/reports.md says what each number
    means.

    \b
    Examples:
        digest editions stats
        digest editions stats 12 --json
        digest editions stats 12 --csv > edition-12.csv
    """
    if as_json and as_csv:
        raise InputError("--json and --csv: choose one")
    stats = app.core.edition_stats(edition_id)
    if as_json:
        echo_json(stats.as_dict())
    elif as_csv:
        _write_csv(stats)
    else:
        _print_stats(stats)


def _write_csv(stats: EditionStats) -> None:
    writer = csv.writer(sys.stdout, lineterminator="\n")
    writer.writerow(CSV_COLUMNS)
    for c in stats.categories:
        row = {"category": c.category, "slug": c.slug, **c.deliveries.as_dict()}
        row.update(
            clicks=c.clicks.clicks,
            scanner_clicks=c.clicks.scanner_clicks,
            click_readers="" if c.clicks.readers is None else c.clicks.readers,
        )
        writer.writerow([row[k] for k in CSV_COLUMNS])


def _print_stats(stats: EditionStats) -> None:
    e, d = stats.edition, stats.deliveries
    started = f", started {e.started_at:%Y-%m-%d %H:%M} UTC" if e.started_at else ""
    click.echo(f"Edition {e.id}: {e.frequency} {e.period} ({e.status}){started}")
    click.echo(
        f"Recipients {d.recipients}: sent {d.sent}, deferred {d.deferred}, failed {d.failed}, "
        f"undeliverable {d.undeliverable}, skipped {d.skipped}, pending {d.pending}"
    )
    click.echo(
        f"Bounced: {d.bounced_hard} hard, {d.bounced_soft} soft; complained {d.complained}; "
        f"policy rejections {d.policy}"
    )
    click.echo(f"Unsubscribed through this edition's links within 7 days: {d.unsubscribed}")
    clicks = stats.clicks
    readers = f" ({clicks.readers} readers)" if clicks.readers is not None else ""
    click.echo(
        f"Clicks: {clicks.clicks} by people{readers}; {clicks.scanner_clicks} by link "
        "scanners (counted apart)"
    )
    click.echo(
        f"{stats.opens.label.capitalize()}: {stats.opens.opens} "
        f"({stats.opens.scanner_opens} by scanners)"
    )
    if stats.categories:
        click.echo("")
        click.echo(
            f"{'CATEGORY':<22}{'RECIP.':>7}{'SENT':>6}{'DEFER.':>7}{'FAILED':>7}{'HARD':>6}"
            f"{'SOFT':>6}{'COMPL.':>7}{'UNSUB.':>7}{'CLICKS':>7}{'SCANS':>7}"
        )
    for c in stats.categories:
        f = c.deliveries
        click.echo(
            f"{c.category[:21]:<22}{f.recipients:>7}{f.sent:>6}{f.deferred:>7}"
            f"{f.failed + f.undeliverable:>7}{f.bounced_hard:>6}{f.bounced_soft:>6}"
            f"{f.complained:>7}{f.unsubscribed:>7}{c.clicks.clicks:>7}"
            f"{c.clicks.scanner_clicks:>7}"
        )
    if stats.articles:
        click.echo("")
        click.echo("Most clicked:")
    for a in stats.articles[:10]:
        click.echo(f"  {a.clicks.clicks:>5}  {a.category}: {a.title or a.article_id}")


@click.command()
@click.option(
    "--weeks",
    type=int,
    default=12,
    show_default=True,
    help="How many weeks (UTC, Monday to Sunday) up to this one.",
)
@json_option
@pass_app
def stats(app: AppContext, weeks: int, as_json: bool) -> None:
    """The trend per category and week: readers, unsubscribes, clicks; per frequency and
    week: editions, recipients, sent, bounces, complaints, unsubscribes; and the sign-up
    funnel per week: sign-ups, confirmations, confirmation rate, median time to confirm.
    docs/reports.md says what each number means.

    \b
    Examples:
        digest stats
        digest stats --weeks 26 --json
    """
    trend = app.core.weekly_trend(weeks)
    if as_json:
        echo_json(trend.as_dict())
        return
    _print_trend(trend)


def _print_trend(trend: Trend) -> None:
    click.echo(f"Weeks {trend.weeks[0]} to {trend.weeks[-1]} (UTC, Monday to Sunday)")
    _print_categories(trend)
    _print_frequencies(trend)
    _print_funnel(trend)


def _print_categories(trend: Trend) -> None:
    for c in trend.categories:
        click.echo("")
        click.echo(c.category)
        active = [w for w in c.weeks if w.readers or w.unsubscribes or w.clicks or w.scanner_clicks]
        if not active:
            click.echo("  nothing sent, no unsubscribes, no clicks")
            continue
        click.echo(f"  {'WEEK':<10}{'READERS':>8}{'UNSUBS':>8}{'CLICKS':>8}{'SCANS':>7}")
        for w in active:
            click.echo(
                f"  {w.week:<10}{w.readers:>8}{w.unsubscribes:>8}{w.clicks:>8}{w.scanner_clicks:>7}"
            )


def _print_frequencies(trend: Trend) -> None:
    for frequency in trend.frequencies:
        sent = [w for w in frequency.weeks if w.editions]
        if not sent:
            continue
        click.echo("")
        click.echo(f"{frequency.frequency.capitalize()} editions")
        click.echo(
            f"  {'WEEK':<10}{'EDITIONS':>9}{'RECIP.':>8}{'SENT':>7}{'HARD':>6}{'SOFT':>6}"
            f"{'COMPL.':>7}{'UNSUB.':>7}"
        )
        for w in sent:
            click.echo(
                f"  {w.week:<10}{w.editions:>9}{w.recipients:>8}{w.sent:>7}{w.bounced_hard:>6}"
                f"{w.bounced_soft:>6}{w.complained:>7}{w.unsubscribed:>7}"
            )


def _print_funnel(trend: Trend) -> None:
    click.echo("")
    click.echo("Sign-ups (web, confirmed by email)")
    click.echo(f"  {'WEEK':<10}{'SIGN-UPS':>9}{'CONFIRMED':>10}{'RATE':>6}  MEDIAN TO CONFIRM")
    for f in trend.funnel:
        if f.signups:
            click.echo(
                f"  {f.week:<10}{f.signups:>9}{f.confirmations:>10}{_rate(f):>6}  "
                f"{readable_duration(f.median_seconds_to_confirm)}"
            )
    if not any(f.signups for f in trend.funnel):
        click.echo("  none in these weeks")


def _rate(f: FunnelWeek) -> str:
    return "" if f.confirmation_rate is None else f"{f.confirmation_rate:.0%}"


COMMANDS = [stats]
