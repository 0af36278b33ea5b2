"""MJML's documented elements, where each may appear and the attributes each takes.

mjml-python (MRML) compiles an unknown element or a bad attribute value without a word, so an
``<mj-dividr>`` or ``font-size="huge"`` would reach every reader as broken layout.
:func:`check_mjml` walks rendered MJML against MJML 4's documented set (docs/email.md rule
16) and returns the first problem with its position; :mod:`digest.render.guard` maps the
position back to the template line.
"""

from __future__ import annotations

import re
from collections.abc import Callable
from dataclasses import dataclass

# -- attribute value types ------------------------------------------------------------------

_LEN = r"-?\d+(?:\.\d+)?(?:px|%)|0"
_PX = re.compile(r"-?\d+(?:\.\d+)?px|0")
_UNIT = re.compile(_LEN)
_UNITS = re.compile(rf"(?:{_LEN})(?:\s+(?:{_LEN})){{0,3}}")
_LINE_HEIGHT = re.compile(r"\d+(?:\.\d+)?(?:px|%|em)?|normal")
_SPACING = re.compile(r"-?\d+(?:\.\d+)?(?:px|em)|normal|0")
_WEIGHT = re.compile(r"[1-9]00|normal|bold|bolder|lighter")
_COLOR = re.compile(
    r"#[0-9a-fA-F]{3}|#[0-9a-fA-F]{6}|#[0-9a-fA-F]{8}|rgba?\([\d\s.,%]+\)|[a-zA-Z]+"
)
_INT = re.compile(r"\d+")


@dataclass(frozen=True)
class Kind:
    """An attribute's value type: ``ok`` says whether a value fits, ``allowed`` says what
    does, for the error message."""

    ok: Callable[[str], bool]
    allowed: str


def _pattern(regex: re.Pattern[str], allowed: str) -> Kind:
    return Kind(lambda v: regex.fullmatch(v.strip()) is not None, allowed)


def _enum(*values: str) -> Kind:
    return Kind(lambda v: v in values, "one of " + ", ".join(values))


ANY = Kind(lambda v: True, "any text")
PX = _pattern(_PX, "a length in px like 16px")
UNIT = _pattern(_UNIT, "a length in px or % like 600px or 100%")
UNITS = _pattern(_UNITS, "1 to 4 lengths in px or % like 8px 24px")
COLOR = _pattern(_COLOR, "a colour like #1a4d8f, rgb(...) or a colour name")
LINE_HEIGHT = _pattern(_LINE_HEIGHT, "a number or a length like 1.5 or 24px")
SPACING = _pattern(_SPACING, "a length in px or em like 1px")
WEIGHT = _pattern(_WEIGHT, "normal, bold or 100-900")
INT = _pattern(_INT, "a whole number")
ALIGN = _enum("left", "right", "center", "justify")
VALIGN = _enum("top", "middle", "bottom")
DIRECTION = _enum("ltr", "rtl")

_PADDING = {
    "padding": UNITS,
    "padding-top": UNIT,
    "padding-bottom": UNIT,
    "padding-left": UNIT,
    "padding-right": UNIT,
}
_BORDERS = {
    "border": ANY,
    "border-top": ANY,
    "border-bottom": ANY,
    "border-left": ANY,
    "border-right": ANY,
    "border-radius": UNITS,
}
_FONT = {
    "color": COLOR,
    "font-family": ANY,
    "font-size": PX,
    "font-style": _enum("normal", "italic", "oblique"),
    "font-weight": WEIGHT,
    "line-height": LINE_HEIGHT,
    "letter-spacing": SPACING,
    "text-decoration": ANY,
    "text-transform": _enum("none", "uppercase", "lowercase", "capitalize"),
}
_BACKGROUND = {
    "background-color": COLOR,
    "background-url": ANY,
    "background-repeat": _enum("repeat", "no-repeat"),
    "background-size": ANY,
    "background-position": ANY,
    "background-position-x": ANY,
    "background-position-y": ANY,
}
_LINK = {"href": ANY, "rel": ANY, "target": ANY, "title": ANY, "name": ANY}
_BOX = {**_PADDING, "container-background-color": COLOR}

# None: any attribute (elements this project does not use; MRML checks them itself).
ATTRIBUTES: dict[str, dict[str, Kind] | None] = {
    "mjml": {"lang": ANY, "dir": DIRECTION, "owa": ANY},
    "mj-head": {},
    "mj-body": {"width": PX, "background-color": COLOR},
    "mj-attributes": {},
    "mj-all": None,
    "mj-class": None,
    "mj-breakpoint": {"width": PX},
    "mj-font": {"name": ANY, "href": ANY},
    "mj-preview": {},
    "mj-style": {"inline": _enum("inline")},
    "mj-title": {},
    "mj-raw": {"position": _enum("file-start")},
    "mj-include": {"path": ANY, "type": ANY},
    "mj-wrapper": {
        **_BACKGROUND,
        **_BORDERS,
        **_PADDING,
        "full-width": _enum("full-width", "false"),
        "text-align": ALIGN,
        "gap": UNIT,
    },
    "mj-section": {
        **_BACKGROUND,
        **_BORDERS,
        **_PADDING,
        "direction": DIRECTION,
        "full-width": _enum("full-width", "false"),
        "text-align": ALIGN,
    },
    "mj-group": {
        "width": UNIT,
        "vertical-align": VALIGN,
        "background-color": COLOR,
        "direction": DIRECTION,
    },
    "mj-column": {
        **_BORDERS,
        **_PADDING,
        "background-color": COLOR,
        "inner-background-color": COLOR,
        "inner-border": ANY,
        "inner-border-radius": UNITS,
        "vertical-align": VALIGN,
        "width": UNIT,
        "direction": DIRECTION,
    },
    "mj-text": {**_BOX, **_FONT, "align": ALIGN, "height": UNIT, "vertical-align": VALIGN},
    "mj-image": {
        **_BOX,
        **_BORDERS,
        **_LINK,
        "align": ALIGN,
        "alt": ANY,
        "src": ANY,
        "srcset": ANY,
        "sizes": ANY,
        "usemap": ANY,
        "width": UNIT,
        "height": UNIT,
        "max-height": UNIT,
        "fluid-on-mobile": _enum("true", "false"),
        "font-size": PX,
    },
    "mj-button": {
        **_BOX,
        **_BORDERS,
        **_FONT,
        **_LINK,
        "align": ALIGN,
        "background-color": COLOR,
        "height": UNIT,
        "width": UNIT,
        "inner-padding": UNITS,
        "text-align": ALIGN,
        "vertical-align": VALIGN,
    },
    "mj-divider": {
        **_BOX,
        "align": ALIGN,
        "border-color": COLOR,
        "border-style": _enum("solid", "dashed", "dotted", "double", "none"),
        "border-width": PX,
        "width": UNIT,
    },
    "mj-spacer": {**_BOX, "height": UNIT},
    "mj-table": {
        **_BOX,
        **_FONT,
        "align": ALIGN,
        "border": ANY,
        "cellpadding": INT,
        "cellspacing": INT,
        "role": _enum("none", "presentation"),
        "table-layout": _enum("auto", "fixed", "initial", "inherit"),
        "width": UNIT,
    },
    "mj-social": None,
    "mj-social-element": None,
    "mj-navbar": None,
    "mj-navbar-link": None,
    "mj-hero": None,
    "mj-carousel": None,
    "mj-carousel-image": None,
    "mj-accordion": None,
    "mj-accordion-element": None,
    "mj-accordion-title": None,
    "mj-accordion-text": None,
}
GLOBAL_ATTRIBUTES = {"css-class": ANY, "mj-class": ANY}

_CONTENT = (
    "mj-text", "mj-image", "mj-button", "mj-divider", "mj-spacer", "mj-table", "mj-social",
    "mj-navbar", "mj-carousel", "mj-accordion", "mj-raw",
)  # fmt: skip
CHILDREN: dict[str, tuple[str, ...]] = {
    "mjml": ("mj-head", "mj-body"),
    "mj-head": (
        "mj-attributes",
        "mj-breakpoint",
        "mj-font",
        "mj-preview",
        "mj-style",
        "mj-title",
        "mj-raw",
    ),
    "mj-attributes": ("mj-all", "mj-class", *(n for n in ATTRIBUTES if n != "mjml")),
    "mj-body": ("mj-section", "mj-wrapper", "mj-hero", "mj-raw"),
    "mj-wrapper": ("mj-section", "mj-hero", "mj-raw"),
    "mj-section": ("mj-column", "mj-group", "mj-raw"),
    "mj-group": ("mj-column", "mj-raw"),
    "mj-column": _CONTENT,
    "mj-hero": _CONTENT,
    "mj-social": ("mj-social-element", "mj-raw"),
    "mj-navbar": ("mj-navbar-link", "mj-raw"),
    "mj-carousel": ("mj-carousel-image",),
    "mj-accordion": ("mj-accordion-element", "mj-raw"),
    "mj-accordion-element": ("mj-accordion-title", "mj-accordion-text", "mj-raw"),
}
# Elements whose content is HTML (or text), not MJML: their insides are not walked.
ENDING = frozenset(
    {"mj-text", "mj-button", "mj-table", "mj-raw", "mj-style", "mj-title", "mj-preview",
     "mj-navbar-link", "mj-social-element", "mj-accordion-title", "mj-accordion-text"}
)  # fmt: skip
_UNSUPPORTED = {
    "mj-html-attributes": "mjml-python does not support mj-html-attributes",
    "mj-selector": "mjml-python does not support mj-html-attributes",
    "mj-html-attribute": "mjml-python does not support mj-html-attributes",
}

_TAG = re.compile(
    r"<!--.*?-->|<(/?)([a-zA-Z][\w:-]*)((?:\s+[^\s=/>]+(?:\s*=\s*(?:\"[^\"]*\"|'[^']*'|[^\s>]+))?)*)"
    r"\s*(/?)>",
    re.S,
)
_ATTR = re.compile(r"([^\s=/>]+)(?:\s*=\s*(?:\"([^\"]*)\"|'([^']*)'|([^\s>]+)))?")


@dataclass(frozen=True)
class Problem:
    """What is wrong at ``position`` (an offset into the checked MJML)."""

    position: int
    message: str


@dataclass(frozen=True)
class _Open:
    name: str
    position: int


def check_mjml(source: str, line_of: Callable[[int], int]) -> Problem | None:
    """The first problem in rendered MJML ``source``, or None. ``line_of`` turns an offset
    into a template line for messages that mention a second place."""
    stack: list[_Open] = []
    pos = 0
    while True:
        match = _TAG.search(source, pos)
        if match is None:
            break
        pos = match.end()
        if match.group(0).startswith("<!--"):
            continue
        closing, name, attrs, selfclose = match.groups()
        name = name.lower()
        parent = stack[-1].name if stack else ""
        if closing:
            problem = _close(stack, name, match.start(), line_of)
            if problem:
                return problem
            continue
        problem = _open(parent, name, attrs, match.start())
        if problem:
            return problem
        if selfclose:
            continue
        if name in ENDING:
            end = source.find(f"</{name}>", pos)
            if end < 0:
                return Problem(match.start(), f"<{name}> is never closed (add </{name}>)")
            pos = end + len(name) + 3
            continue
        stack.append(_Open(name, match.start()))
    if stack:
        top = stack[-1]
        return Problem(top.position, f"<{top.name}> is never closed (add </{top.name}>)")
    return None


def _open(parent: str, name: str, attrs: str, position: int) -> Problem | None:
    if name in _UNSUPPORTED:
        return Problem(position, f"<{name}>: {_UNSUPPORTED[name]}")
    if name not in ATTRIBUTES:
        where = f" inside <{parent}>" if parent else ""
        allowed = ", ".join(CHILDREN.get(parent, ("mjml",)))
        what = "an MJML element" if name.startswith("mj") else "MJML (HTML goes inside mj-text)"
        return Problem(position, f"<{name}> is not {what}; allowed{where}: {allowed}")
    allowed_here = CHILDREN.get(parent, ("mjml",)) if parent else ("mjml",)
    if name not in allowed_here:
        where = f"<{parent}>" if parent else "the top level"
        return Problem(
            position, f"<{name}> cannot go in {where}; allowed there: {', '.join(allowed_here)}"
        )
    schema = ATTRIBUTES[name] if parent != "mj-attributes" else _defaults_schema(name)
    if schema is None:
        return None
    for attr in _ATTR.finditer(attrs):
        key = attr.group(1).lower()
        value = next((g for g in attr.groups()[1:] if g is not None), "")
        kind = schema.get(key) or GLOBAL_ATTRIBUTES.get(key)
        if kind is None:
            names = ", ".join(sorted({*schema, *GLOBAL_ATTRIBUTES}))
            return Problem(position, f"<{name}> has no attribute {key}; allowed: {names}")
        if not kind.ok(value):
            return Problem(position, f'<{name} {key}="{value}">: {key} must be {kind.allowed}')
    return None


def _defaults_schema(name: str) -> dict[str, Kind] | None:
    """Attributes of a default set in mj-attributes: ``mj-all`` takes any element's."""
    if name == "mj-all":
        merged: dict[str, Kind] = {}
        for schema in ATTRIBUTES.values():
            merged.update(schema or {})
        return merged
    if name == "mj-class":
        return None
    return ATTRIBUTES.get(name)


def _close(
    stack: list[_Open], name: str, position: int, line_of: Callable[[int], int]
) -> Problem | None:
    if not stack:
        return Problem(position, f"</{name}> closes nothing")
    top = stack[-1]
    if top.name == name:
        stack.pop()
        return None
    if any(o.name == name for o in stack):
        return Problem(
            top.position,
            f"<{top.name}> is never closed (</{name}> at line {line_of(position)} comes "
            f"first; add </{top.name}>)",
        )
    return Problem(position, f"</{name}> closes nothing (the open element is <{top.name}>)")
