"""`digest preview` and `digest templates check`."""

from __future__ import annotations

from datetime import datetime
from pathlib import Path

import click

from digest.cli.context import AppContext, pass_app
from digest.cli.params import parse_date_option


@click.command()
@click.option("--subscriber", "email", metavar="EMAIL", help="Preview this subscriber's digest.")
@click.option(
    "--category",
    "categories",
    multiple=True,
    metavar="NAME",
    help="Preview a digest of these categories (repeatable).",
)
@click.option(
    "--format",
    "fmt",
    type=click.Choice(["html", "text", "eml"]),
    default="html",
    show_default=True,
    help="HTML page, the plain-text part, or the whole message as sent.",
)
@click.option("-o", "--output", type=click.Path(dir_okay=False), help="Write here, not stdout.")
@click.option(
    "--as-of",
    callback=parse_date_option,
    metavar="DATETIME",
    help="Render the edition due at this time (default: now).",
)
@pass_app
def preview(
    app: AppContext,
    email: str | None,
    categories: tuple[str, ...],
    fmt: str,
    output: str | None,
    as_of: datetime | None,
) -> None:
    """Render a digest without sending it. Exits 1 when there is nothing new to show.

    \b
    Examples:
        digest preview --category "Opioid Drugs" -o digest.html
        digest preview --subscriber ana@example.org --format text
        digest preview --category Recalls --format eml --as-of 2026-11-30
    """
    if bool(email) == bool(categories):
        raise click.UsageError("give either --subscriber EMAIL or one or more --category")
    moment = as_of or app.clock()
    if email:
        found = app.core.preview_for_subscriber(email, moment)
        who = email
    else:
        found = app.core.preview_for_categories(categories, moment)
        who = ", ".join(categories)
    if found is None:
        click.echo(
            f"No new articles for {who} in the edition due {moment:%Y-%m-%d %H:%M %Z}.", err=True
        )
        raise SystemExit(1)
    rendered = app.core.render_preview(found, fmt, date=moment)
    variant, data = rendered.variant, rendered.data
    if output:
        Path(output).write_bytes(data)
        trimmed = f", {variant.trimmed} trimmed for size" if variant.trimmed else ""
        click.echo(
            f"Wrote {output}: {variant.subject!r}, {variant.content.article_count} articles"
            f"{trimmed}",
            err=True,
        )
    else:
        # click.echo writes bytes to the binary stream as they are (no newline added).
        click.echo(data, nl=False)


@click.group()
def templates() -> None:
    """Check the email templates (yours in [templates] dir, else the shipped ones)."""


@templates.command("check")
@click.option(
    "--dir",
    "template_dir",
    type=click.Path(file_okay=False, exists=True),
    help="Check the templates in this folder (missing ones fall back to the defaults).",
)
@pass_app
def check(app: AppContext, template_dir: str | None) -> None:
    """Compile every template against sample content full of hostile text and check the
    result: MJML errors, unknown variables, HTML size, CSS size, accessibility (lang, title,
    alt text, headings, link text, layout tables) and C1 control characters.

    \b
    Example:
        digest templates check --dir my-templates
    """
    report = app.core.check_templates(template_dir)
    for note in report.notes:
        click.echo(note)
    for warning in report.warnings:
        click.echo(f"warning: {warning}")
    for error in report.errors:
        click.echo(f"error: {error}", err=True)
    if not report.ok:
        raise SystemExit(1)
    click.echo("Templates OK")


COMMANDS = [preview, templates]
