"""A real `digest serve` and a real Chromium for the browser and end-to-end tests.

Started as a subprocess and ready once it prints its "Serving ... on <base>/" line: the
socket listens by then, so a request is queued, never refused, and no test waits on a
timer. On the way out the server is stopped and its log printed, which pytest shows when a
test fails.
"""

from __future__ import annotations

import os
import queue
import subprocess
import sys
import threading
from collections.abc import Iterator, Mapping, Sequence
from contextlib import contextmanager
from pathlib import Path

from playwright.sync_api import Browser, sync_playwright

TIMEOUT = 30.0  # a safety net: reaching it fails the test
REPO = Path(__file__).resolve().parent.parent
CHROMIUM = "/usr/bin/chromium"  # Debian's package (.ci/run installs it)


def digest_command(config: Path, db: Path, *args: str) -> list[str]:
    """`digest --config CONFIG --db DB ARGS...` as a real process runs it."""
    return [sys.executable, "-m", "digest", "--config", str(config), "--db", str(db), *args]


def digest_env() -> dict[str, str]:
    """The environment for it: none of the caller's DIGEST_* settings, this checkout first."""
    env = {k: v for k, v in os.environ.items() if not k.startswith("DIGEST_")}
    env["PYTHONPATH"] = os.pathsep.join([str(REPO), env.get("PYTHONPATH", "")])
    return env


@contextmanager
def chromium() -> Iterator[Browser]:
    """Debian's Chromium under Playwright, quiet: no background traffic of its own."""
    with sync_playwright() as p:
        launched = p.chromium.launch(
            executable_path=CHROMIUM,
            args=[
                "--no-sandbox",
                "--disable-gpu",
                "--disable-background-networking",
                "--disable-component-update",
                "--disable-sync",
                "--no-first-run",
            ],
        )
        try:
            yield launched
        finally:
            launched.close()


@contextmanager
def digest_serve(
    command: Sequence[str], env: Mapping[str, str], base: str, timeout: float = TIMEOUT
) -> Iterator[None]:
    """Run ``command`` (a `digest ... serve`) until the block ends; ready on entry."""
    process = subprocess.Popen(
        list(command), env=dict(env), stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True
    )
    lines: queue.Queue[str | None] = queue.Queue()
    output: list[str] = []

    def read() -> None:
        assert process.stdout is not None
        for line in process.stdout:
            output.append(line)
            lines.put(line)
        lines.put(None)

    reader = threading.Thread(target=read, daemon=True)
    reader.start()
    try:
        while True:
            line = lines.get(timeout=timeout)  # a safety net, never the way in
            if line is None:
                process.wait(timeout)
                raise AssertionError(
                    f"digest serve exited with {process.returncode}:\n{''.join(output)}"
                )
            if line.startswith(f"Serving Legal Reader on {base}/"):
                break
        yield
    finally:
        process.terminate()
        try:
            process.wait(timeout)
        except subprocess.TimeoutExpired:
            process.kill()
            process.wait()
        reader.join(timeout)
        print("".join(output))
