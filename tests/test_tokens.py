"""Link tokens: round trips, one salt per purpose, forgeries, expiry, URL length."""

from __future__ import annotations

import dataclasses
import hashlib

import pytest
import time_machine
from itsdangerous import Signer

from digest.config import Settings
from digest.errors import ConfigError
from digest.tokens import (
    ExpiredTokenError,
    TokenError,
    archive_url,
    confirm_url,
    make_confirm_token,
    make_preferences_token,
    make_unsubscribe_token,
    preferences_url,
    read_confirm_token,
    read_preferences_token,
    read_unsubscribe_token,
    unsubscribe_url,
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


def test_urls_are_short_and_carry_no_address() -> None:
    url = unsubscribe_url(SETTINGS, 10**9)
    assert url.startswith("https://news.example.com/u/")
    assert len(url) <= 70
    assert "@" not in url and "example.org" not in url
    assert preferences_url(SETTINGS, 5).startswith("https://news.example.com/p/")
    assert archive_url(SETTINGS, 12) == "https://news.example.com/archive/12"
    token = unsubscribe_url(SETTINGS, 10**9).rsplit("/", 1)[1]
    assert read_unsubscribe_token(SECRET, token) == 10**9


def test_trailing_slash_in_site_url_is_not_doubled() -> None:
    settings = dataclasses.replace(
        SETTINGS, site=dataclasses.replace(SETTINGS.site, url="https://x.example/news/")
    )
    assert unsubscribe_url(settings, 1).startswith("https://x.example/news/u/")


def test_confirm_round_trip_and_address_binding() -> None:
    token = make_confirm_token(SECRET, 12, "Ana@Example.org")
    claim = read_confirm_token(SECRET, token, max_age=3600)
    assert claim.subscriber_id == 12
    assert claim.matches("ana@example.org")
    assert not claim.matches("someone-else@example.org")
    assert "ana" not in token.lower()
    url = confirm_url(SETTINGS, 12, "ana@example.org")
    assert url.startswith("https://news.example.com/c/")


def test_confirm_token_expires() -> None:
    with time_machine.travel("2026-11-28T08:00:00Z", tick=False):
        token = make_confirm_token(SECRET, 3, "a@example.org")
    with time_machine.travel("2026-11-28T08:59:00Z", tick=False):
        assert read_confirm_token(SECRET, token, max_age=3600).subscriber_id == 3
    with time_machine.travel("2026-11-28T09:01:00Z", tick=False), pytest.raises(ExpiredTokenError):
        read_confirm_token(SECRET, token, max_age=3600)


def test_confirm_token_forged_or_from_another_purpose() -> None:
    with pytest.raises(TokenError) as info:
        read_confirm_token(SECRET, make_unsubscribe_token(SECRET, 3), max_age=3600)
    assert not isinstance(info.value, ExpiredTokenError)
    token = make_confirm_token(SECRET, 3, "a@example.org")
    with pytest.raises(TokenError):
        read_confirm_token("other-secret", token, max_age=3600)


def test_missing_secret_key_says_what_to_do() -> None:
    with pytest.raises(ConfigError) as info:
        unsubscribe_url(Settings(secret_key=""), 1)
    assert "digest init" in str(info.value)
    assert "DIGEST_SECRET_KEY" in str(info.value)
    with pytest.raises(ConfigError):
        make_confirm_token("", 1, "a@example.org")
