"""`digest doctor`: the DNS checks of digest.deliver.doctor, through App.doctor."""

from __future__ import annotations

import click

from digest.cli.context import AppContext, pass_app


@click.command()
@pass_app
def doctor(app: AppContext) -> None:
    """Check what receivers find in DNS: SPF at the return-path domain, the DKIM public key
    against dkim.key_file, DMARC at the From domain, and that bounces can come back.

    Prints one line a check, 'ok' or 'FIX' and what to do; exits 1 when something needs
    fixing, and says so in one line when no resolver answers.

    \b
    Examples:
        digest doctor
    """
    checks = app.core.doctor()
    for check in checks:
        click.echo(check.line())
    if not all(c.ok for c in checks):
        raise SystemExit(1)


COMMANDS = [doctor]
