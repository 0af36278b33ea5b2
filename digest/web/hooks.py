"""/hooks/<provider>: provider webhooks (SES through SNS, Postmark, Mailgun, SendGrid).

An adapter like the pages: check who is calling (signature, or the shared secret), parse
the payload (digest/bounces/hooks.py), call one use case (App.apply_hook_events), answer.
A bad signature is a 401 and changes nothing; a hook that is off is a 404; event types we
do not act on are logged and answered 200, so the provider does not retry them."""

from __future__ import annotations

import logging
import os
import re
import threading
import urllib.request
from collections.abc import Iterable

from flask import Blueprint, Response, abort, jsonify, request

from digest.bounces import hooks as parse
from digest.bounces.hooks import HookEvent, HookSignatureError, Ignored
from digest.config import HooksSettings
from digest.errors import InputError
from digest.web.context import state

log = logging.getLogger("digest.web.hooks")
bp = Blueprint("hooks", __name__, url_prefix="/hooks")
PROVIDERS = ("ses", "postmark", "mailgun", "sendgrid")
FETCH_TIMEOUT = 10.0
FETCH_LIMIT = 64 * 1024
HOOK_BODY_LIMIT = 8 * 1024 * 1024

_certs: dict[str, bytes] = {}  # SNS signing certificates by URL: they rarely change
_certs_lock = threading.Lock()


@bp.post("/<provider>")
def receive(provider: str) -> tuple[Response, int]:
    settings = state().settings.hooks
    if provider not in PROVIDERS or not getattr(settings, provider):
        abort(404)
    # Providers batch events (SendGrid up to a few MB); the pages' 64 KB cap is for forms.
    request.max_content_length = HOOK_BODY_LIMIT
    body = request.get_data(cache=False)
    try:
        events = list(_events(provider, settings, body))
    except HookSignatureError as e:
        log.warning("hooks/%s: refused: %s", provider, e)
        return jsonify(error="signature or credentials do not match"), 401
    except InputError as e:
        log.warning("hooks/%s: bad payload: %s", provider, e)
        return jsonify(error=str(e)), 400
    for item in events:
        if isinstance(item, Ignored):
            log.info("hooks/%s: ignored %s", provider, item.what)
    result = state().core.apply_hook_events(e for e in events if isinstance(e, HookEvent))
    for address in result.unmatched:
        log.info("hooks/%s: no subscriber matches %s", provider, address)
    return jsonify(
        applied=result.applied, duplicates=result.duplicates, unmatched=len(result.unmatched)
    ), 200


def _events(provider: str, settings: HooksSettings, body: bytes) -> Iterable[HookEvent | Ignored]:
    headers = request.headers
    if provider == "ses":
        return _sns(settings, body)
    if provider == "postmark":
        parse.verify_postmark(
            headers.get("Authorization", ""),
            request.args.get("token", ""),
            _secret(settings.postmark_secret_env, "hooks.postmark_secret_env"),
        )
        return parse.postmark_events(body)
    if provider == "mailgun":
        data = parse.mailgun_payload(body)
        parse.verify_mailgun(data, _secret(settings.mailgun_key_env, "hooks.mailgun_key_env"))
        return parse.mailgun_events(data)
    key = parse.sendgrid_key(settings.sendgrid_public_key)
    parse.verify_sendgrid(
        key,
        headers.get("X-Twilio-Email-Event-Webhook-Signature", ""),
        headers.get("X-Twilio-Email-Event-Webhook-Timestamp", ""),
        body,
    )
    return parse.sendgrid_events(body)


def _secret(env: str, setting: str) -> str:
    value = os.environ.get(env, "") if env else ""
    if not value:
        log.error("%s: no secret in the variable %r: every call is refused", setting, env)
    return value


def _sns(settings: HooksSettings, body: bytes) -> Iterable[HookEvent | Ignored]:
    message = parse.sns_message(body)
    allowed = re.compile(settings.ses_cert_url)
    cert_url = str(message.get("SigningCertURL", ""))
    if not allowed.match(cert_url):
        raise HookSignatureError(f"SNS: certificate URL not allowed: {cert_url[:200]!r}")
    topic = str(message.get("TopicArn", ""))
    if topic not in settings.ses_topic_arns:
        # Checked first: a foreign topic's messages are signed by SNS as well as ours.
        raise HookSignatureError(f"SNS: topic {topic[:200]!r} is not in hooks.ses_topic_arns")
    parse.verify_sns(message, _certificate(cert_url))
    kind = message.get("Type")
    if kind == "SubscriptionConfirmation":
        url = str(message.get("SubscribeURL", ""))
        if not allowed.match(url):
            raise HookSignatureError(f"SNS: SubscribeURL not allowed: {url[:200]!r}")
        _fetch(url)
        log.info("hooks/ses: subscription to %s confirmed", message.get("TopicArn"))
        return []
    if kind == "Notification":
        return parse.ses_events(message)
    return [Ignored("ses", f"SNS message type {kind}")]


def _certificate(url: str) -> bytes:
    with _certs_lock:
        cached = _certs.get(url)
    if cached is None:
        cached = _fetch(url)
        with _certs_lock:
            _certs[url] = cached
    return cached


def _fetch(url: str) -> bytes:
    try:
        with urllib.request.urlopen(url, timeout=FETCH_TIMEOUT) as response:
            data: bytes = response.read(FETCH_LIMIT)
            return data
    except OSError as e:
        raise HookSignatureError(f"SNS: cannot fetch {url[:200]}: {e}") from e
