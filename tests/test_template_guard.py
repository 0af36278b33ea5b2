"""The one template check every render path runs (digest.render.guard): each broken template
below is refused by `digest templates check`, `digest send`, `digest send --dry-run`,
`digest preview` and the scheduler, with its file and line, and the database file is left
exactly as it was."""

from __future__ import annotations

import hashlib
import sqlite3
import threading
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from pathlib import Path

import pytest
import time_machine
from click.testing import CliRunner, Result

from digest.app import App
from digest.cli import cli
from digest.config import load_settings
from digest.errors import TemplateError
from digest.store import Store

SHIPPED = Path(__file__).parent.parent / "templates"
FIXTURES = Path(__file__).parent / "fixtures" / "templates"
Invoke = Callable[..., Result]


@dataclass(frozen=True)
class Breakage:
    """One way to break a shipped template: replace ``old`` with ``new`` in ``name``; the
    refusal names the line holding ``marker`` and says ``says``."""

    name: str
    old: str
    new: str
    marker: str
    says: str


UNSUB_LINK = (
    '<a href="{{ unsubscribe_url }}" style="{{ tap }}display:block;color:{{ accent }};">'
    '{{ _("Unsubscribe") }}</a>'
)
BREAKAGES = {
    "undefined variable under if trimmed": Breakage(
        "digest.mjml.j2",
        'href="{{ more_url }}"',
        'href="{{ moar_url }}"',
        "moar_url",
        "'moar_url' is undefined",
    ),
    "unknown element": Breakage(
        "digest.mjml.j2",
        '        <mj-text css-class="dm-text">\n          <h1',
        '        <mj-dividr />\n        <mj-text css-class="dm-text">\n          <h1',
        "<mj-dividr",
        "<mj-dividr> is not an MJML element; allowed inside <mj-column>: mj-text",
    ),
    "bad attribute value": Breakage(
        "digest.mjml.j2",
        '<mj-text font-size="16px"',
        '<mj-text font-size="huge"',
        'font-size="huge"',
        '<mj-text font-size="huge">: font-size must be a length in px like 16px',
    ),
    "missing column end": Breakage(
        "digest.mjml.j2",
        "        </mj-text>\n      </mj-column>\n    </mj-section>\n{% endif %}\n    <mj-section",
        "        </mj-text>\n    </mj-section>\n{% endif %}\n    <mj-section",
        "<mj-column>",
        "<mj-column> is never closed",
    ),
    "unsubscribe in a comment": Breakage(
        "digest.mjml.j2",
        UNSUB_LINK,
        f"<!-- {UNSUB_LINK} -->",
        "unsubscribe_url",
        "the {{ unsubscribe_url }} link is not visible",
    ),
    "unsubscribe hidden": Breakage(
        "digest.mjml.j2",
        UNSUB_LINK,
        f'<span style="display: none">{UNSUB_LINK}</span>',
        "unsubscribe_url",
        "the {{ unsubscribe_url }} link is not visible",
    ),
    "no postal address in the text part": Breakage(
        "digest.txt.j2",
        "\n{{ site.postal_address|wordwrap(78, False, None, False) }}\n",
        "\n",
        "",
        "the postal address (site.postal_address) is missing from the text part",
    ),
    "skipped heading level": Breakage(
        "digest.mjml.j2",
        '<h2 id="{{ section.slug }}" style="margin:0;padding-bottom:4px;',
        '<h4 id="{{ section.slug }}" style="margin:0;padding-bottom:4px;',
        "<h4",
        "heading level skipped (<h4> after <h1>); allowed next: h1 to h2",
    ),
    "image without alt": Breakage(
        "digest.mjml.j2",
        # Without its link too: a linked image without alt is also a link without text.
        'alt="{{ lead.image_alt or lead.title }}" width="{{ lead.image_width }}px" '
        'href="{{ lead.url }}"',
        'width="{{ lead.image_width }}px"',
        "<mj-image",
        "has no alt",
    ),
    "style block over Gmail's limit": Breakage(
        "digest.mjml.j2",
        "      :root {",
        "      .x { color: #000000; }" * 700 + "\n      :root {",
        "<mj-style",
        "Gmail drops a block of 16384 or more",
    ),
}


def broken_folder(root: Path, breakage: Breakage) -> tuple[Path, str]:
    """A template folder with ``breakage`` applied, and the expected ``path:line``."""
    source = (SHIPPED / breakage.name).read_text()
    assert breakage.old in source, breakage.old
    broken = source.replace(breakage.old, breakage.new, 1)
    folder = root / "mine"
    folder.mkdir(exist_ok=True)
    (folder / breakage.name).write_text(broken)
    if breakage.marker:
        line = next(n for n, text in enumerate(broken.splitlines(), 1) if breakage.marker in text)
    else:
        line = next(n for n, text in enumerate(source.splitlines(), 1) if "unsubscribe_url" in text)
    return folder, f"mine/{breakage.name}:{line}: "


@pytest.fixture
def run(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Iterator[Invoke]:
    monkeypatch.chdir(tmp_path)

    def invoke(*args: str) -> Result:
        return CliRunner().invoke(cli, list(args), catch_exceptions=False)

    with time_machine.travel("2026-11-28T08:00:00Z", tick=False):
        assert invoke("init", "--sample").exit_code == 0
        yield invoke


def use_templates(tmp_path: Path) -> None:
    config = tmp_path / "digest.toml"
    text = config.read_text()
    assert (
        "[templates]\n# Folder of your templates (e.g. my-templates); any not there come " in text
    )
    config.write_text(text.replace('# dir = ""', 'dir = "mine"', 1))


def fingerprint(db: Path) -> str:
    """The database file's bytes, after every write has reached the main file."""
    con = sqlite3.connect(db)
    con.execute("PRAGMA wal_checkpoint(TRUNCATE)")
    con.close()
    return hashlib.sha256(db.read_bytes()).hexdigest()


@pytest.mark.parametrize("case", sorted(BREAKAGES))
def test_every_render_path_refuses_a_broken_template(
    case: str, run: Invoke, tmp_path: Path
) -> None:
    breakage = BREAKAGES[case]
    folder, where = broken_folder(tmp_path, breakage)
    if breakage.name == "digest.txt.j2":
        # The text part is found by its own marker: the line that held the address is gone.
        where = "mine/digest.txt.j2:"
    use_templates(tmp_path)
    db = tmp_path / "subscribers.db"
    before = fingerprint(db)
    email = sqlite3.connect(db).execute("select email from subscribers limit 1").fetchone()[0]
    commands = {
        "templates check": ("templates", "check"),
        "send": ("send",),
        "send --dry-run": ("send", "--dry-run"),
        "preview": ("preview", "--category", "Courts"),
        "preview subscriber": ("preview", "--subscriber", email, "--format", "eml"),
    }
    for label, args in commands.items():
        result = run(*args)
        assert result.exit_code == 1, (label, result.output)
        errors = [line for line in result.output.splitlines() if line.lower().startswith("error:")]
        assert len(errors) == 1, (label, result.output)
        assert where in errors[0] and breakage.says in errors[0], (label, errors[0])
        assert "Traceback" not in result.output
    assert fingerprint(db) == before
    assert folder.is_dir()


def test_the_scheduler_refuses_before_opening_an_edition(run: Invoke, tmp_path: Path) -> None:
    broken_folder(tmp_path, BREAKAGES["unknown element"])
    use_templates(tmp_path)
    db = tmp_path / "subscribers.db"
    before = fingerprint(db)
    settings = load_settings(str(tmp_path / "digest.toml"))
    with time_machine.travel("2026-11-30T09:00:00Z", tick=False):
        app = App(settings, Store(settings.db_path))
        with pytest.raises(TemplateError, match=r"mine/digest\.mjml\.j2:\d+: <mj-dividr>"):
            app.send_due("weekly", stop=threading.Event())
        app.close()
    assert fingerprint(db) == before


def test_the_check_runs_once_per_app(run: Invoke, tmp_path: Path) -> None:
    settings = load_settings(str(tmp_path / "digest.toml"))
    app = App(settings, Store(settings.db_path))
    app.ensure_templates()
    assert app._templates_checked
    # A template broken after the check does not fail a second use of the same App: the
    # check is one per App (a run), like the compiled templates themselves.
    broken_folder(tmp_path, BREAKAGES["unknown element"])
    app.ensure_templates()
    app.close()


def test_missing_column_end_names_the_opening_line(tmp_path: Path, run: Invoke) -> None:
    folder, _ = broken_folder(tmp_path, BREAKAGES["missing column end"])
    result = run("templates", "check", "--dir", str(folder))
    assert result.exit_code == 1
    assert "comes first; add </mj-column>" in result.output


def test_existing_fixtures_are_refused_with_their_line(run: Invoke) -> None:
    for folder, expected in (
        ("broken", "broken/digest.mjml.j2:56: "),
        ("missing_var", "missing_var/digest.mjml.j2:53: 'articel' is undefined"),
    ):
        result = run("templates", "check", "--dir", str(FIXTURES / folder))
        assert result.exit_code == 1 and expected in result.output
