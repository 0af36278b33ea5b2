"""MessageTemplate: split once at placeholders, fill per recipient."""

from __future__ import annotations

from digest.mime import (
    MessageTemplate,
)


def test_message_template_fill_is_one_pass() -> None:
    template = MessageTemplate.split(b"a TOK1 b TOK2 c TOK1", {"one": b"TOK1", "two": b"TOK2"})
    assert template.slots == ("one", "two", "one")
    # A value that contains another placeholder is not substituted again.
    assert template.fill({"one": b"TOK2", "two": b"2"}) == b"a TOK2 b 2 c TOK2"
