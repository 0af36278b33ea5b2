"""`digest serve`: the readers' web pages (sign-up, confirm, preferences, unsubscribe,
archive) under waitress."""

from __future__ import annotations

import logging

import click

from digest.cli.context import AppContext, pass_app
from digest.cli.logs import JsonFormatter, log_format_option


@click.command()
@click.option("--host", help="Address to listen on (default: web.host, 127.0.0.1).")
@click.option("--port", type=click.IntRange(0, 65535), help="Port (default: web.port, 8080).")
@click.option(
    "--threads",
    type=click.IntRange(1, 64),
    default=4,
    show_default=True,
    help="Requests served at once.",
)
@log_format_option
@pass_app
def serve(
    app: AppContext, host: str | None, port: int | None, threads: int, log_format: str
) -> None:
    """Serve the readers' pages: sign-up with double opt-in, confirmation, preferences,
    one-click unsubscribe and the archive of past digests.

    Listens on 127.0.0.1 by default: put a reverse proxy with TLS in front, and set
    web.trust_proxy = true so the client address comes from X-Forwarded-For. Links in
    mail point to site.url.

    \b
    Examples:
        digest serve
        digest serve --host 0.0.0.0 --port 8000
    """
    # Imported here so other commands do not pay for Flask and waitress at start-up.
    import waitress

    from digest.web import MAX_REQUEST_BODY, create_app, mailer_of
    from digest.web.dispatch import Dispatcher

    settings = app.settings
    app.core.db  # noqa: B018 (migrate, and fail on a bad path, before listening)
    app.close()
    web = create_app(settings, clock=app.clock)
    logging.basicConfig(level=logging.INFO, format="%(asctime)s %(name)s %(levelname)s %(message)s")
    if log_format == "json":
        for handler in logging.getLogger().handlers:
            handler.setFormatter(JsonFormatter())
    server = waitress.create_server(
        web,
        host=host or settings.web.host,
        port=settings.web.port if port is None else port,
        threads=threads,
        ident="digest",
        # ProxyFix does this when web.trust_proxy is set; waitress must not do it too.
        clear_untrusted_proxy_headers=False,
        # Waitress buffers a whole body before the app runs; its default allows 1 GB.
        max_request_body_size=MAX_REQUEST_BODY,
    )
    # Bound now, so the real port is known even with --port 0.
    click.echo(
        f"Serving {settings.site.name} on http://{server.effective_host}:{server.effective_port}/"
        f" (links in mail use {settings.site.url})"
    )
    # Outgoing webhooks are posted from here too (`digest webhooks deliver` does it once).
    dispatcher = Dispatcher(app.core)
    dispatcher.start()
    try:
        server.run()
    except KeyboardInterrupt:
        pass
    finally:
        server.close()
        dispatcher.close()
        mailer_of(web).close()


COMMANDS = [serve]
