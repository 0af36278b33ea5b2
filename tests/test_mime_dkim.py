"""DKIM: a rendered message's signature verifies offline and covers the right headers."""

from __future__ import annotations

import base64

import dkim
from cryptography.hazmat.primitives import serialization
from cryptography.hazmat.primitives.asymmetric import rsa

from digest.mime import DkimSigner
from digest.models import Recipient
from digest.render import Renderer
from tests.render_samples import (
    NOW,
    SETTINGS,
    parse,
    seven_articles,
)


def test_dkim_signature_verifies_offline() -> None:
    key = rsa.generate_private_key(public_exponent=65537, key_size=2048)
    pem = key.private_bytes(
        serialization.Encoding.PEM,
        serialization.PrivateFormat.TraditionalOpenSSL,
        serialization.NoEncryption(),
    )
    public = key.public_key().public_bytes(
        serialization.Encoding.DER, serialization.PublicFormat.SubjectPublicKeyInfo
    )
    record = b"v=DKIM1; k=rsa; p=" + base64.b64encode(public)

    def dns(name: bytes, timeout: int = 5) -> bytes:
        assert name == b"sel._domainkey.news.example.com."
        return record

    renderer = Renderer(SETTINGS, dkim=DkimSigner("news.example.com", "sel", pem))
    variant = renderer.render_variant(seven_articles())
    data = renderer.personalise(
        variant, Recipient(1, "a@example.org", "Zoë"), message_id="<d@news.example.com>", date=NOW
    ).data
    assert data.startswith(b"DKIM-Signature: ")
    assert dkim.verify(data, dnsfunc=dns)
    sig = parse(data)["DKIM-Signature"]
    tags = dict(t.strip().split("=", 1) for t in str(sig).replace(" ", "").split(";") if t.strip())
    assert tags["a"] == "rsa-sha256" and tags["c"] == "relaxed/simple" and "l" not in tags
    signed = tags["h"].split(":")
    for h in (
        "from",
        "to",
        "subject",
        "date",
        "message-id",
        "mime-version",
        "content-type",
        "list-id",
        "feedback-id",
        "list-unsubscribe",
        "list-unsubscribe-post",
    ):
        assert h in signed
    tampered = data.replace(b"Headline number 1", b"Headline number X")
    assert not dkim.verify(tampered, dnsfunc=dns)
