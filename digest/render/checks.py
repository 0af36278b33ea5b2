"""`digest templates check`: compile every template against built-in hostile sample content
and audit what comes out against docs/email.md (size, CSS, accessibility, C1 characters)."""

from __future__ import annotations

import dataclasses
import email
import email.policy
import re
from collections.abc import Callable
from dataclasses import dataclass, field
from email.message import EmailMessage
from html.parser import HTMLParser

from digest.config import Settings
from digest.errors import DigestError
from digest.mime import make_message_id, sending_domain
from digest.models import Recipient
from digest.render.guard import check_digest_case, check_mjml_template, locator
from digest.render.renderer import Renderer
from digest.render.samples import HOSTILE, SAMPLE_NOW, matrix, sample_content
from digest.render.variant import HTML_SIZE_LIMIT
from digest.render.verdicts import fingerprint

__all__ = [
    "HOSTILE",
    "SAMPLE_NOW",
    "CheckReport",
    "audit_html",
    "check_templates",
    "sample_content",
]

CSS_LIMIT = 16 * 1024
_C1 = re.compile("[\u0080-\u009f]")
_VAGUE_LINK = re.compile(r"^\s*(click here|here|this|link|more|read more|click)\s*[.!]?\s*$", re.I)


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
        self.style_blocks: list[str] = []
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
            if self._link is not None:  # an image's alt names the link it is in
                self._link[1].append(f" {a.get('alt') or ''} ")
        elif tag == "table" and a.get("role") != "presentation":
            self.tables_without_role += 1
        elif tag == "a":
            self._link = (a, [])
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
            self.style_blocks.append(data)
        if self._link is not None:
            self._link[1].append(data)


def audit_html(page: str, name: str, where: Callable[[str], str], report: CheckReport) -> None:
    """docs/email.md rules 12-14, 17-18 and 21 on one compiled page; ``where(word)`` names
    the template line that mentions ``word`` (see :func:`digest.render.guard.locator`)."""
    audit = _Audit()
    audit.feed(page)
    errors = report.errors
    if not audit.html_attrs.get("lang") or audit.html_attrs.get("lang") == "und":
        errors.append(f"{where('lang=')}: <html> has no lang (set site.lang)")
    if not audit.html_attrs.get("dir"):
        errors.append(f"{where('dir=')}: <html> has no dir (ltr or rtl)")
    if not audit.title.strip():
        errors.append(f"{where('<mj-head')}: empty <title> (add an mj-title)")
    for img in audit.images:
        src = img.get("src")
        if img.get("alt") is None:
            errors.append(f"{where('<mj-image')}: <img src={src!r}> has no alt (alt=\"\" if "
                          "decorative)")  # fmt: skip
        if not img.get("width"):
            errors.append(f"{where('<mj-image')}: <img src={src!r}> has no width")
        if not (src or "").startswith("https://"):
            errors.append(f"{where('<mj-image')}: <img src={src!r}> is not an https URL")
    if audit.headings.count(1) > 1:
        errors.append(f"{where('<h1')}: {audit.headings.count(1)} <h1> headings, at most one")
    level = 0
    for h in audit.headings:
        if h > level + 1:
            errors.append(
                f"{where(f'<h{h}')}: heading level skipped (<h{h}> after "
                f"{f'<h{level}>' if level else 'no heading'}); allowed next: h1 to h{level + 1}"
            )
            break
        level = h
    for text, href in audit.links:
        if not text.strip():
            errors.append(f"{where('<a ')}: link to {href!r} has no text")
        elif _VAGUE_LINK.match(text):
            errors.append(f"{where(text)}: link text {text!r} does not say where it goes")
    if audit.tables_without_role:
        errors.append(
            f"{where('<table')}: {audit.tables_without_role} table(s) without role=presentation"
        )
    sizes = [len(block.encode("utf-8")) for block in audit.style_blocks]
    for size in sizes:
        if size >= CSS_LIMIT:
            errors.append(
                f"{where('<mj-style')}: a <style> block of {size} bytes; Gmail drops a block "
                f"of {CSS_LIMIT} or more"
            )
    if _nested_at_rule(page):
        errors.append(
            f"{where('@media')}: an at-rule nested in another (Gmail drops the style block)"
        )
    if _C1.search(page) or re.search(r"&#(12[89]|1[3-5][0-9]);", page):
        errors.append(f"{where('')}: C1 control characters (U+0080-U+009F) in the HTML")
    report.notes.append(
        f"{name}: {len(page)} bytes of HTML, {len(sizes)} <style> block(s), "
        f"{sum(sizes)} bytes of CSS"
    )


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
    """Render every template against every context of the matrix
    (:func:`digest.render.samples.matrix`) and audit the results. The first error found in
    a template stops that template's checks: one line a user can act on."""
    if template_dir is not None:
        settings = dataclasses.replace(
            settings, templates=dataclasses.replace(settings.templates, dir=template_dir)
        )
    if not settings.secret_key:
        # Only sample links are signed here; a real key is not needed to check templates.
        settings = dataclasses.replace(settings, secret_key="template-check")
    report = CheckReport()
    if settings.tracking.opens != "off" and not settings.site.url.startswith("https://"):
        # The open image is served from site.url (docs/tracking.md) and added after the
        # template: the https rule (docs/email.md rule 14) is not the template's to meet.
        report.errors.append(
            f"tracking.opens: the open image would be served from {settings.site.url!r}, "
            "not an https URL (docs/email.md rule 14): set site.url to the site's https "
            'address, or tracking.opens = "off"'
        )
        return report
    try:
        renderer = Renderer(settings, dkim=None)
        rtl = Renderer(
            dataclasses.replace(settings, site=dataclasses.replace(settings.site, lang="ar")),
            dkim=None,
        )
        _check_accent(settings.site.accent_color, report)
        where = locator(renderer, "digest.mjml.j2")
        for case in matrix(settings.digest.max_articles_per_category):
            scratch = CheckReport()
            variant = check_digest_case(rtl if case.rtl else renderer, case)
            audit_html(variant.html, "digest.mjml.j2", where, scratch)
            report.errors += [f"{e} ({case.name})" for e in scratch.errors]
            if report.errors:
                return report
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
    audit_html(page, "digest.mjml.j2", where, report)
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
        _check_system(renderer, kind, report)
    return report


def _check_system(renderer: Renderer, kind: str, report: CheckReport) -> None:
    reader = Recipient(1, "reader@example.org", "Zoë Reader")
    categories = ["Opioid Drugs", f"Recalls {HOSTILE}"]
    links = {"confirm_url": "https://news.example.com/c/x", "preferences_url": "p",
             "unsubscribe_url": "u"}  # fmt: skip
    try:
        context = renderer.system.context(kind, reader, links, categories)
        check_mjml_template(renderer, f"{kind}.mjml.j2", context, kind)
        message_id = make_message_id(sending_domain(renderer.settings))
        if kind == "confirm":
            single = renderer.render_confirm(
                reader,
                request_id=1,
                nonce="sample-nonce",
                categories=categories,
                message_id=message_id,
                date=SAMPLE_NOW,
            )
        else:
            single = renderer.render_welcome_back(
                reader, categories=categories, message_id=message_id, date=SAMPLE_NOW
            )
    except DigestError as e:
        report.errors.append(str(e))
        return
    parsed = email.message_from_bytes(single.data, policy=email.policy.default)
    assert isinstance(parsed, EmailMessage)
    html_part = parsed.get_body(("html",))
    if html_part is not None:
        audit_html(
            html_part.get_content(),
            f"{kind}.mjml.j2",
            locator(renderer, f"{kind}.mjml.j2"),
            report,
        )


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


_CACHE: dict[str, CheckReport] = {}


def cached_check(settings: Settings, key: str | None = None) -> CheckReport:
    """:func:`check_templates` for ``settings``, remembered in this process under ``key``,
    the :func:`digest.render.verdicts.fingerprint` of its inputs (computed when not given;
    tests and a long-running scheduler build many Apps)."""
    if key is None:
        key = fingerprint(settings)
    report = _CACHE.get(key)
    if report is None:
        if len(_CACHE) >= 16:
            _CACHE.clear()
        report = _CACHE[key] = check_templates(settings)
    return report
