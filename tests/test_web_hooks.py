"""Provider webhooks over HTTP (Flask's test client) against a real SQLite file: SES through
SNS (its signing certificate, made here, served by a real local HTTP server, which also
records the subscription confirmation), Postmark, Mailgun and SendGrid; valid and forged
signatures. The sample payloads follow each provider's public documentation (written from
it by hand, not captured from a live account)."""

from __future__ import annotations

import base64
import dataclasses
import datetime as dt
import hashlib
import hmac
import http.server
import json
import threading
from collections.abc import Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import pytest
from cryptography import x509
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import ec, padding, rsa
from cryptography.x509.oid import NameOID
from flask.testing import FlaskClient
from werkzeug.test import TestResponse

from digest.config import HooksSettings, Settings
from digest.store import open_db
from digest.store import subscribers as subscribers_store
from digest.web import create_app
from tests.builders import NOW, make_db, settings_for, subscribe

READERS = ("ana@example.com", "bo@example.com", "cy@example.com", "dee@example.com")
SNS_KEY = rsa.generate_private_key(public_exponent=65537, key_size=2048)
SENDGRID_KEY = ec.generate_private_key(ec.SECP256R1())
MAILGUN_KEY = "key-mailgun-signing"
POSTMARK_SECRET = "postmark-s3cret"


@dataclass
class CertServer:
    """A real HTTP server on loopback: serves the SNS certificate, records every GET."""

    port: int = 0
    gets: list[str] = field(default_factory=list)
    pem: bytes = b""

    def url(self, path: str) -> str:
        return f"http://127.0.0.1:{self.port}{path}"


@pytest.fixture
def certs() -> Iterator[CertServer]:
    name = x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, "sns.test")])
    cert = (
        x509.CertificateBuilder()
        .subject_name(name)
        .issuer_name(name)
        .public_key(SNS_KEY.public_key())
        .serial_number(1)
        .not_valid_before(dt.datetime(2020, 1, 1))
        .not_valid_after(dt.datetime(2100, 1, 1))
        .sign(SNS_KEY, hashes.SHA256())
    )
    server_state = CertServer(pem=cert.public_bytes(serialization.Encoding.PEM))

    class Handler(http.server.BaseHTTPRequestHandler):
        def do_GET(self) -> None:
            server_state.gets.append(self.path)
            body = (
                server_state.pem
                if self.path.endswith(".pem")
                else b"<ConfirmSubscriptionResponse/>"
            )
            self.send_response(200)
            self.send_header("Content-Length", str(len(body)))
            self.end_headers()
            self.wfile.write(body)

        def log_message(self, *args: Any) -> None:
            pass

    httpd = http.server.ThreadingHTTPServer(("127.0.0.1", 0), Handler)
    server_state.port = httpd.server_address[1]
    thread = threading.Thread(target=httpd.serve_forever, daemon=True)
    thread.start()
    try:
        yield server_state
    finally:
        httpd.shutdown()
        httpd.server_close()


def _settings(tmp_path: Path, **hooks: Any) -> Settings:
    path = tmp_path / "hooks.db"
    db = make_db(path)
    for email in READERS:
        subscribe(db, email, ("Opioid Drugs",))
    db.close()
    base = settings_for(path)
    on = {"ses": True, "postmark": True, "mailgun": True, "sendgrid": True}
    public = SENDGRID_KEY.public_key().public_bytes(
        serialization.Encoding.DER, serialization.PublicFormat.SubjectPublicKeyInfo
    )
    return dataclasses.replace(
        base,
        hooks=HooksSettings(
            ses_cert_url=r"^http://127\.0\.0\.1:\d+/",
            ses_topic_arns=("arn:aws:sns:us-east-1:123456789012:ses-bounces",),
            postmark_secret_env="TEST_POSTMARK_SECRET",
            mailgun_key_env="TEST_MAILGUN_KEY",
            sendgrid_public_key=base64.b64encode(public).decode(),
            **{**on, **hooks},
        ),
    )


@pytest.fixture
def client(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> FlaskClient:
    monkeypatch.setenv("TEST_POSTMARK_SECRET", POSTMARK_SECRET)
    monkeypatch.setenv("TEST_MAILGUN_KEY", MAILGUN_KEY)
    settings = _settings(tmp_path)
    app = create_app(settings, clock=lambda: NOW)
    app.config["DB_PATH"] = settings.db_path
    return app.test_client()


def applied(response: TestResponse) -> int:
    data = response.get_json()
    assert isinstance(data, dict)
    return int(data["applied"])


def status(client: FlaskClient, email: str) -> str:
    db = open_db(client.application.config["DB_PATH"])
    try:
        subscriber = subscribers_store.get_subscriber_by_email(db, email)
        assert subscriber is not None
        return str(subscriber.status)
    finally:
        db.close()


# -- SES through SNS -------------------------------------------------------------------------


def sns_signed(message: dict[str, Any], certs: CertServer) -> dict[str, Any]:
    """Sign as SNS does (SignatureVersion 1, SHA1withRSA): 'Key\\nvalue\\n' for the signed
    keys present, in this order (AWS docs, Verifying the signatures of Amazon SNS messages)."""
    message = {**message, "SignatureVersion": "1", "SigningCertURL": certs.url("/sns.pem")}
    if message["Type"] == "Notification":
        keys = ["Message", "MessageId", "Subject", "Timestamp", "TopicArn", "Type"]
    else:
        keys = ["Message", "MessageId", "SubscribeURL", "Timestamp", "Token", "TopicArn", "Type"]
    text = "".join(f"{k}\n{message[k]}\n" for k in keys if k in message)
    signature = SNS_KEY.sign(text.encode(), padding.PKCS1v15(), hashes.SHA1())
    return {**message, "Signature": base64.b64encode(signature).decode()}


def ses_notification(inner: dict[str, Any], message_id: str) -> dict[str, Any]:
    return {
        "Type": "Notification",
        "MessageId": message_id,
        "TopicArn": "arn:aws:sns:us-east-1:123456789012:ses-bounces",
        "Message": json.dumps(inner),
        "Timestamp": "2026-11-30T08:00:00.000Z",
        "UnsubscribeURL": "https://sns.us-east-1.amazonaws.com/?Action=Unsubscribe",
    }


SES_BOUNCE: dict[str, Any] = {
    "notificationType": "Bounce",
    "bounce": {
        "bounceType": "Permanent",
        "bounceSubType": "General",
        "bouncedRecipients": [
            {
                "emailAddress": "ana@example.com",
                "action": "failed",
                "status": "5.1.1",
                "diagnosticCode": "smtp; 550 5.1.1 user unknown",
            }
        ],
        "timestamp": "2026-11-30T08:00:00.000Z",
        "feedbackId": "0100017a-bounce-feedback",
        "reportingMTA": "dsn; a27-23.smtp-out.us-west-2.amazonses.com",
    },
    "mail": {
        "timestamp": "2026-11-30T07:59:00.000Z",
        "source": "digest@news.example.com",
        "messageId": "0100017a-ses-id",
        "destination": ["ana@example.com"],
        "headersTruncated": False,
        "headers": [{"name": "Message-ID", "value": "<not-ours@news.example.com>"}],
        "commonHeaders": {"messageId": "<not-ours@news.example.com>"},
    },
}
SES_COMPLAINT: dict[str, Any] = {
    "notificationType": "Complaint",
    "complaint": {
        "complainedRecipients": [{"emailAddress": "bo@example.com"}],
        "timestamp": "2026-11-30T08:00:00.000Z",
        "feedbackId": "0100017a-complaint-feedback",
        "complaintFeedbackType": "abuse",
    },
    "mail": {"messageId": "0100017a-ses-id-2", "destination": ["bo@example.com"]},
}


def test_ses_confirms_its_subscription_and_applies_bounces_and_complaints(
    client: FlaskClient, certs: CertServer
) -> None:
    confirm = sns_signed(
        {
            "Type": "SubscriptionConfirmation",
            "MessageId": "165545c9-2a5c-472c-8df2-7ff2be2b3b1b",
            "Token": "2336412f37fb687f5d51e6e241d09c805a5a57b30d712f794cc5f6a988666d92768dd60a7",
            "TopicArn": "arn:aws:sns:us-east-1:123456789012:ses-bounces",
            "Message": "You have chosen to subscribe to the topic ...",
            "SubscribeURL": certs.url("/?Action=ConfirmSubscription&Token=2336412f"),
            "Timestamp": "2026-11-30T08:00:00.000Z",
        },
        certs,
    )
    assert client.post("/hooks/ses", json=confirm).status_code == 200
    assert "/?Action=ConfirmSubscription&Token=2336412f" in certs.gets

    bounce = sns_signed(ses_notification(SES_BOUNCE, "m-1"), certs)
    response = client.post("/hooks/ses", json=bounce)
    assert response.status_code == 200 and response.json == {
        "applied": 1,
        "duplicates": 0,
        "unmatched": 0,
    }
    assert status(client, "ana@example.com") == "bounced"
    again = client.post("/hooks/ses", json=bounce)  # SNS retries: nothing changes
    assert again.json == {"applied": 0, "duplicates": 1, "unmatched": 0}

    complaint = sns_signed(ses_notification(SES_COMPLAINT, "m-2"), certs)
    assert client.post("/hooks/ses", json=complaint).status_code == 200
    assert status(client, "bo@example.com") == "complained"

    delivery = sns_signed(
        ses_notification({"notificationType": "Delivery", "mail": {}}, "m-3"), certs
    )
    ignored = client.post("/hooks/ses", json=delivery)
    assert ignored.status_code == 200 and applied(ignored) == 0


def test_ses_refuses_forged_messages_and_foreign_certificates(
    client: FlaskClient, certs: CertServer
) -> None:
    inner = {**SES_BOUNCE, "bounce": {**SES_BOUNCE["bounce"]}}
    signed = sns_signed(ses_notification(inner, "m-9"), certs)
    forged = {**signed, "Message": signed["Message"].replace("ana@", "cy@")}
    assert client.post("/hooks/ses", json=forged).status_code == 401
    foreign = {**signed, "SigningCertURL": "https://evil.example/sns.pem"}
    assert client.post("/hooks/ses", json=foreign).status_code == 401
    # Signed by SNS, but for someone else's topic: refused, and no subscription confirmed.
    other = {"TopicArn": "arn:aws:sns:us-east-1:999999999999:attacker"}
    theirs = sns_signed({**ses_notification(inner, "m-10"), **other}, certs)
    assert client.post("/hooks/ses", json=theirs).status_code == 401
    confirm = sns_signed(
        {
            "Type": "SubscriptionConfirmation",
            "MessageId": "m-11",
            "Token": "t",
            "Message": "subscribe",
            "SubscribeURL": certs.url("/?Action=ConfirmSubscription&Token=attacker"),
            "Timestamp": "2026-11-30T08:00:00.000Z",
            **other,
        },
        certs,
    )
    assert client.post("/hooks/ses", json=confirm).status_code == 401
    assert not any("attacker" in get for get in certs.gets)
    assert status(client, "ana@example.com") == "active"
    assert status(client, "cy@example.com") == "active"


# -- Postmark --------------------------------------------------------------------------------

POSTMARK_BOUNCE = {
    "RecordType": "Bounce",
    "ID": 4323372036854775807,
    "Type": "HardBounce",
    "TypeCode": 1,
    "Name": "Hard bounce",
    "Tag": "digest",
    "MessageID": "883953f4-6105-42a2-a16a-77a8eac79483",
    "ServerID": 23,
    "MessageStream": "broadcast",
    "Description": "The server was unable to deliver your message (ex: unknown user).",
    "Details": "smtp;550 5.1.1 The email account that you tried to reach does not exist.",
    "Email": "cy@example.com",
    "From": "digest@news.example.com",
    "BouncedAt": "2026-11-30T08:00:00Z",
    "Inactive": True,
    "CanActivate": True,
    "Subject": "Legal Reader weekly",
}


def _basic(password: str) -> dict[str, str]:
    return {"Authorization": "Basic " + base64.b64encode(f"digest:{password}".encode()).decode()}


def test_postmark_with_basic_auth_or_token(client: FlaskClient) -> None:
    assert (
        client.post("/hooks/postmark", json=POSTMARK_BOUNCE, headers=_basic("wrong")).status_code
        == 401
    )
    assert client.post("/hooks/postmark", json=POSTMARK_BOUNCE).status_code == 401
    assert status(client, "cy@example.com") == "active"
    ok = client.post("/hooks/postmark", json=POSTMARK_BOUNCE, headers=_basic(POSTMARK_SECRET))
    assert ok.status_code == 200 and applied(ok) == 1
    assert status(client, "cy@example.com") == "bounced"

    change = {
        "RecordType": "SubscriptionChange",
        "ID": 10,
        "MessageID": "883953f4-6105-42a2-a16a-77a8eac79483",
        "ServerID": 23,
        "MessageStream": "broadcast",
        "ChangedAt": "2026-11-30T08:00:00Z",
        "Recipient": "dee@example.com",
        "Origin": "Recipient",
        "SuppressSending": True,
        "SuppressionReason": "ManualSuppression",
        "Tag": "digest",
    }
    response = client.post(f"/hooks/postmark?token={POSTMARK_SECRET}", json=change)
    assert response.status_code == 200 and status(client, "dee@example.com") == "unsubscribed"
    opened = client.post(
        "/hooks/postmark", json={"RecordType": "Open", "ID": 1}, headers=_basic(POSTMARK_SECRET)
    )
    assert opened.status_code == 200 and applied(opened) == 0


# -- Mailgun ---------------------------------------------------------------------------------


def mailgun(event: dict[str, Any], key: str = MAILGUN_KEY) -> dict[str, Any]:
    timestamp, token = "1795939200", "a8ce0edb2dd8301dee6c2405235584e45aa91d1e9f979f3de0"
    digest = hmac.new(key.encode(), (timestamp + token).encode(), hashlib.sha256).hexdigest()
    return {
        "signature": {"timestamp": timestamp, "token": token, "signature": digest},
        "event-data": event,
    }


MAILGUN_FAILED = {
    "event": "failed",
    "id": "G9Bn5sl1TC6nu79C8C0bwg",
    "timestamp": 1795939200.0,
    "severity": "permanent",
    "reason": "bounce",
    "recipient": "ana@example.com",
    "log-level": "error",
    "message": {"headers": {"message-id": "20261130080000.1.abc@news.example.com"}},
    "delivery-status": {
        "code": 550,
        "message": "5.1.1 The email account that you tried to reach does not exist",
        "description": "",
        "attempt-no": 1,
    },
}


def test_mailgun_signed_events(client: FlaskClient) -> None:
    forged = mailgun(MAILGUN_FAILED, key="not-the-key")
    assert client.post("/hooks/mailgun", json=forged).status_code == 401
    assert status(client, "ana@example.com") == "active"
    assert applied(client.post("/hooks/mailgun", json=mailgun(MAILGUN_FAILED))) == 1
    assert status(client, "ana@example.com") == "bounced"
    unsub = {"event": "unsubscribed", "id": "Ase7i2zsRYeDXztHGENqRA", "recipient": "bo@example.com"}
    assert client.post("/hooks/mailgun", json=mailgun(unsub)).status_code == 200
    assert status(client, "bo@example.com") == "unsubscribed"
    temporary = {
        **MAILGUN_FAILED,
        "id": "x",
        "severity": "temporary",
        "recipient": "cy@example.com",
    }
    assert applied(client.post("/hooks/mailgun", json=mailgun(temporary))) == 0
    assert status(client, "cy@example.com") == "active"
    assert client.post("/hooks/mailgun", data=b"not json").status_code == 400


# -- SendGrid --------------------------------------------------------------------------------

SENDGRID_EVENTS = [
    {
        "email": "ana@example.com",
        "timestamp": 1795939200,
        "smtp-id": "<14c5d75ce93.dfd.64b469@ismtpd-555>",
        "event": "bounce",
        "category": ["digest"],
        "sg_event_id": "6g4ZI7SA-xmRDv57GoPIPw==",
        "sg_message_id": "14c5d75ce93.dfd.64b469.filter0001.16648.5515E0B88.0",
        "reason": "500 unknown recipient",
        "status": "5.0.0",
        "type": "bounce",
    },
    {
        "email": "bo@example.com",
        "timestamp": 1795939200,
        "event": "spamreport",
        "sg_event_id": "37nvH5QBz858KGVYCM4uOA==",
        "sg_message_id": "14c5d75ce93.dfd.64b469.filter0001.16648.5515E0B88.0",
    },
    {
        "email": "cy@example.com",
        "timestamp": 1795939200,
        "event": "unsubscribe",
        "sg_event_id": "zmzJhfJgAfUSOW80yEbPyw==",
    },
    {"email": "dee@example.com", "timestamp": 1795939200, "event": "open", "sg_event_id": "o1"},
]


def sendgrid_headers(body: bytes, timestamp: str = "1795939200") -> dict[str, str]:
    signature = SENDGRID_KEY.sign(timestamp.encode() + body, ec.ECDSA(hashes.SHA256()))
    return {
        "X-Twilio-Email-Event-Webhook-Signature": base64.b64encode(signature).decode(),
        "X-Twilio-Email-Event-Webhook-Timestamp": timestamp,
        "Content-Type": "application/json",
    }


def test_sendgrid_signed_event_webhook(client: FlaskClient) -> None:
    body = json.dumps(SENDGRID_EVENTS).encode()
    headers = sendgrid_headers(body)
    tampered = body.replace(b"ana@", b"dee@")
    assert client.post("/hooks/sendgrid", data=tampered, headers=headers).status_code == 401
    assert status(client, "dee@example.com") == "active"
    response = client.post("/hooks/sendgrid", data=body, headers=headers)
    assert response.status_code == 200 and applied(response) == 3
    # SendGrid's documented sample, 5.0.0 "500 unknown recipient": no 5.1.x and no bare 550
    # "user unknown", so a soft bounce (docs/email.md rule 22): counted, not yet bounced.
    assert status(client, "ana@example.com") == "active"
    db = open_db(client.application.config["DB_PATH"])
    kinds = db.execute("SELECT kind, origin FROM bounces ORDER BY id").fetchall()
    db.close()
    assert kinds == [("soft", "hook:sendgrid"), ("complaint", "hook:sendgrid")]
    assert status(client, "bo@example.com") == "complained"
    assert status(client, "cy@example.com") == "unsubscribed"
    assert status(client, "dee@example.com") == "active"
    again = client.post("/hooks/sendgrid", data=body, headers=headers)
    assert again.json == {"applied": 0, "duplicates": 3, "unmatched": 0}
    # A big batch (far over the pages' 64 KB form limit) goes through.
    opens = [
        {"email": "dee@example.com", "event": "open", "sg_event_id": f"o{i}", "timestamp": 1}
        for i in range(2000)
    ]
    big = json.dumps(opens).encode()
    assert len(big) > 100_000
    assert (
        client.post("/hooks/sendgrid", data=big, headers=sendgrid_headers(big)).status_code == 200
    )


def test_hooks_are_off_by_default(tmp_path: Path) -> None:
    settings = _settings(tmp_path, ses=False, postmark=False, mailgun=False, sendgrid=False)
    app = create_app(settings, clock=lambda: NOW)
    client = app.test_client()
    for provider in ("ses", "postmark", "mailgun", "sendgrid", "other"):
        assert client.post(f"/hooks/{provider}", json={}).status_code == 404
    assert Settings().hooks == HooksSettings()
    assert not any(getattr(Settings().hooks, p) for p in ("ses", "postmark", "mailgun", "sendgrid"))
