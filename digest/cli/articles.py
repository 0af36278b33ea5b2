"""`digest articles ...` and `digest categories ...`."""

from __future__ import annotations

from datetime import datetime
from typing import Any

import click

from digest.cli.context import AppContext, echo_json, json_option, pass_app
from digest.cli.params import parse_date_option
from digest.cli.progress import progress_bar, quiet_option
from digest.clock import to_db
from digest.errors import DigestError
from digest.models import Article, Category


@click.group()
def articles() -> None:
    """Import, add and list articles."""


@articles.command(name="import")
@click.argument("sources", metavar="SOURCE...", nargs=-1, required=True)
@click.option(
    "--category",
    "categories",
    multiple=True,
    metavar="NAME",
    help="Put every article in this category, ignoring the entries' own tags. Repeatable.",
)
@click.option(
    "--since",
    callback=parse_date_option,
    metavar="DATE",
    help="Skip entries published before this date.",
)
@quiet_option
@pass_app
@click.pass_context
def import_(
    ctx: click.Context,
    app: AppContext,
    sources: tuple[str, ...],
    categories: tuple[str, ...],
    since: datetime | None,
    quiet: bool,
) -> None:
    """Import articles from feeds (RSS, Atom, JSON Feed) or files (.jsonl, .csv).

    Each SOURCE is read and checked as a whole, then written in one transaction; a source
    that fails is reported and the others still import. Re-importing is safe: an entry
    already stored is left alone, or updated if its content changed. On a terminal a
    progress line runs on stderr while each source is read and saved (--quiet hides it).

    \b
    Examples:
        digest articles import https://news.example.com/feed/
        digest articles import opioids.xml --category "Opioid Drugs"
        digest articles import articles.jsonl articles.csv --since 2026-11-01
    """
    failed = 0
    for source in sources:
        try:
            with progress_bar(quiet=quiet) as progress:
                counts = app.core.import_articles(
                    source, categories=categories, since=since, progress=progress
                )
        except DigestError as e:
            failed += 1
            click.echo(f"Error: {e}", err=True)
            continue
        click.echo(
            f"{source}: {counts.added} added, {counts.updated} updated, "
            f"{counts.unchanged} unchanged"
        )
    if failed:
        ctx.exit(1)


@articles.command()
@click.option("--title", required=True, help="Headline (plain text).")
@click.option("--url", required=True, help="Link to the article (http or https).")
@click.option(
    "--category",
    "categories",
    multiple=True,
    required=True,
    metavar="NAME",
    help="Category name; repeat for several.",
)
@click.option("--summary", default="", help="One or two plain-text sentences.")
@click.option(
    "--published",
    callback=parse_date_option,
    metavar="DATE",
    help="Publication date (default: now).",
)
@click.option("--author", default="", help="Byline.")
@click.option("--image", default="", help="Image URL (https).")
@pass_app
def add(
    app: AppContext,
    title: str,
    url: str,
    categories: tuple[str, ...],
    summary: str,
    published: datetime | None,
    author: str,
    image: str,
) -> None:
    """Add one article by hand (or update it, matched by URL).

    \b
    Example:
        digest articles add --title "Court Upholds Opioid Verdict" \\
            --url https://news.example.com/courts/opioid-verdict \\
            --category Courts --category "Opioid Drugs"
    """
    article, counts = app.core.add_article(
        title=title,
        url=url,
        categories=categories,
        summary=summary,
        published=published,
        author=author,
        image=image,
    )
    verb = "Added" if counts.added else "Updated" if counts.updated else "Unchanged"
    click.echo(f"{verb} article {article.id}: {article.title}")


@articles.command(name="list")
@click.option("--category", metavar="NAME", help="Only this category (name or slug).")
@click.option(
    "--since",
    callback=parse_date_option,
    metavar="DATE",
    help="Only articles published on or after this date.",
)
@click.option("--limit", type=click.IntRange(min=1), help="At most this many.")
@json_option
@pass_app
def list_(
    app: AppContext,
    category: str | None,
    since: datetime | None,
    limit: int | None,
    as_json: bool,
) -> None:
    """List articles, newest first.

    \b
    Examples:
        digest articles list --category "Opioid Drugs" --since 2026-11-21
        digest articles list --limit 5 --json
    """
    found = app.core.list_articles(category=category, since=since, limit=limit)
    if as_json:
        echo_json([article_json(a) for a in found])
        return
    if not found:
        click.echo("No articles.")
        return
    for article in found:
        when = article.published_at.strftime("%Y-%m-%d %H:%M")
        click.echo(f"{when}  {article.id}  {article.title}  [{', '.join(article.categories)}]")


def article_json(article: Article) -> dict[str, Any]:
    return {
        "id": article.id,
        "url": article.url,
        "title": article.title,
        "published_at": to_db(article.published_at),
        "categories": list(article.categories),
        "summary": article.summary,
        "author": article.author,
        "image_url": article.image_url,
        "image_alt": article.image_alt,
        "body_html": article.body_html,
    }


@click.group()
def categories() -> None:
    """List and add categories."""


@categories.command(name="list")
@json_option
@pass_app
def categories_list(app: AppContext, as_json: bool) -> None:
    """List categories with their article and active-subscriber counts.

    \b
    Example:
        digest categories list --json
    """
    found = app.core.list_categories()
    if as_json:
        echo_json([category_json(c) for c in found])
        return
    if not found:
        click.echo("No categories yet (import articles or run `digest categories add NAME`).")
        return
    width = max(len("CATEGORY"), *(len(c.name) for c in found))
    click.echo(f"{'CATEGORY':<{width}}  ARTICLES  SUBSCRIBERS  DESCRIPTION")
    for c in found:
        line = f"{c.name:<{width}}  {c.article_count:>8}  {c.subscriber_count:>11}  {c.description}"
        click.echo(line.rstrip())


def category_json(category: Category) -> dict[str, Any]:
    return {
        "id": category.id,
        "slug": category.slug,
        "name": category.name,
        "description": category.description,
        "article_count": category.article_count,
        "subscriber_count": category.subscriber_count,
    }


@categories.command(name="add")
@click.argument("name")
@click.option("--description", default="", help="One line shown on the subscribe page.")
@pass_app
def categories_add(app: AppContext, name: str, description: str) -> None:
    """Add a category. Articles' own category tags create categories too.

    \b
    Example:
        digest categories add "Medical Malpractice" --description "Negligence suits"
    """
    if not name.strip():
        raise click.BadParameter("must not be empty", param_hint="NAME")
    result = app.core.add_category(name, description)
    category = result.category
    if not result.created:
        click.echo(f"Category {category.name} ({category.slug}) already exists")
        return
    click.echo(f"Added category {category.name} ({category.slug})")


COMMANDS = [articles, categories]
