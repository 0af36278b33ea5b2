"""Provider webhooks: signature checks and the events in each provider's payload.

Values in, values out: each ``verify_*`` raises :class:`HookSignatureError` or returns; each
``*_events`` turns a verified payload into :class:`HookEvent` values, which the core applies
with the one bounce policy (digest/app/hooks.py). Formats from the providers' public
documentation: Amazon SNS message signing and SES notification contents, Postmark's bounce,
spam complaint and subscription change webhooks, Mailgun's webhook signing and event data,
and SendGrid's signed event webhook.
"""

from __future__ import annotations

import base64
import hashlib
import hmac
import json
import re
from collections.abc import Iterator, Mapping
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

from digest.bounces.classify import enhanced_code, failure_kind
from digest.errors import DigestError, InputError

if TYPE_CHECKING:
    # cryptography (x509 above all) is imported where a signature is checked: every
    # process imports this module, few check a webhook (docs/performance.md, Memory).
    from cryptography.hazmat.primitives.asymmetric import ec

UNSUBSCRIBE = "unsubscribe"


class HookSignatureError(DigestError):
    """The request is not signed by the provider (HTTP 401, nothing changes)."""


@dataclass(frozen=True)
class HookEvent:
    """One thing a provider tells us about one recipient. ``kind`` is a BounceKind value
    (hard, soft, policy, complaint) or 'unsubscribe'; ``event_id`` is the provider's, so a
    delivery of the same event twice changes nothing the second time."""

    provider: str
    event_id: str
    kind: str
    recipient: str
    message_ids: tuple[str, ...] = ()
    status: str = ""
    diagnostic: str = ""


@dataclass(frozen=True)
class Ignored:
    """An event type we do not act on (deliveries, opens...), for the log."""

    provider: str
    what: str


def _json(body: bytes) -> Any:
    try:
        return json.loads(body)
    except (ValueError, UnicodeDecodeError) as e:
        raise InputError(f"not JSON: {e}") from e


def _ids(*values: object) -> tuple[str, ...]:
    """Message-IDs as we store them (<...>), from values given with or without brackets."""
    out = []
    for value in values:
        if isinstance(value, str) and value.strip():
            text = value.strip()
            out.append(text if text.startswith("<") else f"<{text}>")
    return tuple(out)


def _failure(status: str, text: str, permanent: bool | None) -> str:
    """hard, soft or policy: by the status code when there is one, else by the provider's
    own permanent/temporary word."""
    kind = failure_kind(status or enhanced_code(text), text)
    if not (status or enhanced_code(text)) and permanent is not None:
        return "hard" if permanent else "soft"
    return kind


# -- Amazon SES through SNS ------------------------------------------------------------------

_SNS_KEYS = {
    "Notification": ("Message", "MessageId", "Subject", "Timestamp", "TopicArn", "Type"),
    "SubscriptionConfirmation": (
        "Message",
        "MessageId",
        "SubscribeURL",
        "Timestamp",
        "Token",
        "TopicArn",
        "Type",
    ),
}
_SNS_KEYS["UnsubscribeConfirmation"] = _SNS_KEYS["SubscriptionConfirmation"]


def sns_string_to_sign(message: Mapping[str, Any]) -> bytes:
    """The canonical string SNS signs: 'Key\\nvalue\\n' for each signed key present, in
    byte order of the key names."""
    kind = message.get("Type")
    if kind not in _SNS_KEYS:
        raise InputError(f"unknown SNS message type {kind!r}")
    parts = []
    for key in _SNS_KEYS[kind]:
        if key in message and message[key] is not None:
            parts.append(f"{key}\n{message[key]}\n")
    return "".join(parts).encode("utf-8")


def sns_message(body: bytes) -> dict[str, Any]:
    message = _json(body)
    if not isinstance(message, dict):
        raise InputError("not an SNS message")
    return message


def verify_sns(message: Mapping[str, Any], cert_pem: bytes) -> None:
    """Check the message's signature with the certificate its SigningCertURL names (the
    caller fetched it, from a host the operator allows)."""
    from cryptography import x509
    from cryptography.exceptions import InvalidSignature
    from cryptography.hazmat.primitives import hashes
    from cryptography.hazmat.primitives.asymmetric import padding, rsa

    version = str(message.get("SignatureVersion", ""))
    algorithm = {"1": hashes.SHA1(), "2": hashes.SHA256()}.get(version)
    if algorithm is None:
        raise HookSignatureError(f"SNS: unknown SignatureVersion {version!r}")
    try:
        signature = base64.b64decode(str(message.get("Signature", "")), validate=True)
        key = x509.load_pem_x509_certificate(cert_pem).public_key()
    except ValueError as e:
        raise HookSignatureError(f"SNS: bad signature or certificate: {e}") from e
    if not isinstance(key, rsa.RSAPublicKey):
        raise HookSignatureError("SNS: the signing certificate has no RSA key")
    try:
        key.verify(signature, sns_string_to_sign(message), padding.PKCS1v15(), algorithm)
    except InvalidSignature as e:
        raise HookSignatureError("SNS: signature does not match") from e


def ses_events(message: Mapping[str, Any]) -> Iterator[HookEvent | Ignored]:
    """The events in one SNS Notification carrying an SES notification (or event)."""
    try:
        inner = json.loads(str(message.get("Message", "")))
    except ValueError:
        yield Ignored("ses", "a notification whose Message is not JSON")
        return
    if not isinstance(inner, dict):
        yield Ignored("ses", "a notification whose Message is not an object")
        return
    kind = inner.get("notificationType") or inner.get("eventType") or ""
    mail = inner.get("mail") or {}
    common = mail.get("commonHeaders") or {}
    headers = {h.get("name", "").lower(): h.get("value") for h in mail.get("headers") or []}
    ids = _ids(common.get("messageId"), headers.get("message-id"))
    if kind == "Bounce":
        bounce = inner.get("bounce") or {}
        permanent = bounce.get("bounceType") == "Permanent"
        feedback = str(bounce.get("feedbackId") or message.get("MessageId", ""))
        for r in bounce.get("bouncedRecipients") or []:
            status = str(r.get("status") or "")
            text = str(r.get("diagnosticCode") or bounce.get("bounceSubType") or "")
            yield HookEvent(
                "ses",
                f"{feedback}:{r.get('emailAddress', '')}",
                _failure(status, text, permanent),
                str(r.get("emailAddress", "")).lower(),
                ids,
                status or enhanced_code(text),
                text,
            )
    elif kind == "Complaint":
        complaint = inner.get("complaint") or {}
        feedback = str(complaint.get("feedbackId") or message.get("MessageId", ""))
        for r in complaint.get("complainedRecipients") or []:
            yield HookEvent(
                "ses",
                f"{feedback}:{r.get('emailAddress', '')}",
                "complaint",
                str(r.get("emailAddress", "")).lower(),
                ids,
                diagnostic=str(complaint.get("complaintFeedbackType") or "complaint"),
            )
    else:
        yield Ignored("ses", f"notification type {kind or '(none)'}")


# -- Postmark --------------------------------------------------------------------------------

_POSTMARK_HARD = {"HardBounce", "BadEmailAddress", "ManuallyDeactivated", "Blocked"}
_POSTMARK_SOFT = {"SoftBounce", "Transient", "DnsError", "AutoResponder"}


def verify_postmark(authorization: str, token: str, secret: str) -> None:
    """Basic auth whose password is the secret (any user name), or ``?token=secret``."""
    given = token
    if authorization.lower().startswith("basic "):
        try:
            decoded = base64.b64decode(authorization[6:], validate=True).decode("utf-8")
        except ValueError as e:
            raise HookSignatureError("Postmark: bad basic auth header") from e
        given = decoded.partition(":")[2]
    if not secret or not given or not hmac.compare_digest(given.encode(), secret.encode()):
        raise HookSignatureError("Postmark: wrong or missing credentials")


def postmark_events(body: bytes) -> Iterator[HookEvent | Ignored]:
    data = _json(body)
    if not isinstance(data, dict):
        raise InputError("not a Postmark webhook payload")
    record = data.get("RecordType", "")
    email = str(data.get("Email") or data.get("Recipient") or "").lower()
    event_id = f"{record}:{data.get('ID', '')}:{email}"
    if record == "Bounce":
        kind_name = str(data.get("Type", ""))
        text = str(data.get("Details") or data.get("Description") or kind_name)
        if kind_name == "SpamComplaint":
            yield HookEvent("postmark", event_id, "complaint", email, diagnostic=text)
        elif kind_name in _POSTMARK_HARD | _POSTMARK_SOFT:
            permanent = kind_name in _POSTMARK_HARD
            yield HookEvent(
                "postmark",
                event_id,
                _failure("", text, permanent),
                email,
                status=enhanced_code(text),
                diagnostic=text,
            )
        else:
            yield Ignored("postmark", f"bounce type {kind_name or '(none)'}")
    elif record == "SpamComplaint":
        yield HookEvent("postmark", event_id, "complaint", email, diagnostic="spam complaint")
    elif record == "SubscriptionChange" and data.get("SuppressSending") is True:
        reason = str(data.get("SuppressionReason") or "")
        kind = {"HardBounce": "hard", "SpamComplaint": "complaint"}.get(reason, UNSUBSCRIBE)
        yield HookEvent("postmark", event_id, kind, email, diagnostic=reason)
    else:
        yield Ignored("postmark", f"record type {record or '(none)'}")


# -- Mailgun ---------------------------------------------------------------------------------


def mailgun_payload(body: bytes) -> dict[str, Any]:
    data = _json(body)
    if not isinstance(data, dict) or not isinstance(data.get("signature"), dict):
        raise InputError("not a Mailgun webhook payload (no signature object)")
    return data


def verify_mailgun(data: Mapping[str, Any], signing_key: str) -> None:
    """HMAC-SHA256 of timestamp + token with the webhook signing key, hex."""
    sig = data["signature"]
    timestamp, token = str(sig.get("timestamp", "")), str(sig.get("token", ""))
    expected = hmac.new(
        signing_key.encode(), (timestamp + token).encode(), hashlib.sha256
    ).hexdigest()
    if not signing_key or not hmac.compare_digest(expected, str(sig.get("signature", ""))):
        raise HookSignatureError("Mailgun: signature does not match")


def mailgun_events(data: Mapping[str, Any]) -> Iterator[HookEvent | Ignored]:
    event = data.get("event-data") or {}
    name = str(event.get("event", ""))
    email = str(event.get("recipient", "")).lower()
    event_id = str(event.get("id", ""))
    headers = (event.get("message") or {}).get("headers") or {}
    ids = _ids(headers.get("message-id"))
    if name == "failed":
        status_info = event.get("delivery-status") or {}
        code = str(status_info.get("code", ""))
        text = f"{code} {status_info.get('message') or status_info.get('description') or ''}"
        permanent = event.get("severity") == "permanent"
        if not permanent:
            yield Ignored("mailgun", "a temporary failure (Mailgun retries it)")
            return
        yield HookEvent(
            "mailgun",
            event_id,
            _failure("", text, permanent),
            email,
            ids,
            enhanced_code(text),
            text.strip(),
        )
    elif name == "complained":
        yield HookEvent("mailgun", event_id, "complaint", email, ids, diagnostic="complaint")
    elif name == "unsubscribed":
        yield HookEvent("mailgun", event_id, UNSUBSCRIBE, email, ids)
    else:
        yield Ignored("mailgun", f"event {name or '(none)'}")


# -- SendGrid --------------------------------------------------------------------------------


def sendgrid_key(public_key: str) -> ec.EllipticCurvePublicKey:
    """The verification key as SendGrid shows it: base64 DER (or a PEM block)."""
    from cryptography.hazmat.primitives import serialization
    from cryptography.hazmat.primitives.asymmetric import ec

    try:
        if "BEGIN PUBLIC KEY" in public_key:
            key = serialization.load_pem_public_key(public_key.encode())
        else:
            key = serialization.load_der_public_key(base64.b64decode(public_key, validate=True))
    except ValueError as e:
        raise InputError(f"hooks.sendgrid_public_key: not an ECDSA public key: {e}") from e
    if not isinstance(key, ec.EllipticCurvePublicKey):
        raise InputError("hooks.sendgrid_public_key: not an ECDSA public key")
    return key


def verify_sendgrid(
    key: ec.EllipticCurvePublicKey, signature: str, timestamp: str, body: bytes
) -> None:
    """ECDSA-SHA256 over timestamp + the raw body, signature base64 DER."""
    from cryptography.exceptions import InvalidSignature
    from cryptography.hazmat.primitives import hashes
    from cryptography.hazmat.primitives.asymmetric import ec

    try:
        key.verify(
            base64.b64decode(signature, validate=True),
            timestamp.encode() + body,
            ec.ECDSA(hashes.SHA256()),
        )
    except (InvalidSignature, ValueError) as e:
        raise HookSignatureError("SendGrid: signature does not match") from e


_SMTP_ID = re.compile(r"<[^>]+>")


def sendgrid_events(body: bytes) -> Iterator[HookEvent | Ignored]:
    events = _json(body)
    if not isinstance(events, list):
        raise InputError("not a SendGrid event list")
    for event in events:
        if not isinstance(event, dict):
            continue
        name = str(event.get("event", ""))
        email = str(event.get("email", "")).lower()
        event_id = str(event.get("sg_event_id", ""))
        ids = tuple(_SMTP_ID.findall(str(event.get("smtp-id", ""))))
        if name == "bounce":
            status = str(event.get("status", ""))
            text = str(event.get("reason", ""))
            # type 'blocked': refused for now (reputation, content); 'bounce': for good.
            permanent = event.get("type", "bounce") != "blocked"
            kind = _failure(status, text, permanent)
            if not permanent and kind == "hard":
                kind = "soft"
            yield HookEvent("sendgrid", event_id, kind, email, ids, status, text)
        elif name == "spamreport":
            yield HookEvent("sendgrid", event_id, "complaint", email, ids, diagnostic="spam")
        elif name in ("unsubscribe", "group_unsubscribe"):
            yield HookEvent("sendgrid", event_id, UNSUBSCRIBE, email, ids)
        else:
            yield Ignored("sendgrid", f"event {name or '(none)'}")
