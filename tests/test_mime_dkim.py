"""DKIM: signatures made with `cryptography` verify with dkimpy, an independent
implementation, offline: RSA, Ed25519 and both at once (RFC 8463), over rendered messages and
over awkward header blocks; any change to a signed header or the body breaks them."""

from __future__ import annotations

import base64
import dataclasses
from pathlib import Path

import dkim
import pytest
from cryptography.hazmat.primitives import serialization
from cryptography.hazmat.primitives.asymmetric import ed25519, rsa

from digest.config import DkimSettings, settings_from_dict
from digest.errors import ConfigError
from digest.mime import DkimSigner
from digest.mime.dkim import ED25519_SHA256, RSA_SHA256
from digest.models import Recipient
from digest.render import Renderer
from tests.render_samples import NOW, SETTINGS, parse, seven_articles

RSA_KEY = rsa.generate_private_key(public_exponent=65537, key_size=2048)
RSA_PEM = RSA_KEY.private_bytes(
    serialization.Encoding.PEM,
    serialization.PrivateFormat.TraditionalOpenSSL,
    serialization.NoEncryption(),
)
ED_KEY = ed25519.Ed25519PrivateKey.generate()
ED_PEM = ED_KEY.private_bytes(
    serialization.Encoding.PEM, serialization.PrivateFormat.PKCS8, serialization.NoEncryption()
)
RECORDS = {
    b"sel._domainkey.news.example.com.": b"v=DKIM1; k=rsa; p="
    + base64.b64encode(
        RSA_KEY.public_key().public_bytes(
            serialization.Encoding.DER, serialization.PublicFormat.SubjectPublicKeyInfo
        )
    ),
    b"ed._domainkey.news.example.com.": b"v=DKIM1; k=ed25519; p="
    + base64.b64encode(
        ED_KEY.public_key().public_bytes(serialization.Encoding.Raw, serialization.PublicFormat.Raw)
    ),
}


def dns(name: bytes, timeout: int = 5) -> bytes:
    return RECORDS[name]


def verified(data: bytes, idx: int = 0) -> bool:
    """dkimpy's verdict on the idx-th DKIM-Signature of ``data``."""
    try:
        return bool(dkim.DKIM(data).verify(idx=idx, dnsfunc=dns))
    except dkim.ValidationError:  # the module-level dkim.verify turns these into False
        return False


def tags(data: bytes, idx: int = 0) -> dict[str, str]:
    signatures = parse(data).get_all("DKIM-Signature")
    assert signatures is not None
    sig = signatures[idx]
    text = str(sig).replace(" ", "").replace("\t", "")
    return dict(t.split("=", 1) for t in text.split(";") if t)


def rendered(signer: DkimSigner) -> bytes:
    renderer = Renderer(SETTINGS, dkim=signer)
    variant = renderer.render_variant(seven_articles())
    return renderer.personalise(
        variant, Recipient(1, "a@example.org", "Zoë"), message_id="<d@news.example.com>", date=NOW
    ).data


def test_rsa_signature_on_a_rendered_message_verifies_offline() -> None:
    data = rendered(DkimSigner("news.example.com", "sel", RSA_PEM))
    assert data.startswith(b"DKIM-Signature: ")
    assert dkim.verify(data, dnsfunc=dns)
    found = tags(data)
    assert found["a"] == "rsa-sha256" and found["c"] == "relaxed/simple" and "l" not in found
    assert found["h"].split(":") == [
        "from",
        "to",
        "subject",
        "date",
        "message-id",
        "mime-version",
        "content-type",
        "reply-to",
        "list-id",
        "feedback-id",
        "list-unsubscribe",
        "list-unsubscribe-post",
    ]
    assert not dkim.verify(data.replace(b"Headline number 1", b"Headline number X"), dnsfunc=dns)
    # A header that was absent when signed (Reply-To here) cannot be added later.
    assert b"\r\nReply-To:" not in data
    added = data.replace(b"\r\nSubject:", b"\r\nReply-To: evil@example.net\r\nSubject:", 1)
    assert not dkim.verify(added, dnsfunc=dns)


def test_ed25519_alone_and_both_algorithms_verify() -> None:
    alone = DkimSigner(
        "news.example.com", "ed", b"", algorithms=(ED25519_SHA256,), ed25519_key=ED_PEM
    )
    data = rendered(alone)
    assert tags(data)["a"] == "ed25519-sha256" and verified(data)

    # Dual signatures, one selector per key (sel for RSA, ed for Ed25519): RSA first.
    both = DkimSigner(
        "news.example.com",
        "sel",
        RSA_PEM,
        algorithms=(RSA_SHA256, ED25519_SHA256),
        ed25519_key=ED_PEM,
        ed25519_selector="ed",
    )
    message = b"From: a@news.example.com\r\nTo: b@example.org\r\nSubject: hi\r\n\r\nbody\r\n"
    signed = both.sign(message)
    assert [tags(signed, i)["a"] for i in (0, 1)] == ["rsa-sha256", "ed25519-sha256"]
    assert [tags(signed, i)["s"] for i in (0, 1)] == ["sel", "ed"]
    assert verified(signed, 0) and verified(signed, 1)
    assert not verified(signed.replace(b"Subject: hi", b"Subject: ho"), 0)
    assert not verified(signed.replace(b"body", b"bodY"), 1)
    default = DkimSigner(
        "news.example.com",
        "sel",
        RSA_PEM,
        algorithms=(RSA_SHA256, ED25519_SHA256),
        ed25519_key=ED_PEM,
    )
    assert tags(default.sign(message), 1)["s"] == "sel-ed25519"


@pytest.mark.parametrize(
    "message",
    [
        # folded, padded and repeated headers, mixed-case names, tabs
        b"FROM:  a@news.example.com  \r\nTo: x@example.org\r\nTo:\tB  <b@example.org>\r\n"
        b"Subject: a long\r\n  folded\t subject \r\nX-Other: 1\r\n\r\nbody\r\n",
        # trailing empty lines (simple body canonicalisation drops them)
        b"From: a@news.example.com\r\nSubject: s\r\n\r\nline\r\n\r\n\r\n\r\n",
        # an empty body and a body without a final CRLF
        b"From: a@news.example.com\r\nSubject: s\r\n\r\n",
        b"From: a@news.example.com\r\nSubject: s\r\n\r\nno newline",
    ],
)
def test_awkward_messages_verify(message: bytes) -> None:
    signer = DkimSigner("news.example.com", "sel", RSA_PEM)
    assert verified(signer.sign(message))


def test_prepare_and_finish_match_signing_in_one_step() -> None:
    """The split a send uses (hash here, sign in another process) gives the same bytes."""
    signer = DkimSigner("news.example.com", "sel", RSA_PEM)
    message = b"From: a@news.example.com\r\nSubject: s\r\n\r\nbody\r\n"
    prepared = signer.prepare(message)
    signatures = signer.keys.loaded().sign(prepared.digests)
    assert signer.finish(prepared, signatures) == signer.sign(message)  # RSA PKCS#1 v1.5
    with pytest.raises(ValueError, match="header block"):
        signer.prepare(b"From: a@news.example.com\r\n")


def test_bad_keys_and_settings_are_one_line_errors(tmp_path: Path) -> None:
    with pytest.raises(ConfigError, match=r"^dkim.key_file: not a PEM RSA private key"):
        DkimSigner("news.example.com", "sel", b"not a key")
    with pytest.raises(ConfigError, match=r"^dkim.key_file: not a PEM RSA private key: got Ed"):
        DkimSigner("news.example.com", "sel", ED_PEM)
    with pytest.raises(ConfigError, match=r"^dkim.ed25519_key_file: not a PEM Ed25519"):
        DkimSigner("d.example", "s", b"", algorithms=(ED25519_SHA256,), ed25519_key=RSA_PEM)
    with pytest.raises(ConfigError, match=r"^dkim.algorithms: expected some of"):
        DkimSigner("d.example", "s", RSA_PEM, algorithms=("rsa-sha1",))
    with pytest.raises(ConfigError, match=r"dkim.algorithms: expected a list of strings"):
        settings_from_dict({"dkim": {"algorithms": "rsa-sha256"}})

    # dknewkey's Ed25519 format: the base64 seed on one line.
    seed = ED_KEY.private_bytes(
        serialization.Encoding.Raw, serialization.PrivateFormat.Raw, serialization.NoEncryption()
    )
    (tmp_path / "ed.key").write_bytes(base64.b64encode(seed) + b"\n")
    (tmp_path / "rsa.pem").write_bytes(RSA_PEM)
    settings = dataclasses.replace(
        SETTINGS,
        dkim=DkimSettings(
            domain="news.example.com",
            selector="sel",
            key_file=str(tmp_path / "rsa.pem"),
            algorithms=(RSA_SHA256, ED25519_SHA256),
            ed25519_key_file=str(tmp_path / "ed.key"),
            ed25519_selector="ed",
        ),
    )
    signer = DkimSigner.from_settings(settings)
    assert signer is not None
    signed = signer.sign(b"From: a@news.example.com\r\n\r\nx\r\n")
    assert verified(signed, 0) and verified(signed, 1)
    missing = dataclasses.replace(settings.dkim, key_file=str(tmp_path / "none.pem"))
    with pytest.raises(ConfigError, match=r"^dkim.key_file: cannot read .*none.pem"):
        DkimSigner.from_settings(dataclasses.replace(settings, dkim=missing))
