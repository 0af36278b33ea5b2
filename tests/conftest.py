"""Every test runs in its own empty folder with no DIGEST_* variables from the machine, so a
stray ./digest.toml or $DIGEST_DB can never leak into a result."""

from __future__ import annotations

from pathlib import Path

import pytest


@pytest.fixture(autouse=True)
def isolated(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    for name in ("DIGEST_CONFIG", "DIGEST_DB", "DIGEST_SMTP_URL", "DIGEST_SECRET_KEY"):
        monkeypatch.delenv(name, raising=False)
    monkeypatch.chdir(tmp_path)
