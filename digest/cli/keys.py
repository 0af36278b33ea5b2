"""`digest keys ...`: API keys for /api/v1/ (add prints the key once; only a hash is kept)."""

from __future__ import annotations

import click

from digest.cli.context import AppContext, echo_json, json_option, pass_app
from digest.cli.present import iso
from digest.models import ApiScope


@click.group()
def keys() -> None:
    """Add, list and revoke the keys of the HTTP API (/api/v1/ on `digest serve`).

    \b
    Scopes, each including the ones before it:
        read     GET articles, categories, subscribers, editions
        write    add articles and categories; sign readers up (pending, with the
                 confirmation email); change, unsubscribe and forget readers
        import   also add readers as active (you vouch for their consent)

    \b
    Examples:
        digest keys add cms --scope write
        digest keys list
        digest keys revoke cms
    """


@keys.command("add")
@click.argument("name")
@click.option(
    "--scope",
    type=click.Choice([str(s) for s in ApiScope]),
    required=True,
    help="What the key may do (see `digest keys --help`).",
)
@pass_app
def add(app: AppContext, name: str, scope: str) -> None:
    """Create a key and print it. It is shown only this once: store it in the client's
    secrets now."""
    new = app.core.add_api_key(name, scope)
    click.echo(new.token)
    click.echo(
        f"Key {new.key.name!r} ({new.key.scope}) created; it will not be shown again.", err=True
    )


@keys.command("list")
@json_option
@pass_app
def list_(app: AppContext, as_json: bool) -> None:
    """The keys, with their scope and when they were last used (never the key itself)."""
    rows = [
        {
            "name": k.name,
            "scope": str(k.scope),
            "created": iso(k.created_at),
            "last_used": iso(k.last_used_at),
            "revoked": iso(k.revoked_at),
        }
        for k in app.core.api_keys()
    ]
    if as_json:
        echo_json(rows)
        return
    if not rows:
        click.echo("No API keys yet (digest keys add NAME --scope read|write|import).")
        return
    for row in rows:
        state = (
            f"revoked {row['revoked']}"
            if row["revoked"]
            else f"last used {row['last_used'] or 'never'}"
        )
        click.echo(f"{row['name']}\t{row['scope']}\tcreated {row['created']}\t{state}")


@keys.command()
@click.argument("name")
@pass_app
def revoke(app: AppContext, name: str) -> None:
    """Revoke a key at once: requests with it get 401 from now on."""
    app.core.revoke_api_key(name)
    click.echo(f"Revoked {name}.")


COMMANDS = [keys]
