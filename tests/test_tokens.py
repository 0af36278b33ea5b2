"""Link tokens: round trips, one salt per purpose, forgeries, expiry."""

from __future__ import annotations

import hashlib
import re

import pytest
import time_machine
from itsdangerous import Signer

from digest.config import Settings
from digest.errors import ConfigError
from digest.tokens import (
    ClickClaim,
    ExpiredTokenError,
    IdSigner,
    PairSigner,
    TokenError,
    TrackSigner,
    ViewClaim,
    address_tag,
    make_confirm_token,
    make_preferences_token,
    make_unsubscribe_token,
    read_confirm_token,
    read_preferences_token,
    read_unsubscribe_token,
)

SECRET = "test-secret-key-0123456789"
SETTINGS = Settings(secret_key=SECRET)


@pytest.mark.parametrize("subscriber_id", [0, 1, 42, 123_456, 2**40])
def test_unsubscribe_and_preferences_round_trip(subscriber_id: int) -> None:
    assert read_unsubscribe_token(SECRET, make_unsubscribe_token(SECRET, subscriber_id)) == (
        subscriber_id
    )
    assert read_preferences_token(SECRET, make_preferences_token(SECRET, subscriber_id)) == (
        subscriber_id
    )


def test_a_token_for_one_purpose_does_not_work_for_another() -> None:
    unsub = make_unsubscribe_token(SECRET, 7)
    prefs = make_preferences_token(SECRET, 7)
    assert unsub != prefs
    with pytest.raises(TokenError):
        read_preferences_token(SECRET, unsub)
    with pytest.raises(TokenError):
        read_unsubscribe_token(SECRET, prefs)


def test_forged_tampered_and_malformed_tokens_are_refused() -> None:
    token = make_unsubscribe_token(SECRET, 7)
    value, _, sig = token.partition(".")
    other_id = make_unsubscribe_token(SECRET, 8).partition(".")[0]
    flipped = sig[:-1] + ("A" if sig[-1] != "A" else "B")
    for bad in (f"{other_id}.{sig}", f"{value}.{flipped}", "", ".", value, f"{value}.", "x" * 80):
        with pytest.raises(TokenError):
            read_unsubscribe_token(SECRET, bad)
    with pytest.raises(TokenError):
        read_unsubscribe_token("another-secret", token)


def test_token_is_itsdangerous_signature_truncated() -> None:
    """The web side may verify with plain itsdangerous: same key derivation and HMAC."""
    token = make_unsubscribe_token(SECRET, 99)
    value, _, sig = token.partition(".")
    full = Signer(SECRET, salt="unsubscribe", digest_method=hashlib.sha256).get_signature(value)
    assert full.decode().startswith(sig)


def test_confirm_round_trip_and_address_binding() -> None:
    token = make_confirm_token(SECRET, 12, "n0nce", "Ana@Example.org")
    claim = read_confirm_token(SECRET, token, max_age=3600)
    assert (claim.request_id, claim.nonce) == (12, "n0nce")
    assert claim.matches("ana@example.org")
    assert not claim.matches("someone-else@example.org")
    assert "ana" not in token.lower()


def test_confirm_token_expires() -> None:
    with time_machine.travel("2026-11-28T08:00:00Z", tick=False):
        token = make_confirm_token(SECRET, 3, "n0nce", "a@example.org")
    with time_machine.travel("2026-11-28T08:59:00Z", tick=False):
        assert read_confirm_token(SECRET, token, max_age=3600).request_id == 3
    with time_machine.travel("2026-11-28T09:01:00Z", tick=False), pytest.raises(ExpiredTokenError):
        read_confirm_token(SECRET, token, max_age=3600)


def test_confirm_token_forged_or_from_another_purpose() -> None:
    with pytest.raises(TokenError) as info:
        read_confirm_token(SECRET, make_unsubscribe_token(SECRET, 3), max_age=3600)
    assert not isinstance(info.value, ExpiredTokenError)
    token = make_confirm_token(SECRET, 3, "n0nce", "a@example.org")
    with pytest.raises(TokenError):
        read_confirm_token("other-secret", token, max_age=3600)


def test_missing_secret_key_says_what_to_do() -> None:
    with pytest.raises(ConfigError) as info:
        make_unsubscribe_token("", 1)
    assert "digest init" in str(info.value)
    assert "DIGEST_SECRET_KEY" in str(info.value)
    with pytest.raises(ConfigError):
        make_confirm_token("", 1, "n0nce", "a@example.org")


def test_address_tag_is_a_short_prefix_not_the_store_hash() -> None:
    from digest.store.subscribers import email_hash

    tag = address_tag(" Ana@Example.org ")
    assert tag == address_tag("ana@example.org") and len(tag) == 12
    assert email_hash("ana@example.org").startswith(tag) and email_hash("ana@example.org") != tag


# -- tracking: clicks, opens and the reader part (docs/tracking.md) --------------------------


@pytest.mark.parametrize("article_id", ["a1", "0123456789abcdef", "näme/with?odd&chars", "x" * 256])
def test_click_tokens_round_trip_and_name_no_reader(article_id: str) -> None:
    signer = TrackSigner(SECRET)
    token = signer.click(12, 3, article_id)
    assert signer.read_click(token) == ClickClaim(12, 3, article_id)
    assert re.fullmatch(r"[0-9A-Za-z._-]+", token)
    assert signer.read_open(signer.open(12)) == 12
    assert signer.read_reader(12, signer.reader(12, 42)) == 42


def test_tracking_tokens_are_refused_when_altered_or_reused_elsewhere() -> None:
    signer = TrackSigner(SECRET)
    click, opened, reader = signer.click(12, 3, "a1"), signer.open(12), signer.reader(12, 42)
    edition, category, article, signature = click.split(".")
    for bad in (
        f"{edition}.{category}.YTI.{signature}",  # another article
        f"{edition}.4.{article}.{signature}",  # another category
        f"d.{category}.{article}.{signature}",  # another edition
        click[:-1] + ("A" if click[-1] != "A" else "B"),
        TrackSigner("another-secret").click(12, 3, "a1"),
        "",
        "a.b.c",
        f"0.{category}.{article}.{signature}",
    ):
        with pytest.raises(TokenError):
            signer.read_click(bad)
    with pytest.raises(TokenError):
        signer.read_click(opened)  # one salt per purpose
    with pytest.raises(TokenError):
        signer.read_open(reader)
    with pytest.raises(TokenError):
        signer.read_reader(13, reader)  # a reader part belongs to its edition
    with pytest.raises(TokenError):
        signer.read_reader(12, "17." + reader.partition(".")[2])  # another reader
    unsubscribe = make_unsubscribe_token(SECRET, 42)
    with pytest.raises(TokenError):
        signer.read_reader(12, unsubscribe)


# -- view in browser: (subscriber id, edition id) ------------------------------------------


def test_view_tokens_name_one_reader_and_one_edition() -> None:
    signer = PairSigner(SECRET)
    token = signer.sign(12345, 678)
    assert signer.read(token) == ViewClaim(subscriber_id=12345, edition_id=678)
    assert token.startswith("3039.2a6.") and len(token) == len("3039.2a6.") + 22
    # Genuine for another reader or edition only when signed for it.
    assert signer.sign(12345, 679) != token and signer.sign(12346, 678) != token


@pytest.mark.parametrize(
    "forged",
    [
        "3039.2a7.{sig}",  # another edition, the same signature
        "303a.2a6.{sig}",  # another reader
        "3039.2a6.{sig}x",
        "3039.2a6",
        "3039.2a6.{sig}.x",
        "3039.2A6.{sig}",
        "7fffffffffffffff1.2a6.{sig}",
        "",
    ],
)
def test_view_tokens_refuse_forgeries(forged: str) -> None:
    signer = PairSigner(SECRET)
    signature = signer.sign(12345, 678).rsplit(".", 1)[1]
    with pytest.raises(TokenError):
        signer.read(forged.format(sig=signature))


def test_view_tokens_have_a_salt_of_their_own() -> None:
    # An unsubscribe token's signature over the same text does not open a copy, nor one made
    # with another secret.
    value = "3039.2a6"
    unsubscribe = IdSigner(SECRET, "unsubscribe").signature(value.encode())
    with pytest.raises(TokenError):
        PairSigner(SECRET).read(f"{value}.{unsubscribe}")
    with pytest.raises(TokenError):
        PairSigner(SECRET).read(PairSigner("another-secret").sign(12345, 678))
