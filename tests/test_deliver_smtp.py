"""The SMTP transport against a real aiosmtpd server: login, STARTTLS certificate checks,
reply classification and dot-stuffing."""

from __future__ import annotations

import datetime as dt
import ssl
from pathlib import Path

import pytest
from cryptography import x509
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import rsa
from cryptography.x509.oid import NameOID

from digest.config import parse_smtp_url
from digest.deliver.smtp import SmtpTransport, check_relay, classify, dot_stuff
from digest.errors import DeliveryError
from digest.models import OutgoingMessage
from tests.relay import running_relay

MESSAGE = OutgoingMessage(
    sender="digest@news.example.com",
    recipient="ana@example.com",
    data=b"From: digest@news.example.com\r\nTo: ana@example.com\r\nSubject: t\r\n\r\n"
    b".leading dot\r\nline\r\n.\r\nend",
)


def test_dot_stuffing_matches_what_arrives() -> None:
    assert dot_stuff(b".a\r\n.b\r\nc") == b"..a\r\n..b\r\nc\r\n"
    with running_relay() as relay:
        transport = SmtpTransport(parse_smtp_url(relay.url))
        result = transport.send(MESSAGE)
        transport.close()
    assert result.kind == "sent" and result.code == 250
    (received,) = relay.received
    # The server un-stuffs: the body arrives exactly as built (line endings normalised).
    assert received.data.replace(b"\r\n", b"\n").endswith(b"\n.leading dot\nline\n.\nend\n")


@pytest.mark.parametrize(
    ("code", "reply", "kind"),
    [
        (250, "2.0.0 OK", "sent"),
        (451, "4.3.0 try later", "transient"),
        (550, "5.1.1 no such user", "bounce"),
        (550, "user unknown", "bounce"),
        # Refusals of the sender, not of the reader: the reader stays pending.
        (554, "5.7.1 relaying denied", "refused"),
        (554, "Relay access denied", "refused"),
        (535, "5.7.8 Authentication credentials invalid", "refused"),
        (550, "5.0.0 message content rejected", "permanent"),
        (552, "5.3.4 message too big", "permanent"),
    ],
)
def test_classify(code: int, reply: str, kind: str) -> None:
    assert classify(code, reply).kind == kind


def test_login_accepted_and_refused() -> None:
    with running_relay(login=("digest", "s3cret")) as relay:
        good = SmtpTransport(parse_smtp_url(f"smtp://digest:s3cret@{relay.host}:{relay.port}"))
        assert good.send(MESSAGE).kind == "sent"
        good.close()
        with pytest.raises(DeliveryError, match=r"login as 'digest' refused: 535"):
            check_relay(parse_smtp_url(f"smtp://digest:wrong@{relay.host}:{relay.port}"))
    assert len(relay.received) == 1


def _self_signed(tmp_path: Path) -> ssl.SSLContext:
    key = rsa.generate_private_key(public_exponent=65537, key_size=2048)
    name = x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, "127.0.0.1")])
    now = dt.datetime.now(dt.UTC)
    cert = (
        x509.CertificateBuilder()
        .subject_name(name)
        .issuer_name(name)
        .public_key(key.public_key())
        .serial_number(1)
        .not_valid_before(now - dt.timedelta(days=1))
        .not_valid_after(now + dt.timedelta(days=1))
        .sign(key, hashes.SHA256())
    )
    (tmp_path / "cert.pem").write_bytes(cert.public_bytes(serialization.Encoding.PEM))
    (tmp_path / "key.pem").write_bytes(
        key.private_bytes(
            serialization.Encoding.PEM,
            serialization.PrivateFormat.TraditionalOpenSSL,
            serialization.NoEncryption(),
        )
    )
    context = ssl.create_default_context(ssl.Purpose.CLIENT_AUTH)
    context.load_cert_chain(tmp_path / "cert.pem", tmp_path / "key.pem")
    return context


def test_starttls_checks_the_certificate(tmp_path: Path) -> None:
    with running_relay(tls_context=_self_signed(tmp_path)) as relay:
        url = parse_smtp_url(f"smtp+starttls://{relay.host}:{relay.port}")
        with pytest.raises(DeliveryError, match=r"TLS failed: .*certificate verify failed"):
            check_relay(url)
    assert relay.received == []


def test_unreachable_relay_is_transient_for_one_message() -> None:
    transport = SmtpTransport(parse_smtp_url("smtp://127.0.0.1:9"), timeout=2)
    result = transport.send(MESSAGE)
    assert result.kind == "transient" and "cannot connect" in result.reply
