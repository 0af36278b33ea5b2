"""digest.ingest.sanitize: untrusted HTML to an allowlist, plain text, truncation."""

from __future__ import annotations

from digest.ingest import plain_text, sanitize_html, truncate


def test_sanitize_html_directly() -> None:
    hostile = (
        '<p onclick="steal()" style="color:red">Hi <a href="javascript:alert(1)">x</a>'
        '<a href="//evil.example/">y</a> <a href="data:text/html,hi">z</a>'
        "<script>alert(1)</script><iframe src=https://evil.example></iframe>"
        '<img src=x onerror=alert(1)><strong class="big">ok</strong></p>'
    )
    assert sanitize_html(hostile, base="https://news.example.com/a") == (
        '<p>Hi <a rel="noopener">x</a><a href="https://evil.example/" rel="noopener">y</a> '
        '<a rel="noopener">z</a><strong>ok</strong></p>'
    )
    # Relative links without a base cannot be made absolute, so they are dropped.
    assert sanitize_html('<a href="/x">x</a>') == '<a rel="noopener">x</a>'
    assert sanitize_html("<script>only()</script>") == ""


def test_plain_text_and_truncate() -> None:
    assert plain_text("<p>Smith &amp; Jones</p><p>said &quot;no&quot;</p>") == (
        'Smith & Jones said "no"'
    )
    assert plain_text("A < B & C") == "A < B & C"
    assert plain_text("<style>p{}</style>Text<script>x()</script>") == "Text"
    words = "word " * 100
    short = truncate(words.strip(), 30)
    assert short == "word word word word word word…"
    assert len(short) <= 30
    assert truncate("short", 30) == "short"
