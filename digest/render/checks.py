"""`digest templates check`: compile every template against built-in hostile sample content
and audit what comes out against docs/email.md (size, CSS, accessibility, C1 characters)."""

from __future__ import annotations

import dataclasses
import email
import email.policy
import re
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from email.message import EmailMessage
from html.parser import HTMLParser

from digest.config import Settings
from digest.errors import DigestError
from digest.mime import make_message_id, sending_domain
from digest.models import Article, DigestContent, Frequency, Recipient, Section
from digest.render.renderer import Renderer
from digest.render.variant import HTML_SIZE_LIMIT

CSS_LIMIT = 16 * 1024
_C1 = re.compile("[\u0080-\u009f]")
_VAGUE_LINK = re.compile(r"^\s*(click here|here|this|link|more|read more|click)\s*[.!]?\s*$", re.I)
SAMPLE_NOW = datetime(2026, 11, 28, 8, 0, tzinfo=UTC)
# Text that has broken templates elsewhere: markup, MJML closers, Jinja syntax, entities.
HOSTILE = "</mj-text><mj-raw><script>alert(1)</script></mj-raw> {{ 7*7 }} {% if %} & \"q\" 'q' <b>"


def sample_content() -> DigestContent:
    """A three-category digest whose text tries every trick an article could."""
    articles = [
        Article(
            id=f"sample-{i}",
            url=f'https://news.example.com/articles/{i}?utm_source=digest&x="y"',
            title=f"Sample headline {i}: Café “quotes” {HOSTILE}",
            published_at=SAMPLE_NOW - timedelta(hours=6 * i),
            summary=f"Summary {i} with naïve text, an ellipsis… and {HOSTILE}" if i % 3 else "",
            body_html=f"<p>Body {i} <img src=x onerror=alert(1)> {HOSTILE}</p>",
            author="Zoë O'Brien" if i % 2 else "",
            image_url="https://news.example.com/img/sample.png" if i % 4 == 0 else "",
            image_alt=f"Photo for sample {i} {HOSTILE}",
        )
        for i in range(15)
    ]
    names = ("Opioid Drugs", "Consumer Safety", "Recalls & Warnings")
    sections = tuple(
        Section(category=name, slug=name.lower().replace(" ", "-"), articles=tuple(articles[k::3]))
        for k, name in enumerate(names)
    )
    return DigestContent(
        site_name="Legal Reader",
        frequency=Frequency.WEEKLY,
        starts_at=SAMPLE_NOW - timedelta(days=7),
        ends_at=SAMPLE_NOW,
        sections=sections,
        edition_id=1,
    )


@dataclass
class CheckReport:
    errors: list[str] = field(default_factory=list)
    warnings: list[str] = field(default_factory=list)
    notes: list[str] = field(default_factory=list)

    @property
    def ok(self) -> bool:
        return not self.errors


class _Audit(HTMLParser):
    """Collects what the accessibility and client checks need from one HTML document."""

    def __init__(self) -> None:
        super().__init__(convert_charrefs=True)
        self.html_attrs: dict[str, str | None] = {}
        self.title = ""
        self.headings: list[int] = []
        self.images: list[dict[str, str | None]] = []
        self.tables_without_role = 0
        self.links: list[tuple[str, str]] = []  # (accessible name, href)
        self.css = ""
        self._stack: list[str] = []
        self._link: tuple[dict[str, str | None], list[str]] | None = None

    def handle_starttag(self, tag: str, attrs: list[tuple[str, str | None]]) -> None:
        a = dict(attrs)
        if tag == "html":
            self.html_attrs = a
        elif tag in ("h1", "h2", "h3", "h4", "h5", "h6"):
            self.headings.append(int(tag[1]))
        elif tag == "img":
            self.images.append(a)
        elif tag == "table" and a.get("role") != "presentation":
            self.tables_without_role += 1
        elif tag == "a":
            self._link = (a, [])
        if a.get("style"):
            self.css += a["style"] or ""
        self._stack.append(tag)

    def handle_endtag(self, tag: str) -> None:
        if tag == "a" and self._link is not None:
            attrs, text = self._link
            name = attrs.get("aria-label") or " ".join("".join(text).split())
            self.links.append((name, attrs.get("href") or ""))
            self._link = None
        if self._stack and self._stack[-1] == tag:
            self._stack.pop()

    def handle_data(self, data: str) -> None:
        current = self._stack[-1] if self._stack else ""
        if current == "title":
            self.title += data
        elif current == "style":
            self.css += data
        if self._link is not None:
            self._link[1].append(data)


def audit_html(page: str, name: str, report: CheckReport) -> None:
    """docs/email.md rules 12-14, 17-18 and 21 on one compiled page."""
    audit = _Audit()
    audit.feed(page)
    if not audit.html_attrs.get("lang") or audit.html_attrs.get("lang") == "und":
        report.errors.append(f"{name}: <html> has no lang (set site.lang)")
    if not audit.html_attrs.get("dir"):
        report.errors.append(f"{name}: <html> has no dir")
    if not audit.title.strip():
        report.errors.append(f"{name}: empty <title> (add an mj-title)")
    for img in audit.images:
        if img.get("alt") is None:
            report.errors.append(f"{name}: <img src={img.get('src')!r}> has no alt")
        if not img.get("width"):
            report.errors.append(f"{name}: <img src={img.get('src')!r}> has no width")
        if not (img.get("src") or "").startswith("https://"):
            report.errors.append(f"{name}: <img src={img.get('src')!r}> is not an https URL")
    if audit.headings.count(1) > 1:
        report.errors.append(f"{name}: {audit.headings.count(1)} <h1> headings, at most one")
    level = 0
    for h in audit.headings:
        if h > level + 1:
            report.errors.append(f"{name}: heading level skipped (<h{h}> after <h{level}>)")
            break
        level = h
    for text, href in audit.links:
        if not text.strip():
            report.errors.append(f"{name}: link to {href!r} has no text")
        elif _VAGUE_LINK.match(text):
            report.errors.append(f"{name}: link text {text!r} does not say where it goes")
    if audit.tables_without_role:
        report.errors.append(
            f"{name}: {audit.tables_without_role} table(s) without role=presentation"
        )
    css_size = len(audit.css.encode("utf-8"))
    if css_size >= CSS_LIMIT:
        report.errors.append(f"{name}: {css_size} bytes of CSS, Gmail drops over {CSS_LIMIT}")
    if _nested_at_rule(page):
        report.errors.append(f"{name}: an at-rule nested in another (Gmail drops the style block)")
    if _C1.search(page) or re.search(r"&#(12[89]|1[3-5][0-9]);", page):
        report.errors.append(f"{name}: C1 control characters (U+0080-U+009F) in the HTML")
    report.notes.append(f"{name}: {len(page)} bytes of HTML, {css_size} bytes of CSS")


def _nested_at_rule(page: str) -> bool:
    for block in re.findall(r"<style[^>]*>(.*?)</style>", page, re.S):
        depth_at: list[bool] = []
        for token in re.finditer(r"@[a-z-]+[^{;]*\{|\{|\}", block):
            text = token.group(0)
            if text.startswith("@"):
                if any(depth_at):
                    return True
                depth_at.append(True)
            elif text == "{":
                depth_at.append(False)
            elif depth_at:
                depth_at.pop()
    return False


def check_templates(settings: Settings, template_dir: str | None = None) -> CheckReport:
    """Render every template with sample content and audit the results."""
    if template_dir is not None:
        settings = dataclasses.replace(
            settings, templates=dataclasses.replace(settings.templates, dir=template_dir)
        )
    if not settings.secret_key:
        # Only sample links are signed here; a real key is not needed to check templates.
        settings = dataclasses.replace(settings, secret_key="template-check")
    report = CheckReport()
    try:
        renderer = Renderer(settings, dkim=None)
        _check_accent(settings.site.accent_color, report)
        variant = renderer.render_variant(sample_content())
        message = renderer.personalise(
            variant,
            Recipient(1, "reader@example.org", "Zoë Reader"),
            message_id=make_message_id(sending_domain(settings)),
            date=SAMPLE_NOW,
        )
    except DigestError as e:
        report.errors.append(str(e))
        return report
    page = renderer.render_html(variant)
    audit_html(page, "digest.mjml.j2", report)
    report.notes.append(
        f"digest: subject {variant.subject!r}, preheader {len(variant.preheader)} characters, "
        f"encoded HTML part at most {variant.html_size} bytes (limit {HTML_SIZE_LIMIT})"
    )
    if not 40 <= len(variant.preheader) <= 150:
        report.warnings.append(
            f"digest: preheader is {len(variant.preheader)} characters, not 40-150"
        )
    if variant.trimmed:
        report.warnings.append(f"digest: {variant.trimmed} sample articles trimmed for size")
    _check_message(message.data, settings, report)
    for kind in ("confirm", "welcome_back"):
        try:
            recipient = Recipient(1, "reader@example.org", "Zoë Reader")
            categories = ["Opioid Drugs", f"Recalls {HOSTILE}"]
            message_id = make_message_id(sending_domain(settings))
            if kind == "confirm":
                single = renderer.render_confirm(
                    recipient,
                    request_id=1,
                    nonce="sample-nonce",
                    categories=categories,
                    message_id=message_id,
                    date=SAMPLE_NOW,
                )
            else:
                single = renderer.render_welcome_back(
                    recipient, categories=categories, message_id=message_id, date=SAMPLE_NOW
                )
        except DigestError as e:
            report.errors.append(str(e))
            continue
        parsed = email.message_from_bytes(single.data, policy=email.policy.default)
        assert isinstance(parsed, EmailMessage)
        html_part = parsed.get_body(("html",))
        if html_part is not None:
            audit_html(html_part.get_content(), f"{kind}.mjml.j2", report)
    return report


def _check_message(data: bytes, settings: Settings, report: CheckReport) -> None:
    parsed = email.message_from_bytes(data, policy=email.policy.default)
    assert isinstance(parsed, EmailMessage)
    text = parsed.get_body(("plain",))
    if text is None:
        report.errors.append("digest.txt.j2: no text part")
        return
    content = text.get_content()
    if "&amp;" in content or "&lt;" in content:
        report.errors.append("digest.txt.j2: HTML entities in the plain text")
    if settings.site.postal_address and settings.site.postal_address not in content:
        report.errors.append("digest.txt.j2: the postal address is missing (CAN-SPAM)")
    for line in data.split(b"\r\n"):
        if len(line) > 998:
            report.errors.append("digest: a line over 998 octets in the message")
            break


def _check_accent(color: str, report: CheckReport) -> None:
    ratio = contrast(color, "#ffffff")
    if ratio < 4.5:
        report.errors.append(
            f"site.accent_color {color} on white has contrast {ratio:.1f}:1, needs 4.5:1"
        )


def contrast(a: str, b: str) -> float:
    """WCAG 2 contrast ratio of two #rgb/#rrggbb colours."""

    def luminance(color: str) -> float:
        h = color.lstrip("#")
        if len(h) == 3:
            h = "".join(c * 2 for c in h)
        channels = [int(h[i : i + 2], 16) / 255 for i in (0, 2, 4)]
        lin = [c / 12.92 if c <= 0.03928 else ((c + 0.055) / 1.055) ** 2.4 for c in channels]
        return 0.2126 * lin[0] + 0.7152 * lin[1] + 0.0722 * lin[2]

    la, lb = sorted((luminance(a), luminance(b)), reverse=True)
    return (la + 0.05) / (lb + 0.05)
