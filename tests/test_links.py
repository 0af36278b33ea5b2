"""Links: absolute URLs for mail, paths for the web pages, and reading tokens back."""

from __future__ import annotations

import dataclasses

import pytest
import time_machine

from digest.config import Settings
from digest.errors import ConfigError
from digest.links import Links
from digest.tokens import (
    ExpiredTokenError,
    LinkClaim,
    TokenError,
    make_preferences_token,
    make_unsubscribe_token,
    read_confirm_token,
    read_preferences_token,
    read_unsubscribe_token,
)

SECRET = "test-secret-key-0123456789"
SETTINGS = Settings(secret_key=SECRET)
LINKS = Links.from_settings(SETTINGS)


def test_urls_are_short_and_carry_no_address() -> None:
    url = LINKS.unsubscribe(10**9)
    assert url.startswith("https://news.example.com/u/")
    assert len(url) <= 70
    assert "@" not in url and "example.org" not in url
    assert LINKS.preferences(5).startswith("https://news.example.com/p/")
    assert LINKS.archive(12) == "https://news.example.com/archive/12"
    token = LINKS.unsubscribe(10**9).rsplit("/", 1)[1]
    assert read_unsubscribe_token(SECRET, token) == 10**9


def test_trailing_slash_in_site_url_is_not_doubled() -> None:
    settings = dataclasses.replace(
        SETTINGS, site=dataclasses.replace(SETTINGS.site, url="https://x.example/news/")
    )
    links = Links.from_settings(settings)
    assert links.unsubscribe(1).startswith("https://x.example/news/u/")
    assert links.home() == "https://x.example/news/"


def test_paths_are_the_urls_without_the_site() -> None:
    assert LINKS.unsubscribe_path(7) == "/u/" + make_unsubscribe_token(SECRET, 7)
    assert LINKS.preferences_path(7) == "/p/" + make_preferences_token(SECRET, 7)
    assert LINKS.archive_path(3) == "/archive/3"
    assert LINKS.unsubscribe(7) == "https://news.example.com" + LINKS.unsubscribe_path(7)
    assert LINKS.preferences(7) == "https://news.example.com" + LINKS.preferences_path(7)
    assert LINKS.archive(3) == "https://news.example.com" + LINKS.archive_path(3)
    assert LINKS.confirm_path(7, "n0nce", "a@example.org").startswith("/c/")


def test_longest_subscriber_link_bounds_every_id() -> None:
    longest = len(LINKS.unsubscribe(36**13 - 1, 36**13 - 1))
    assert LINKS.longest_subscriber_link() == longest
    assert len(LINKS.preferences(36**13 - 1)) < longest


def test_unsubscribe_links_name_the_edition_and_old_ones_still_work() -> None:
    token = LINKS.unsubscribe_path(42, 7).rsplit("/", 1)[1]
    assert LINKS.read_unsubscribe_claim(token) == LinkClaim(42, 7)
    assert LINKS.read_unsubscribe(token) == 42
    old = make_unsubscribe_token(SECRET, 42)  # as mailed before editions were named
    assert LINKS.read_unsubscribe_claim(old) == LinkClaim(42, None)
    # The edition is signed: another edition's id in the same token is refused.
    value, _, signature = token.partition(".")
    with pytest.raises(TokenError):
        LINKS.read_unsubscribe_claim(f"{value.split('-')[0]}-8.{signature}")
    with pytest.raises(TokenError):
        LINKS.read_unsubscribe_claim(f"{value.split('-')[0]}.{signature}")
    with pytest.raises(TokenError):  # a preferences token is not an unsubscribe one
        LINKS.read_unsubscribe_claim(LINKS.preferences_path(42).rsplit("/", 1)[1])


def test_readers_take_back_what_was_signed() -> None:
    assert LINKS.read_unsubscribe(LINKS.unsubscribe_path(42).rsplit("/", 1)[1]) == 42
    assert LINKS.read_preferences(LINKS.preferences_path(42).rsplit("/", 1)[1]) == 42
    assert read_preferences_token(SECRET, LINKS.preferences(42).rsplit("/", 1)[1]) == 42
    with pytest.raises(TokenError):
        LINKS.read_unsubscribe(LINKS.preferences_path(42).rsplit("/", 1)[1])


def test_confirm_url_and_reader() -> None:
    url = LINKS.confirm(12, "n0nce", "ana@example.org")
    assert url.startswith("https://news.example.com/c/")
    token = url.rsplit("/", 1)[1]
    claim = LINKS.read_confirm(token, 3600)
    assert claim.request_id == 12 and claim.matches("Ana@Example.org")
    assert claim.nonce_matches("n0nce") and not claim.nonce_matches("other")
    assert read_confirm_token(SECRET, token, max_age=3600) == claim


def test_confirm_link_expires() -> None:
    with time_machine.travel("2026-11-28T08:00:00Z", tick=False):
        token = LINKS.confirm_path(3, "n0nce", "a@example.org").rsplit("/", 1)[1]
    with time_machine.travel("2026-11-28T09:01:00Z", tick=False), pytest.raises(ExpiredTokenError):
        LINKS.read_confirm(token, 3600)


def test_missing_secret_key_says_what_to_do_when_signing() -> None:
    links = Links.from_settings(Settings(secret_key=""))
    assert links.archive(1) == "https://news.example.com/archive/1"  # needs no key
    with pytest.raises(ConfigError) as info:
        links.unsubscribe(1)
    assert "digest init" in str(info.value)
    assert "DIGEST_SECRET_KEY" in str(info.value)


@pytest.mark.parametrize("value", ["16-", "-7", "16-7-1", "16--7", "16-7 ", "16-Z"])
def test_malformed_edition_parts_are_refused(value: str) -> None:
    signature = LINKS.unsubscribe_path(42, 7).rsplit(".", 1)[1]
    with pytest.raises(TokenError, match="malformed"):
        LINKS.read_unsubscribe_claim(f"{value}.{signature}")
