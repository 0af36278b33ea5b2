"""`digest init`: create the database and a commented digest.toml, optionally sample data."""

from __future__ import annotations

import secrets
from pathlib import Path

import click

from digest.cli.context import AppContext, pass_app
from digest.config import DEFAULT_CONFIG_NAME, config_text, find_config


@click.command()
@click.option(
    "--sample", is_flag=True, help="Also load the built-in sample articles and subscribers."
)
@pass_app
def init(app: AppContext, sample: bool) -> None:
    """Create the database and a commented digest.toml. Safe to run again: nothing that
    exists is overwritten, and sample rows that are already there are left alone.

    \b
    Example:
        digest init --sample
    """
    config = find_config(app.config_path) or Path(DEFAULT_CONFIG_NAME)
    if config.exists():
        click.echo(f"Config: {config} (exists, left as it is)")
    else:
        config.write_text(config_text(secrets.token_urlsafe(32)), encoding="utf-8")
        click.echo(f"Config: {config} (written, with a new secret key)")
    app.create_db = True  # the one command that may
    app.core.db  # noqa: B018 (creates and migrates the database)
    click.echo(f"Database: {app.db_path}")
    if sample:
        result = app.core.load_sample()
        click.echo(
            f"Sample data: {result.articles_added} articles added, "
            f"{result.subscribers_added} subscribers added "
            f"({result.articles_total} articles in {result.categories_total} categories, "
            f"{result.subscribers_total} subscribers in the database)"
        )


COMMANDS = [init]
