"""What every message shares: envelope sender and VERP."""

from __future__ import annotations

import dataclasses

from digest.models import Recipient
from digest.render import Renderer
from tests.render_samples import (
    NOW,
    SETTINGS,
    seven_articles,
)


def test_verp_return_path_names_the_reader() -> None:
    """With `return_path = "bounces+{token}@…"` each reader's MAIL FROM carries a signed
    token that the bounce import reads back; a test copy (no reader) returns to From."""
    from digest.config import SenderSettings
    from digest.tokens import read_verp

    settings = dataclasses.replace(
        SETTINGS,
        sender=SenderSettings(
            from_="Legal Reader <digest@news.example.com>",
            return_path="bounces+{token}@news.example.com",
        ),
    )
    renderer = Renderer(settings)
    variant = renderer.render_variant(seven_articles())
    message = renderer.personalise(
        variant,
        Recipient(subscriber_id=42, email="r@example.com"),
        message_id="<x@news.example.com>",
        date=NOW,
    )
    assert message.sender.startswith("bounces+") and "{" not in message.sender
    assert read_verp(settings, [message.sender]) == 42
    test_copy = renderer.personalise(
        variant,
        Recipient(subscriber_id=0, email="editor@example.com"),
        message_id="<y@news.example.com>",
        date=NOW,
    )
    assert test_copy.sender == "digest@news.example.com"
