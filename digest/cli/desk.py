"""The editor's desk from the terminal: `digest editions prepare`, `pin`, `unpin`,
`exclude`, `include`, `intro`, `subject`, `approve` and `cancel`. Each calls one use case of
the core (digest.app.desk), recorded with who made the change: the OS user, or `--as`."""

from __future__ import annotations

import getpass
from collections.abc import Callable
from datetime import datetime
from pathlib import Path
from typing import Any, TypeVar

import click

from digest.app import EditionPlanView
from digest.cli.context import AppContext, pass_app
from digest.cli.params import parse_date_option
from digest.cli.send import editions
from digest.errors import InputError

F = TypeVar("F", bound=Callable[..., Any])


def editor_option(f: F) -> F:
    return click.option(
        "--as",
        "editor",
        metavar="EDITOR",
        help="Who makes the change, for the record (default: your OS user name).",
    )(f)


def who(editor: str | None) -> str:
    if editor is not None:
        name = " ".join(editor.split())
        if not name:
            raise InputError("--as: an editor's name cannot be blank")
        return name[:100]
    try:
        return getpass.getuser()
    except (KeyError, OSError):
        return "unknown"


def _utc(at: datetime | None) -> str:
    return f"{at:%Y-%m-%d %H:%M} UTC" if at else "-"


def print_plan(view: EditionPlanView) -> None:
    """What each category carries, in send order, with the edition's state on top."""
    e = view.edition
    click.echo(
        f"Edition #{e.id} {e.frequency} {e.period}: {e.status} (approval {e.approval}); "
        f"cutoff {_utc(e.ends_at)}" + (f"; sends {_utc(e.due_at)}" if e.due_at else "")
    )
    click.echo(f"Subject: {e.subject or '(from the subject template)'}")
    if view.intro_text:
        click.echo("Intro:")
        for line in view.intro_text.splitlines():
            click.echo(f"  | {line}" if line else "  |")
    for category in view.categories:
        readers = f"{category.readers} reader{'s' if category.readers != 1 else ''}"
        if not category.articles:
            click.echo(f"{category.name}: nothing new ({readers})")
            continue
        click.echo(
            f"{category.name}: {len(category.articles)} of {category.candidates} "
            f"candidate(s), {readers}"
        )
        for i, planned in enumerate(category.articles, 1):
            a = planned.article
            mark = " [pinned]" if planned.pinned else ""
            click.echo(f"  {i}. {a.id}  {a.published_at[:10]}  {a.title}{mark}")
    if view.excluded:
        click.echo("Excluded: " + ", ".join(p.article_id for p in view.excluded))


@editions.command("prepare")
@click.option(
    "--frequency",
    type=click.Choice(["weekly", "daily"]),
    default="weekly",
    show_default=True,
    help="Which edition to prepare.",
)
@click.option(
    "--as-of",
    "as_of",
    callback=parse_date_option,
    metavar="DATETIME",
    help="The cutoff: the edition of the period containing it (default: now).",
)
@editor_option
@pass_app
def prepare(app: AppContext, frequency: str, as_of: datetime | None, editor: str | None) -> None:
    """Make the next edition a draft (or refresh it while still a draft) and print what
    each category will carry.

    The draft fixes the cutoff, and with it the articles; readers are fixed when it is sent.

    \b
    Examples:
        digest editions prepare
        digest editions prepare --frequency daily --as-of 2026-11-28T06:00:00Z
    """
    view = app.core.prepare_edition(frequency, as_of or app.clock(), editor=who(editor))
    if view.refreshed:
        click.echo(f"Refreshed the draft #{view.edition.id}: cutoff moved to now.")
    print_plan(view)


@editions.command("pin")
@click.argument("edition_id", type=int)
@click.argument("article")
@click.option("--position", type=int, help="Place among the category's pins (1 leads).")
@click.option("--category", help="The category it leads, when it is filed under several.")
@editor_option
@pass_app
def pin(
    app: AppContext,
    edition_id: int,
    article: str,
    position: int | None,
    category: str | None,
    editor: str | None,
) -> None:
    """Make ARTICLE lead its category in edition EDITION_ID, even if older than the newest.

    \b
    Example:
        digest editions pin 4 a-7f3c --position 1
    """
    view = app.core.pin_article(
        edition_id, article, editor=who(editor), category=category, position=position
    )
    for c in view.categories:
        pinned = [p.article.id for p in c.articles if p.pinned]
        if article in pinned:
            click.echo(
                f"Pinned {article} at {pinned.index(article) + 1} in {c.name} "
                f"(edition #{edition_id})."
            )


@editions.command("unpin")
@click.argument("edition_id", type=int)
@click.argument("article")
@editor_option
@pass_app
def unpin(app: AppContext, edition_id: int, article: str, editor: str | None) -> None:
    """Take the pin off ARTICLE: it goes back to its place by date."""
    app.core.unpin_article(edition_id, article, editor=who(editor))
    click.echo(f"Unpinned {article} (edition #{edition_id}).")


@editions.command("exclude")
@click.argument("edition_id", type=int)
@click.argument("article")
@editor_option
@pass_app
def exclude(app: AppContext, edition_id: int, article: str, editor: str | None) -> None:
    """Never send ARTICLE in edition EDITION_ID (`include` puts it back)."""
    app.core.exclude_article(edition_id, article, editor=who(editor))
    click.echo(f"Excluded {article} from edition #{edition_id}.")


@editions.command("include")
@click.argument("edition_id", type=int)
@click.argument("article")
@editor_option
@pass_app
def include(app: AppContext, edition_id: int, article: str, editor: str | None) -> None:
    """Put an excluded ARTICLE back into edition EDITION_ID."""
    app.core.include_article(edition_id, article, editor=who(editor))
    click.echo(f"Included {article} in edition #{edition_id} again.")


@editions.command("intro")
@click.argument("edition_id", type=int)
@click.option("--text", help="The introduction, in Markdown ('' removes it).")
@click.option(
    "--file",
    "path",
    type=click.Path(dir_okay=False, exists=True, path_type=Path),
    help="Read the introduction from this Markdown file.",
)
@editor_option
@pass_app
def intro(
    app: AppContext, edition_id: int, text: str | None, path: Path | None, editor: str | None
) -> None:
    """Write the introduction shown at the top of edition EDITION_ID (Markdown; rendered
    safely into the HTML and the text part).

    \b
    Examples:
        digest editions intro 4 --text "Two stories **matter** this week."
        digest editions intro 4 --file intro.md
    """
    if (text is None) == (path is None):
        raise InputError("give the intro with either --text or --file")
    if path is not None:
        try:
            text = path.read_text(encoding="utf-8")
        except UnicodeDecodeError:
            raise InputError(f"{path}: not UTF-8 text") from None
    assert text is not None
    view = app.core.set_intro(edition_id, text, editor=who(editor))
    if view.edition.intro:
        click.echo(f"Intro of edition #{edition_id} set ({len(view.edition.intro)} characters).")
    else:
        click.echo(f"Intro of edition #{edition_id} removed.")


@editions.command("subject")
@click.argument("edition_id", type=int)
@click.argument("subject")
@editor_option
@pass_app
def subject(app: AppContext, edition_id: int, subject: str, editor: str | None) -> None:
    """Give edition EDITION_ID a subject of its own ('' goes back to the template's)."""
    view = app.core.set_subject(edition_id, subject, editor=who(editor))
    shown = view.edition.subject or "(from the subject template)"
    click.echo(f"Subject of edition #{edition_id}: {shown}")


@editions.command("approve")
@click.argument("edition_id", type=int)
@editor_option
@pass_app
def approve(app: AppContext, edition_id: int, editor: str | None) -> None:
    """Approve edition EDITION_ID: it goes at its send time (a held one, at once)."""
    edition = app.core.approve_edition(edition_id, editor=who(editor))
    click.echo(
        f"Approved edition #{edition.id} ({edition.frequency} {edition.period}) as "
        f"{edition.approved_by}."
    )


@editions.command("cancel")
@click.argument("edition_id", type=int)
@click.option("--reason", default="", help="Why, for the record.")
@editor_option
@pass_app
def cancel(app: AppContext, edition_id: int, reason: str, editor: str | None) -> None:
    """Cancel edition EDITION_ID before it is sent: it never goes."""
    edition = app.core.cancel_edition(edition_id, editor=who(editor), reason=reason)
    click.echo(f"Cancelled edition #{edition.id} ({edition.frequency} {edition.period}).")


COMMANDS: list[click.Command] = []  # the verbs above live in `digest editions`
