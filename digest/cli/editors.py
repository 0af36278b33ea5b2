"""`digest editors`: who may use the editor's desk (/admin/ on `digest serve`)."""

from __future__ import annotations

import click

from digest.app import EditorInvite
from digest.cli.context import AppContext, echo_json, json_option, pass_app


@click.group()
def editors() -> None:
    """Editors: the people who may review, steer and approve editions at /admin/.

    \b
    Examples:
        digest editors add eve@example.com --name "Eve Example"
        digest editors list
        digest editors link eve@example.com     # a new link to set the password
        digest editors remove eve@example.com
    """


def _print_invite(invite: EditorInvite, verb: str) -> None:
    editor = invite.editor
    click.echo(f"{verb} editor {editor.email}" + (f" ({editor.name})" if editor.name else "") + ".")
    click.echo(
        f"Send them this link to set a password; it works once, until "
        f"{invite.expires_at:%Y-%m-%d %H:%M} UTC:"
    )
    click.echo(f"  {invite.link}")


@editors.command("add")
@click.argument("email")
@click.option("--name", default="", help="Their name, as the desk shows it.")
@pass_app
def add(app: AppContext, email: str, name: str) -> None:
    """Make EMAIL an editor and print a one-time link to set their password."""
    _print_invite(app.core.add_editor(email, name), "Added")


@editors.command("link")
@click.argument("email")
@pass_app
def link(app: AppContext, email: str) -> None:
    """Print a new one-time link to set (or reset) an editor's password."""
    _print_invite(app.core.editor_link(email), "New link for")


@editors.command("list")
@json_option
@pass_app
def list_(app: AppContext, as_json: bool) -> None:
    """List the editors (never their passwords)."""
    rows = [
        {
            "id": e.id,
            "email": e.email,
            "name": e.name,
            "password_set": e.password_set_at is not None,
            "last_login_at": e.last_login_at.isoformat() if e.last_login_at else None,
        }
        for e in app.core.list_editors()
    ]
    if as_json:
        echo_json(rows)
        return
    if not rows:
        click.echo("No editors yet: `digest editors add EMAIL`.")
        return
    for r in rows:
        state = "password set" if r["password_set"] else "no password yet"
        login = f", last login {r['last_login_at']}" if r["last_login_at"] else ""
        name = f" ({r['name']})" if r["name"] else ""
        click.echo(f"{r['email']}{name}: {state}{login}")


@editors.command("remove")
@click.argument("email")
@pass_app
def remove(app: AppContext, email: str) -> None:
    """Remove an editor: they can no longer log in."""
    editor = app.core.remove_editor(email)
    click.echo(f"Removed editor {editor.email}.")


COMMANDS = [editors]
