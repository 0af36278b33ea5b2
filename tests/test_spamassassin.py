"""SpamAssassin's verdict on the sample digest (docs/email.md, Self-checks): `spamassassin -t`
on the .eml `digest preview --format eml` writes, scored offline (-L, no network tests).
Needs Debian's spamassassin package (.ci/run installs it); skipped without it."""

from __future__ import annotations

import re
import shutil
import subprocess
from collections.abc import Iterator
from pathlib import Path

import pytest
import time_machine
from click.testing import CliRunner

from digest.cli import cli

SPAMASSASSIN = shutil.which("spamassassin")


@pytest.fixture
def sample_eml(tmp_path: Path) -> Iterator[Path]:
    with time_machine.travel("2026-11-28T08:00:00Z", tick=False):
        runner = CliRunner()
        assert runner.invoke(cli, ["init", "--sample"], catch_exceptions=False).exit_code == 0
        out = tmp_path / "sample.eml"
        result = runner.invoke(
            cli,
            [
                "preview",
                "--category",
                "Opioid Drugs",
                "--category",
                "Courts",
                "--format",
                "eml",
                "-o",
                str(out),
            ],
            catch_exceptions=False,
        )
        assert result.exit_code == 0, result.output
        yield out


@pytest.mark.skipif(
    SPAMASSASSIN is None, reason="spamassassin is not installed (apt-get install spamassassin)"
)
def test_sample_digest_scores_at_most_zero(sample_eml: Path) -> None:
    assert SPAMASSASSIN is not None
    report = subprocess.run(
        [SPAMASSASSIN, "-t", "-L"],
        input=sample_eml.read_bytes(),
        capture_output=True,
        check=True,
        timeout=120,
    ).stdout.decode("utf-8", "replace")
    match = re.search(r"Content analysis details:\s+\((-?\d+(?:\.\d+)?) points", report)
    assert match, report
    score = float(match[1])
    rules = re.findall(r"^\s*-?\d+\.\d+ ([A-Z0-9_]+)", report, re.M)
    assert "HTML_FONT_LOW_CONTRAST" not in rules, report
    assert score <= 0.0, f"score {score}, rules {rules}"
