"""System mails: confirm and welcome back, through one path."""

from __future__ import annotations

import re

from digest.models import Recipient
from digest.render import SUBJECTS, Renderer
from digest.tokens import read_confirm_token, read_preferences_token
from tests.render_samples import (
    HOSTILE,
    NOW,
    SECRET,
    SETTINGS,
    parse,
    parts,
)


def test_confirm_and_welcome_back_messages() -> None:
    renderer = Renderer(SETTINGS)
    recipient = Recipient(3, "zoe@example.org", "Zoë")
    confirm = renderer.render_confirm(
        recipient,
        request_id=5,
        nonce="n0nce",
        categories=["Opioid Drugs", HOSTILE],
        message_id="<c@news.example.com>",
        date=NOW,
    )
    msg = parse(confirm.data)
    assert msg["Subject"] == "Please confirm your subscription to Legal Reader"
    assert msg["List-Unsubscribe"] is None and msg["Auto-Submitted"] == "auto-generated"
    text, page = parts(msg)
    link = re.search(r"https://news\.example\.com/c/\S+", text)
    assert link and f'href="{link.group(0)}"' in page
    # The name is whatever a stranger typed into the form: never in a system mail.
    assert "Zo" not in text and "Zo" not in page and msg["To"] == "zoe@example.org"
    assert read_confirm_token(SECRET, link.group(0).rsplit("/", 1)[1], max_age=60).nonce == "n0nce"
    assert "<script" not in page and "&lt;script&gt;" in page
    welcome = renderer.render_welcome_back(
        recipient, categories=["Opioid Drugs"], message_id="<w@news.example.com>", date=NOW
    )
    msg = parse(welcome.data)
    text, page = parts(msg)
    assert "Zo" not in text and msg["To"] == "zoe@example.org"
    prefs = re.search(r"/p/([\w.-]+)", text)
    assert prefs and read_preferences_token(SECRET, prefs.group(1)) == 3
    assert "already" in text and ">Manage your categories</a>" in page


def test_every_system_mail_goes_through_one_path() -> None:
    renderer = Renderer(SETTINGS)
    recipient = Recipient(3, "zoe@example.org", "Zoë")
    mid = "<w@news.example.com>"
    welcome = renderer.render_welcome_back(
        recipient, categories=["Opioid Drugs"], message_id=mid, date=NOW
    )
    unsub, prefs = renderer.links(3)
    direct = renderer.system.render(
        "welcome_back",
        recipient,
        {"preferences_url": prefs, "unsubscribe_url": unsub},
        categories=["Opioid Drugs"],
        message_id=mid,
        date=NOW,
    )
    assert direct == welcome
    assert welcome.subject == SUBJECTS["welcome_back"].format(site="Legal Reader")
    assert welcome.subject == parse(welcome.data)["Subject"]
    assert renderer.compile_count == 2
