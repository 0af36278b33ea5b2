"""Classification: RFC 3463 status codes and what kind of failure they mean (hard, soft,
policy), for reports and SMTP replies alike."""

from __future__ import annotations

import re

# An RFC 3463 code: class.subject.detail. Not inside a longer dotted number (an IP address).
_ENHANCED = re.compile(r"(?<![\w.])([245])\.(\d{1,3})\.(\d{1,3})(?!\.?\d)")
_BASIC = re.compile(r"(?<![\w.])([45]\d\d)(?=[ -])")


def enhanced_code(text: str) -> str:
    """The first RFC 3463 code in ``text`` ('5.1.1'), or ''."""
    found = _ENHANCED.search(text)
    return ".".join(found.groups()) if found else ""


def failure_kind(status: str, text: str = "") -> str:
    """hard, soft or policy for a delivery failure with RFC 3463 ``status`` ('' if none)
    and the diagnostic ``text``. The same rules as the send loop's
    :func:`digest.deliver.smtp.classify` ('bounce' there is 'hard' here): 5.1.x, or a bare
    550 saying "user unknown", is a hard bounce; x.7.x is policy; everything else is soft.
    A generic X.0.0 status defers to a more specific code in the text."""
    code = status or enhanced_code(text)
    if code.endswith(".0.0"):
        specific = enhanced_code(text)
        if specific and specific[0] == code[0]:
            code = specific
    if code:
        cls, subject, _ = code.split(".")
        if subject == "7":
            return "policy"
        return "hard" if (cls, subject) == ("5", "1") else "soft"
    basic = _BASIC.search(text)
    if basic and basic.group(1) == "550" and "user unknown" in text.lower():
        return "hard"
    return "soft"
