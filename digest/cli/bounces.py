"""`digest bounces import` and `digest subscribers reactivate`: thin shells over
:mod:`digest.app.feedback`.

``reactivate`` belongs with the other subscriber commands but lives here, next to the
policy it undoes; it attaches itself to the ``subscribers`` group when this module loads.
"""

from __future__ import annotations

from pathlib import Path

import click

from digest.bounces import ImportReport
from digest.cli.context import AppContext, echo_json, json_option, pass_app
from digest.cli.progress import progress_bar, quiet_option
from digest.cli.subscribers import subscribers


@click.group()
def bounces() -> None:
    """Import bounce and complaint reports and apply the [bounces] policy.

    Hard bounces (5.1.x) and complaints suppress the reader at once; soft bounces do after
    soft_limit editions within soft_window_days. Policy rejections (x.7.x) are the
    sender's problem: reported, never held against the reader.

    \b
    Examples:
        digest bounces import ~/Maildir/.Bounces
        digest bounces import bounces.mbox ndr.eml
    """


@bounces.command("import")
@click.argument("paths", nargs=-1, required=True, type=click.Path(path_type=Path))
@json_option
@quiet_option
@pass_app
def import_(app: AppContext, paths: tuple[Path, ...], as_json: bool, quiet: bool) -> None:
    """Read bounce and complaint messages from PATHS: .eml files, folders of .eml files,
    mbox files or Maildir folders (read only: nothing is moved or flagged).

    Understands RFC 3464 delivery status notifications, ARF complaint reports, Amazon SES
    notifications and the plain-text bounces of common servers. Each report is matched to
    the reader by the VERP return path, the original Message-ID or the recipient address;
    anything else is listed as unrecognised and changes nothing. Importing the same
    messages again changes nothing. On a terminal a live count of messages runs on stderr
    (--quiet or --json hides it).

    \b
    Examples:
        digest bounces import ~/Maildir/.Bounces
        digest bounces import /var/mail/bounces --json
    """
    with progress_bar(quiet=quiet, as_json=as_json) as progress:
        report = app.core.import_bounces(paths, progress=progress)
    if as_json:
        echo_json(report.as_dict())
        return
    for line in format_report(report):
        click.echo(line)


@bounces.command("fetch")
@json_option
@quiet_option
@pass_app
def fetch(app: AppContext, as_json: bool, quiet: bool) -> None:
    """Read the bounce mailbox ([bounces] imap_url) over IMAP and apply what it holds.

    Each message is recorded, then moved to done_folder (or to unrecognised_folder when it
    is no report about our readers), so nothing is read twice and nothing is lost if the
    fetch is stopped. `digest schedule run` does this every fetch_minutes. On a terminal a
    progress bar runs on stderr (--quiet or --json hides it).

    \b
    Examples:
        DIGEST_IMAP_PASSWORD=... digest bounces fetch
    """
    with progress_bar(quiet=quiet, as_json=as_json) as progress:
        report = app.core.fetch_bounces(progress=progress)
    if as_json:
        echo_json(report.as_dict())
        return
    for line in format_report(report):
        click.echo(line)


def format_report(report: ImportReport) -> list[str]:
    """The human-readable summary of an import, line by line."""
    lines = [
        f"Read {_n(report.messages, 'message')}: {_n(report.hard, 'hard bounce')}, "
        f"{_n(report.soft, 'soft bounce')}, {_n(report.complaints, 'complaint')}, "
        f"{_n(report.policy, 'policy rejection')}; {report.already_imported} already imported, "
        f"{len(report.ignored)} needing nothing, {len(report.unrecognised)} unrecognised."
    ]
    if report.changes:
        lines.append("Status changes:")
        lines += [f"  {c.email}: {c.old} -> {c.new} ({c.evidence})" for c in report.changes]
    if report.policy_details:
        lines.append(
            "Warning: policy rejections are the sender's problem, not the readers' (check "
            "SPF, DKIM, DMARC and the sending IP's reputation):"
        )
        lines += [f"  {origin}: {evidence}" for origin, evidence in report.policy_details]
    if report.ignored:
        lines.append("Needing nothing:")
        lines += [f"  {origin}: {reason}" for origin, reason in report.ignored]
    if report.unrecognised:
        lines.append("Unrecognised (nothing changed; listed again on the next import):")
        lines += [f"  {origin}: {reason}" for origin, reason in report.unrecognised]
    return lines


def _n(count: int, noun: str) -> str:
    return f"{count} {noun}{'' if count == 1 else 's'}"


@subscribers.command("reactivate")
@click.argument("email")
@click.option(
    "--reason",
    required=True,
    help="Why (the reader wrote in, the mailbox is fixed...): kept in their history.",
)
@pass_app
def reactivate_(app: AppContext, email: str, reason: str) -> None:
    """Make a bounced or complained EMAIL active again; the reason goes into the reader's
    history. Unsubscribed readers come back only by their own consent
    (`digest subscribers add --reactivate`).

    \b
    Example:
        digest subscribers reactivate ana@example.com --reason "mailbox fixed, ticket 4411"
    """
    subscriber = app.core.reactivate(email, reason)
    click.echo(f"Reactivated {subscriber.email}: active again.")


COMMANDS = [bounces]
