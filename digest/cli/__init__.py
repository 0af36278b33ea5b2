"""The `digest` command: a thin click shell over the application core (digest.app). Each
command parses its options, calls one use case and prints the result. Library errors
(DigestError) are turned into one-line messages and a non-zero exit here, in one place."""

from __future__ import annotations

from typing import Any

import click

from digest import __version__
from digest.app import DatabaseFailure
from digest.cli.context import AppContext, pass_app
from digest.errors import DigestError


class DigestGroup(click.Group):
    def invoke(self, ctx: click.Context) -> Any:
        try:
            return super().invoke(ctx)
        except DigestError as e:
            error = click.ClickException(str(e))
            error.exit_code = e.exit_code
            raise error from e
        except DatabaseFailure as e:
            # Anything the store did not already translate: usually a lock held too long.
            app = ctx.find_object(AppContext)
            where = app.db_path if app else "database"
            raise click.ClickException(f"{where}: database error: {e}") from e


CONTEXT_SETTINGS = {"help_option_names": ["-h", "--help"], "max_content_width": 100}


@click.group(cls=DigestGroup, context_settings=CONTEXT_SETTINGS)
@click.version_option(__version__, "--version", prog_name="digest")
@click.option(
    "--config",
    "config_path",
    type=click.Path(dir_okay=False),
    help="Settings file (default: $DIGEST_CONFIG, then ./digest.toml).",
)
@click.option(
    "--db",
    "db_path",
    type=click.Path(dir_okay=False),
    help="SQLite database (default: $DIGEST_DB, then ./subscribers.db).",
)
@click.pass_context
def cli(ctx: click.Context, config_path: str | None, db_path: str | None) -> None:
    """Category digests for a news site: feeds in, one email per reader out.

    \b
    Quick start:
        digest init --sample          # database, digest.toml, sample articles
        digest categories list
        digest preview --category "Opioid Drugs" -o digest.html
        digest send --dry-run         # who would get what, nothing sent
    """
    ctx.obj = AppContext(config_path=config_path, db_override=db_path)
    ctx.call_on_close(ctx.obj.close)


# Command modules register themselves on import; keep this list in pipeline order.
from digest.cli import articles as _articles  # noqa: E402
from digest.cli import bounces as _bounces  # noqa: E402
from digest.cli import desk as _desk  # noqa: E402
from digest.cli import doctor as _doctor  # noqa: E402
from digest.cli import editors as _editors  # noqa: E402
from digest.cli import init as _init  # noqa: E402
from digest.cli import keys as _keys  # noqa: E402
from digest.cli import preview as _preview  # noqa: E402
from digest.cli import reports as _reports  # noqa: E402
from digest.cli import schedule as _schedule  # noqa: E402
from digest.cli import send as _send  # noqa: E402
from digest.cli import serve as _serve  # noqa: E402
from digest.cli import subscribers as _subscribers  # noqa: E402
from digest.cli import webhooks as _webhooks  # noqa: E402

for _module in (
    _init,
    _articles,
    _subscribers,
    _preview,
    _send,
    _desk,
    _editors,
    _bounces,
    _reports,
    _doctor,
    _schedule,
    _serve,
    _keys,
    _webhooks,
):
    for _command in _module.COMMANDS:
        cli.add_command(_command)

__all__ = ["AppContext", "cli", "pass_app"]
