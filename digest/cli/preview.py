"""`digest preview` and `digest templates check`."""

from __future__ import annotations

from datetime import datetime
from pathlib import Path

import click

from digest.cli.context import AppContext, pass_app
from digest.cli.params import parse_date_option
from digest.curate import content_for_categories, content_for_subscriber
from digest.mime import make_message_id, sending_domain
from digest.models import Recipient
from digest.render import Renderer
from digest.render.checks import check_templates

# Who a category preview is addressed to: nobody (RFC 2606 reserves .invalid).
PREVIEW_RECIPIENT = Recipient(subscriber_id=0, email="preview@example.invalid", name="")


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
    settings = app.settings
    if email:
        recipient, content = content_for_subscriber(app.db, settings, email, moment)
        who = email
    else:
        content = content_for_categories(app.db, settings, list(categories), moment)
        recipient, who = PREVIEW_RECIPIENT, ", ".join(categories)
    if content is None or content.article_count == 0:
        click.echo(
            f"No new articles for {who} in the edition due {moment:%Y-%m-%d %H:%M %Z}.", err=True
        )
        raise SystemExit(1)
    renderer = Renderer(settings)
    variant = renderer.render_variant(content)
    if fmt == "html":
        data = renderer.render_html(variant, recipient).encode("utf-8")
    elif fmt == "text":
        data = renderer.render_text(variant, recipient).encode("utf-8")
    else:
        message = renderer.personalise(
            variant,
            recipient,
            message_id=make_message_id(sending_domain(settings)),
            date=moment,
        )
        data = message.data
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
    report = check_templates(app.settings, template_dir)
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
