"""The template check's verdict, remembered across processes (digest.render.verdicts): a
template set that passed is not rendered again, and one changed byte checks it again."""

from __future__ import annotations

import dataclasses
import os
import subprocess
import sys
from collections.abc import Iterator
from pathlib import Path

import pytest
import time_machine
from click.testing import CliRunner, Result

from digest.app import App
from digest.cli import cli
from digest.config import load_settings
from digest.errors import TemplateError
from digest.render.verdicts import KEEP, Verdicts, fingerprint
from digest.store import Store
from tests.test_template_guard import BREAKAGES, SHIPPED, broken_folder, use_templates

REPO = Path(__file__).resolve().parent.parent


@pytest.fixture
def sample(tmp_path: Path) -> Iterator[Path]:
    """A folder after `digest init --sample`, with its own copy of the digest template in
    mine/ (templates.dir); its digest.toml."""
    with time_machine.travel("2026-11-28T08:00:00Z", tick=False):
        assert invoke("init", "--sample").exit_code == 0
        (tmp_path / "mine").mkdir()
        (tmp_path / "mine" / "digest.mjml.j2").write_bytes(
            (SHIPPED / "digest.mjml.j2").read_bytes()
        )
        use_templates(tmp_path)
        yield tmp_path / "digest.toml"


def invoke(*args: str) -> Result:
    return CliRunner().invoke(cli, list(args), catch_exceptions=False)


def verdict_file(tmp_path: Path) -> Path:
    return tmp_path / "subscribers.db.template-check"


def test_a_pass_is_recorded_and_one_changed_byte_is_checked_and_refused(
    sample: Path, tmp_path: Path
) -> None:
    assert not verdict_file(tmp_path).exists()
    result = invoke("send", "--dry-run")
    assert result.exit_code == 0, result.output
    passed = fingerprint(load_settings(str(sample)))
    assert verdict_file(tmp_path).read_text() == passed + "\n"

    # One byte, same size, same modification time: only the bytes tell.
    template = tmp_path / "mine" / "digest.mjml.j2"
    stat = template.stat()
    source = template.read_bytes()
    assert source.count(b"{{ more_url }}") == 1
    template.write_bytes(source.replace(b"{{ more_url }}", b"{{ moar_url }}"))
    os.utime(template, ns=(stat.st_atime_ns, stat.st_mtime_ns))
    assert template.stat().st_size == stat.st_size

    result = invoke("send", "--dry-run")
    assert result.exit_code == 1
    assert "mine/digest.mjml.j2:" in result.output and "'moar_url' is undefined" in result.output
    # The refusal is not recorded: the next run checks (and refuses) again.
    assert verdict_file(tmp_path).read_text() == passed + "\n"
    assert invoke("send", "--dry-run").exit_code == 1


def test_a_recorded_verdict_is_trusted_without_rendering(sample: Path, tmp_path: Path) -> None:
    # A verdict recorded for these exact bytes skips the check, even for a set that would
    # fail it: proof that the check did not run. Without the record, the same App refuses.
    broken_folder(tmp_path, BREAKAGES["unknown element"])
    settings = load_settings(str(sample))
    app = App(settings, Store(settings.db_path))
    with pytest.raises(TemplateError, match="<mj-dividr>"):
        app.ensure_templates()
    app.close()
    Verdicts.beside(settings.db_path).record(fingerprint(settings))
    app = App(settings, Store(settings.db_path))
    app.ensure_templates()
    app.close()


def test_the_fingerprint_follows_what_the_check_reads(sample: Path, tmp_path: Path) -> None:
    settings = load_settings(str(sample))
    key = fingerprint(settings)
    assert key == fingerprint(settings)
    # The secret only signs sample links, and is kept out of the file.
    assert fingerprint(dataclasses.replace(settings, secret_key="other")) == key
    site = dataclasses.replace(settings.site, name="Other Reader")
    assert fingerprint(dataclasses.replace(settings, site=site)) != key
    text = tmp_path / "mine" / "digest.txt.j2"
    text.write_bytes((SHIPPED / "digest.txt.j2").read_bytes())
    assert fingerprint(settings) != key  # a template added to the folder
    text.unlink()
    assert fingerprint(settings) == key


def test_the_fingerprint_is_the_same_in_another_process(sample: Path, tmp_path: Path) -> None:
    # Nothing in it may depend on the process (hash randomisation, object addresses), or no
    # verdict would ever be found again.
    code = (
        "import sys\n"
        "from digest.config import load_settings\n"
        "from digest.render.verdicts import fingerprint\n"
        "print(fingerprint(load_settings(sys.argv[1])))\n"
    )
    env = {**os.environ, "PYTHONPATH": str(REPO), "PYTHONHASHSEED": "random"}
    other = subprocess.run(
        [sys.executable, "-c", code, str(sample)],
        env=env,
        cwd=tmp_path,
        capture_output=True,
        text=True,
        check=True,
    )
    assert other.stdout.strip() == fingerprint(load_settings(str(sample)))


def test_the_file_keeps_the_newest_verdicts(tmp_path: Path) -> None:
    verdicts = Verdicts.beside(str(tmp_path / "x.db"))
    keys = [f"{n:064x}" for n in range(KEEP + 3)]
    for key in keys:
        verdicts.record(key)
    verdicts.record(keys[-2])  # seen again: moves to the end, not twice
    assert (tmp_path / "x.db.template-check").read_text().split() == [
        *keys[-KEEP:-2],
        keys[-1],
        keys[-2],
    ]
    assert not verdicts.passed(keys[0]) and verdicts.passed(keys[-1])


def test_no_file_for_a_database_in_memory_or_a_folder_it_cannot_write(tmp_path: Path) -> None:
    assert Verdicts.beside(":memory:").path is None
    Verdicts.beside(":memory:").record("a" * 64)  # nothing to write, nothing raised
    missing = Verdicts.beside(str(tmp_path / "no" / "such" / "x.db"))
    missing.record("a" * 64)
    assert not missing.passed("a" * 64)
    assert list(tmp_path.iterdir()) == []
