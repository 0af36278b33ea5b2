"""What a `digest` process imports: the optional heavy libraries wait for the command that
needs them (docs/performance.md, Memory). Each check is a real `python -m digest` process
whose imported modules are listed when it exits."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from datetime import timedelta
from pathlib import Path

from tests.builders import NOW, add_articles, article, make_db, subscribe

REPO = Path(__file__).resolve().parent.parent

# Imported only by: doctor, webhook signatures and DKIM, the IMAP mailbox, intros, feed
# imports, the scheduler daemon, editor passwords, bounce parsing, /metrics.
LAZY = (
    "dns",
    "cryptography",
    "imaplib",
    "markdown_it",
    "feedparser",
    "apscheduler",
    "argon2",
    "flufl",
    "prometheus_client",
)
# Babel's catalog reader: only when a translation is needed. The template check renders an
# Arabic sample, so it is loaded by a run that checks the templates, not by the next one.
CATALOGS = "babel.messages"

# Runs the CLI like `python -m digest`, then writes the names of the imported modules.
_PROBE = """
import json, sys
from digest.cli import cli
import digest.web.app, digest.web.metrics
try:
    cli(sys.argv[2:], prog_name="digest")
except SystemExit as e:
    code = e.code
else:
    code = 0
with open(sys.argv[1], "w") as f:
    json.dump(sorted(sys.modules), f)
sys.exit(code)
"""


def imported_by(tmp_path: Path, *args: str) -> set[str]:
    listing = tmp_path / "modules.json"
    env = {**os.environ, "PYTHONPATH": str(REPO)}
    done = subprocess.run(
        [sys.executable, "-c", _PROBE, str(listing), *args],
        env=env,
        capture_output=True,
        text=True,
        check=False,
        timeout=120,
    )
    assert done.returncode == 0, done.stderr
    names = json.loads(listing.read_text())
    # "dns" for dns.resolver and the rest; "babel.messages" for its submodules.
    return {part for name in names for part in (name.partition(".")[0], name.rpartition(".")[0])}


def test_help_imports_none_of_the_optional_libraries(tmp_path: Path) -> None:
    modules = imported_by(tmp_path, "--help")
    assert "digest" in modules and "click" in modules
    assert sorted(modules.intersection(LAZY)) == []
    assert CATALOGS not in modules


def test_a_dry_run_imports_none_of_the_optional_libraries(tmp_path: Path) -> None:
    db_path = tmp_path / "digest.db"
    db = make_db(db_path)
    add_articles(db, [article("c1", ("Courts",), NOW - timedelta(days=1))], imported=NOW)
    subscribe(db, "ana@example.com", ("Courts",))
    db.close()
    config = tmp_path / "digest.toml"
    config.write_text('secret_key = "k"\n[sending]\nconcurrency = 1\n')
    as_of = (NOW + timedelta(hours=1)).strftime("%Y-%m-%dT%H:%M:%SZ")
    argv = ["--config", str(config), "--db", str(db_path), "send", "--json", "--dry-run"]
    first = imported_by(tmp_path, *argv, "--as-of", as_of)
    assert "jinja2" in first and "mjml" in first  # it did render
    assert sorted(first.intersection(LAZY)) == []
    assert CATALOGS in first  # the template check's Arabic sample
    # The next process finds the check's verdict (digest.render.verdicts): an English
    # edition then reads no catalog at all.
    second = imported_by(tmp_path, *argv, "--as-of", as_of)
    assert "mjml" in second and sorted(second.intersection(LAZY)) == []
    assert CATALOGS not in second


def test_the_libraries_load_when_their_command_runs(tmp_path: Path) -> None:
    modules = imported_by(tmp_path, "schedule", "list")
    assert "apscheduler" in modules
