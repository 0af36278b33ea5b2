"""`digest webhooks ...`: tell other systems when readers come and go and editions are sent."""

from __future__ import annotations

import click

from digest.cli.context import AppContext, echo_json, json_option, pass_app
from digest.cli.present import iso
from digest.models import WEBHOOK_EVENTS


@click.group()
def webhooks() -> None:
    """Outgoing webhooks: a signed JSON POST for each event, retried for 24 hours.

    \b
    Events: subscribed, confirmed, unsubscribed, bounced, complained, edition.sent
    Headers: Digest-Delivery (the same on every retry), Digest-Event, Digest-Timestamp,
    Digest-Signature: sha256=HMAC-SHA256(secret, "<timestamp>.<body>") in hex.

    \b
    Examples:
        digest webhooks add https://crm.example.com/hooks/digest --events confirmed,unsubscribed
        digest webhooks list
        digest webhooks log
        digest webhooks deliver        # post what is due now (`digest serve` does it too)
    """


@webhooks.command("add")
@click.argument("url")
@click.option(
    "--events",
    required=True,
    help=f"Comma-separated, from: {','.join(WEBHOOK_EVENTS)}.",
)
@pass_app
def add(app: AppContext, url: str, events: str) -> None:
    """Add a webhook and print its signing secret (shown only this once)."""
    new = app.core.add_webhook(url, events.split(","))
    click.echo(new.secret)
    click.echo(
        f"Webhook {new.webhook.id} -> {new.webhook.url} ({','.join(new.webhook.events)}); "
        "the secret above will not be shown again.",
        err=True,
    )


@webhooks.command("list")
@json_option
@pass_app
def list_(app: AppContext, as_json: bool) -> None:
    """The webhooks (never their secrets)."""
    hooks = app.core.list_webhooks()
    if as_json:
        echo_json(
            [
                {"id": w.id, "url": w.url, "events": list(w.events), "created": iso(w.created_at)}
                for w in hooks
            ]
        )
        return
    if not hooks:
        click.echo("No webhooks (digest webhooks add URL --events ...).")
    for w in hooks:
        click.echo(f"{w.id}\t{w.url}\t{','.join(w.events)}")


@webhooks.command()
@click.argument("webhook_id", type=int)
@pass_app
def remove(app: AppContext, webhook_id: int) -> None:
    """Stop posting to a webhook; its undelivered events are dropped."""
    app.core.remove_webhook(webhook_id)
    click.echo(f"Removed webhook {webhook_id}.")


@webhooks.command()
@click.option("--limit", type=click.IntRange(1, 10_000), default=50, show_default=True)
@json_option
@pass_app
def log(app: AppContext, limit: int, as_json: bool) -> None:
    """The latest events and what became of each: delivered, retrying, given up."""
    rows = []
    for d in app.core.webhook_log(limit):
        state = (
            f"delivered {iso(d.delivered_at)}"
            if d.delivered_at
            else f"given up {iso(d.given_up_at)}"
            if d.given_up_at
            else f"next try {iso(d.next_attempt_at)}"
        )
        rows.append(
            {
                "delivery": d.delivery_id,
                "webhook": d.webhook_id,
                "event": d.event,
                "created": iso(d.created_at),
                "attempts": d.attempts,
                "last_status": d.last_status,
                "last_error": d.last_error,
                "state": state,
            }
        )
    if as_json:
        echo_json(rows)
        return
    for r in rows:
        last = r["last_error"] or (f"HTTP {r['last_status']}" if r["last_status"] else "")
        click.echo(
            f"{r['delivery']}\t{r['event']}\twebhook {r['webhook']}\t{r['attempts']} attempts"
            f"\t{r['state']}" + (f"\t{last}" if last else "")
        )


@webhooks.command()
@pass_app
def deliver(app: AppContext) -> None:
    """Post every event that is due now, then exit (for cron or a scheduler)."""
    run = app.core.deliver_webhooks()
    click.echo(f"Webhooks: {run.summary()}.")


COMMANDS = [webhooks]
