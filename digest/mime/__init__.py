"""Message bytes: build once per content variant, personalise per recipient by substitution.

The stdlib ``email`` package builds the body (multipart/alternative, text/plain then
text/html, both utf-8) once per variant. The HTML is made 7-bit first (non-ASCII to ``&#N;``,
lines broken after ``>``), so it goes out as 7bit and placeholder tokens in it can never be
split by a quoted-printable soft line break. The text part is quoted-printable; its
placeholders sit on lines of their own, and the values put there are QP-encoded themselves.
The header block is written here, by hand, because the values in it are per-recipient and
because some Python versions glue RFC 2047 encoded-words together (``?==?``), which Yahoo
rejects. See docs/email.md and docs/performance.md (MIME).

Headers live in :mod:`digest.mime.headers`, the body in :mod:`digest.mime.body`, the
placeholder template in :mod:`digest.mime.template` and signing in :mod:`digest.mime.dkim`.
"""

from __future__ import annotations

from digest.mime.body import HTML_LINE_LIMIT, build_body, html_to_7bit, qp_line, strip_controls
from digest.mime.dkim import DKIM_HEADERS, DkimSigner
from digest.mime.headers import (
    HEADER_SOFT_LIMIT,
    DeliveryMessageIds,
    check_address,
    encoded_words,
    envelope_sender,
    feedback_id,
    format_address,
    header_line,
    list_id,
    list_id_line,
    list_unsubscribe_value,
    make_message_id,
    normalise_message_id,
    parse_sender,
    sending_domain,
)
from digest.mime.template import MessageTemplate

__all__ = [
    "DKIM_HEADERS",
    "HEADER_SOFT_LIMIT",
    "HTML_LINE_LIMIT",
    "DeliveryMessageIds",
    "DkimSigner",
    "MessageTemplate",
    "build_body",
    "check_address",
    "encoded_words",
    "envelope_sender",
    "feedback_id",
    "format_address",
    "header_line",
    "html_to_7bit",
    "list_id",
    "list_id_line",
    "list_unsubscribe_value",
    "make_message_id",
    "normalise_message_id",
    "parse_sender",
    "qp_line",
    "sending_domain",
    "strip_controls",
]
