"""`digest subscribers ...`: add, import, list, export, unsubscribe, forget, show.

Each command calls one use case of the application core (:mod:`digest.app.audience`);
DigestErrors propagate to the root group, which prints ``Error: <message>`` and exits 1.
"""

from __future__ import annotations

import json

import click

from digest.cli.context import AppContext, echo_json, json_option, pass_app
from digest.cli.present import subscriber_dict
from digest.cli.progress import progress_bar, quiet_option
from digest.clock import to_db
from digest.models import FREQUENCIES, SUBSCRIBER_STATUSES, Subscriber


@click.group()
def subscribers() -> None:
    """Add, import, list, export and remove subscribers.

    \b
    Examples:
        digest subscribers add ana@example.com --category Courts --name "Ana Lima"
        digest subscribers import readers.csv
        digest subscribers list --category "Opioid Drugs" --status active
        digest subscribers export -o backup.csv
        digest subscribers unsubscribe ana@example.com
    """


@subscribers.command()
@click.argument("email")
@click.option(
    "--category",
    "-c",
    "categories",
    multiple=True,
    required=True,
    help="A category name or slug, any case. Repeat for several, in the reader's order.",
)
@click.option("--name", help="Display name used in the To: header.")
@click.option(
    "--frequency",
    type=click.Choice(FREQUENCIES),
    help="How often the digest is sent (new subscribers: weekly).",
)
@click.option("--timezone", help="IANA timezone name (new subscribers: UTC).")
@click.option(
    "--day",
    "delivery_day",
    help="A weekly reader's day: mon..sun, or '' for the site's [schedule] weekly_day "
    "(new subscribers: the site's).",
)
@click.option(
    "--reactivate",
    is_flag=True,
    help="Re-subscribe an address that unsubscribed, bounced, complained or was forgotten "
    "(only with the reader's fresh consent).",
)
@pass_app
def add(
    app: AppContext,
    email: str,
    categories: tuple[str, ...],
    name: str | None,
    frequency: str | None,
    timezone: str | None,
    delivery_day: str | None,
    reactivate: bool,
) -> None:
    """Subscribe EMAIL as active (you vouch for their consent), or update an existing
    subscriber: their categories are replaced, and name, frequency, timezone and day change
    only when given.

    \b
    Examples:
        digest subscribers add ana@example.com --category Courts
        digest subscribers add zoe@example.org -c "Opioid Drugs" -c courts \\
            --name "Zoë Martin" --frequency daily --timezone Europe/Paris
        digest subscribers add ana@example.com -c Courts --day thu
    """
    result = app.core.add_subscriber(
        email,
        categories,
        name=name,
        frequency=frequency,
        timezone=timezone,
        delivery_day=delivery_day,
        source="cli",
        reactivate=reactivate,
    )
    if result.created:
        verb = "Added"
    elif result.reactivated:
        verb = "Reactivated"
    elif result.changed:
        verb = "Updated"
    else:
        verb = "Already subscribed, unchanged:"
    click.echo(f"{verb} {_describe(result.subscriber)}.")


def _describe(subscriber: Subscriber) -> str:
    return (
        f"{subscriber.email} ({'; '.join(subscriber.categories)}; "
        f"{subscriber.frequency}{_day(subscriber)}, {subscriber.timezone})"
    )


def _day(subscriber: Subscriber) -> str:
    weekly_day = subscriber.frequency == "weekly" and subscriber.delivery_day
    return f" on {subscriber.delivery_day}" if weekly_day else ""


@subscribers.command("import")
@click.argument("file", type=click.Path(dir_okay=False))
@click.option("--strict", is_flag=True, help="Import nothing if any row is rejected.")
@quiet_option
@pass_app
def import_(app: AppContext, file: str, strict: bool, quiet: bool) -> None:
    """Import subscribers from a UTF-8 CSV FILE with a header row.

    Columns (any case, any order): email (required), name, categories (separated by ; or |),
    frequency, timezone, status, language (es, ar...), delivery_day (mon..sun, a weekly
    reader's day). An empty cell keeps the existing
    value. Addresses that unsubscribed, bounced, complained or were forgotten are reported and
    never re-subscribed. When an address appears twice, the last row wins. Rejected rows are
    listed on stderr with their line numbers and the exit code is 1; the good rows are still
    imported unless --strict is given. On a terminal a progress bar runs on stderr
    (--quiet hides it).

    \b
    Example file:
        email,name,categories,frequency,timezone
        ana@example.com,Ana Lima,Courts;Consumer Safety,weekly,America/Sao_Paulo
    \b
    Example:
        digest subscribers import readers.csv --strict
    """
    with progress_bar(quiet=quiet) as progress:
        result = app.core.import_subscribers(file, strict=strict, progress=progress)
    click.echo(result.summary)
    for line, reason in result.rejected:
        click.echo(f"  line {line}: {reason}", err=True)
    for line, address in result.suppressed:
        click.echo(f"  line {line}: {address} is suppressed; not re-subscribed", err=True)
    for line, winner in result.duplicates:
        click.echo(f"  line {line}: same address as line {winner}, which was used", err=True)
    if not result.written:
        click.echo("Nothing was imported (--strict): fix the rejected lines and retry.", err=True)
    if result.rejected:
        raise click.exceptions.Exit(1)


@subscribers.command("list")
@click.option("--category", "-c", help="Only subscribers of this category.")
@click.option("--status", "-s", type=click.Choice(SUBSCRIBER_STATUSES), help="Only this status.")
@json_option
@pass_app
def list_(app: AppContext, category: str | None, status: str | None, as_json: bool) -> None:
    """List subscribers, oldest first: email, status, frequency, timezone, categories and
    name, separated by tabs.

    \b
    Examples:
        digest subscribers list --category Courts --status active
        digest subscribers list --json
    """
    rows = app.core.list_subscribers(category=category, status=status)
    if as_json:
        # Streamed one object at a time: the list can be a million subscribers long.
        click.echo("[", nl=False)
        for i, subscriber in enumerate(rows):
            text = json.dumps(subscriber_dict(subscriber), ensure_ascii=False)
            click.echo(("," if i else "") + "\n  " + text, nl=False)
        click.echo("\n]")
        return
    click.echo("email\tstatus\tfrequency\ttimezone\tcategories\tname")
    for s in rows:
        click.echo(
            f"{s.email}\t{s.status}\t{s.frequency}\t{s.timezone}\t"
            f"{'; '.join(s.categories)}\t{s.name}"
        )


@subscribers.command()
@click.option(
    "--format",
    "fmt",
    type=click.Choice(["csv", "json"]),
    default="csv",
    show_default=True,
)
@click.option(
    "--output",
    "-o",
    type=click.Path(dir_okay=False, writable=True),
    default="-",
    help="File to write (default: standard output).",
)
@quiet_option
@pass_app
def export(app: AppContext, fmt: str, output: str, quiet: bool) -> None:
    """Export every subscriber that still has an address, in a form `import` reads back.
    With -o on a terminal, a progress bar runs on stderr (--quiet hides it).

    \b
    Examples:
        digest subscribers export -o backup.csv
        digest subscribers export --format json > subscribers.json
    """
    # Exporting to the terminal itself: the rows are the progress, no bar over them.
    with (
        click.open_file(output, "w", encoding="utf-8") as out,
        progress_bar(quiet=quiet or output == "-") as progress,
    ):
        count = app.core.export_subscribers(out, fmt, progress=progress)
    if output != "-":
        click.echo(f"Exported {count} subscribers to {output}.", err=True)


@subscribers.command("unsubscribe")
@click.argument("email")
@pass_app
def unsubscribe_(app: AppContext, email: str) -> None:
    """Unsubscribe EMAIL at once. The address is kept so it is never mailed again.

    \b
    Example:
        digest subscribers unsubscribe ana@example.com
    """
    if app.core.unsubscribe(email, source="cli"):
        click.echo(f"Unsubscribed {email}.")
    else:
        status = app.core.find_subscriber(email).status
        click.echo(f"{email} is already {status}; nothing changed.")


@subscribers.command("forget")
@click.argument("email")
@pass_app
def forget_(app: AppContext, email: str) -> None:
    """Erase EMAIL's personal data (right to erasure). A hash of the address is kept so
    it stays suppressed and cannot be re-added by mistake.

    \b
    Example:
        digest subscribers forget ana@example.com
    """
    app.core.forget(email, source="cli")
    click.echo(f"Forgot {email}: personal data erased, the address stays suppressed.")


@subscribers.command()
@click.argument("email")
@json_option
@pass_app
def show(app: AppContext, email: str, as_json: bool) -> None:
    """Show one subscriber and their event history.

    \b
    Example:
        digest subscribers show ana@example.com
    """
    history = app.core.reader_history(email)
    subscriber, events = history.subscriber, history.events
    data = subscriber_dict(subscriber)
    if as_json:
        data["events"] = [
            {"kind": e.kind, "at": to_db(e.at), "source": e.source, "detail": e.detail}
            for e in events
        ]
        echo_json(data)
        return
    for key in ("email", "name", "status", "frequency", "timezone"):
        click.echo(f"{key + ':':<15}{data[key]}".rstrip())
    click.echo(f"{'categories:':<15}{'; '.join(subscriber.categories)}".rstrip())
    for key in ("created_at", "confirmed_at", "unsubscribed_at"):
        if data[key]:
            click.echo(f"{key.replace('_at', '') + ':':<15}{data[key]}")
    click.echo(f"{'source:':<15}{subscriber.source}".rstrip())
    click.echo("events:")
    for e in events:
        detail = f"  {e.detail}" if e.detail else ""
        click.echo(f"  {to_db(e.at)}  {e.kind:<12} {e.source}{detail}".rstrip())


COMMANDS = [subscribers]
