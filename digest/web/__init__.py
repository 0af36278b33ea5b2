"""The readers' web pages: sign-up with double opt-in, confirm, preferences, one-click
unsubscribe and the public archive. ``digest serve`` runs :func:`create_app` under waitress."""

from __future__ import annotations

from digest.web.app import MAX_REQUEST_BODY, create_app
from digest.web.context import mailer_of

__all__ = ["MAX_REQUEST_BODY", "create_app", "mailer_of"]
