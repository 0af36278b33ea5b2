"""Progress bars on long commands: real `digest` processes whose stdout and stderr are a
pseudo-terminal (as when a person runs them), or pipes (as in a script or cron)."""

from __future__ import annotations

import fcntl
import json
import os
import re
import shutil
import struct
import subprocess
import sys
import termios
from collections.abc import Iterator
from datetime import timedelta
from io import StringIO
from pathlib import Path

import pytest
from rich.console import Console

from digest.cli.terminal import TerminalProgress
from digest.progress import NO_PROGRESS, counted
from digest.store import open_db
from tests.builders import NOW, add_articles, app_for, article, make_db
from tests.relay import Relay, running_relay

REPO = Path(__file__).resolve().parent.parent
BOUNCES = Path(__file__).parent / "fixtures" / "bounces"
ESCAPE = b"\x1b["
RATE = re.compile(rb"\d[\d,]*/s")
AS_OF = "2026-11-28T09:00:00Z"  # NOW in tests/builders.py: the subprocesses' clock is real


def environment() -> dict[str, str]:
    """The machine's environment minus anything that would steer digest or rich."""
    drop = ("NO_COLOR", "FORCE_COLOR", "TTY_COMPATIBLE", "TTY_INTERACTIVE", "COLUMNS", "LINES")
    env = {k: v for k, v in os.environ.items() if not k.startswith("DIGEST_") and k not in drop}
    env["PYTHONPATH"] = os.pathsep.join([str(REPO), env.get("PYTHONPATH", "")])
    env["TERM"] = "xterm-256color"
    return env


def digest(*args: str) -> list[str]:
    return [sys.executable, "-m", "digest", *args]


def on_terminal(command: list[str]) -> tuple[int, bytes]:
    """Run ``command`` with stdout and stderr on one pseudo-terminal 120 columns wide;
    (exit code, everything it wrote)."""
    master, slave = os.openpty()
    fcntl.ioctl(slave, termios.TIOCSWINSZ, struct.pack("HHHH", 40, 120, 0, 0))
    try:
        process = subprocess.Popen(
            command, stdin=subprocess.DEVNULL, stdout=slave, stderr=slave, env=environment()
        )
    finally:
        os.close(slave)
    chunks = []
    try:
        while True:
            try:
                chunk = os.read(master, 65536)
            except OSError:  # EIO: every copy of the terminal's other end is closed
                break
            if not chunk:
                break
            chunks.append(chunk)
    finally:
        os.close(master)
    return process.wait(timeout=120), b"".join(chunks)


def piped(command: list[str]) -> subprocess.CompletedProcess[bytes]:
    return subprocess.run(
        command, stdin=subprocess.DEVNULL, capture_output=True, env=environment(), timeout=120
    )


def lines(output: bytes) -> list[bytes]:
    """What a terminal would keep of ``output``, roughly: each redraw is one item."""
    return [part for part in re.split(rb"[\r\n]+", output) if part.strip()]


# -- subscribers import: the "done when" ----------------------------------------------

SUMMARY = b"Added 50000, updated 0, unchanged 0, rejected 0, suppressed 0."


@pytest.fixture
def big_csv(tmp_path: Path) -> Path:
    path = tmp_path / "readers.csv"
    with path.open("w", encoding="utf-8") as out:
        out.write("email,name,categories\n")
        for i in range(50_000):
            out.write(f"reader{i}@example.com,Reader {i},Courts\n")
    return path


def fresh_db(tmp_path: Path, name: str) -> Path:
    path = tmp_path / name
    make_db(path).close()
    return path


def test_import_of_50k_rows_on_a_terminal_shows_progress(tmp_path: Path, big_csv: Path) -> None:
    db_path = fresh_db(tmp_path, "tty.db")
    code, output = on_terminal(digest("--db", str(db_path), "subscribers", "import", str(big_csv)))
    assert code == 0, output
    bars = [line for line in lines(output) if b"Reading" in line]
    assert bars, output
    # The file's rows (header excluded) are the total; the last redraw has all of them, and
    # the rate column a figure.
    assert all(b"/50000" in bar for bar in bars)
    assert b"50000/50000" in bars[-1]
    assert RATE.search(bars[-1])
    assert any(b"Saving" in line and b"50000/50000" in line for line in lines(output))
    assert ESCAPE in output  # drawn by rich, in place
    # The summary comes after the bar, on a line of its own.
    assert output.rstrip().endswith(SUMMARY)
    db = open_db(db_path)
    assert db.execute("SELECT COUNT(*) FROM subscribers").fetchone()[0] == 50_000
    db.close()


def test_import_piped_prints_no_progress(tmp_path: Path, big_csv: Path) -> None:
    db_path = fresh_db(tmp_path, "piped.db")
    result = piped(digest("--db", str(db_path), "subscribers", "import", str(big_csv)))
    assert result.returncode == 0, result.stderr
    assert result.stdout == SUMMARY + b"\n"  # as before progress existed
    assert result.stderr == b""


def test_import_quiet_on_a_terminal_prints_only_the_summary(tmp_path: Path, big_csv: Path) -> None:
    db_path = fresh_db(tmp_path, "quiet.db")
    command = digest("--db", str(db_path), "subscribers", "import", "--quiet", str(big_csv))
    code, output = on_terminal(command)
    assert (code, output) == (0, SUMMARY + b"\r\n")


def test_import_rejections_still_listed_after_the_bar(tmp_path: Path) -> None:
    db_path = fresh_db(tmp_path, "bad.db")
    csv_path = tmp_path / "bad.csv"
    csv_path.write_text("email,categories\nnot-an-address,Courts\nok@example.com,Courts\n")
    code, output = on_terminal(digest("--db", str(db_path), "subscribers", "import", str(csv_path)))
    assert code == 1
    assert b"2/2" in output
    assert b"Added 1, updated 0, unchanged 0, rejected 1, suppressed 0." in output
    assert b"  line 2: email:" in output


def test_import_error_on_a_terminal_is_one_line(tmp_path: Path) -> None:
    db_path = fresh_db(tmp_path, "error.db")
    code, output = on_terminal(digest("--db", str(db_path), "subscribers", "import", "nope.csv"))
    assert code == 1
    # What is left once the terminal has run rich's control codes: the error, alone.
    text = re.sub(rb"\x1b\[[0-9;?]*[A-Za-z]", b"", output).replace(b"\r", b"")
    assert text == b"Error: nope.csv: file not found\n"


# -- subscribers export ---------------------------------------------------------------------


@pytest.fixture
def readers_db(tmp_path: Path) -> Path:
    """300 weekly readers of Courts and one new Courts article for them."""
    path = tmp_path / "readers.db"
    db = make_db(path)
    add_articles(db, [article("c1", ("Courts",), NOW - timedelta(days=1))], NOW - timedelta(days=1))
    rows = tmp_path / "readers-in.csv"
    rows.write_text(
        "email,categories\n" + "".join(f"r{i}@example.com,Courts\n" for i in range(300))
    )
    app_for(db, clock=lambda: NOW - timedelta(days=2)).import_subscribers(rows)
    db.close()
    return path


def test_export_to_a_file_on_a_terminal_shows_progress(tmp_path: Path, readers_db: Path) -> None:
    target = tmp_path / "backup.csv"
    command = digest("--db", str(readers_db), "subscribers", "export", "-o", str(target))
    code, output = on_terminal(command)
    assert code == 0, output
    assert any(b"Exporting" in line and b"300/300" in line for line in lines(output))
    assert output.rstrip().endswith(f"Exported 300 subscribers to {target}.".encode())
    assert len(target.read_text().splitlines()) == 301


def test_export_to_the_terminal_itself_has_no_bar(readers_db: Path) -> None:
    code, output = on_terminal(digest("--db", str(readers_db), "subscribers", "export"))
    assert code == 0
    assert ESCAPE not in output and b"Exporting" not in output
    assert len(output.splitlines()) == 301


# -- send --dry-run and send ------------------------------------------------------------------


def config_for(tmp_path: Path, url: str = "smtp://127.0.0.1:9") -> str:
    """A settings file: a secret key, and a relay (nothing listens on port 9: a dry run
    never connects)."""
    path = tmp_path / "digest.toml"
    path.write_text(f'secret_key = "k"\n[smtp]\nurl = "{url}"\ntimeout = 5.0\n')
    return str(path)


def test_dry_run_on_a_terminal_counts_the_readers(tmp_path: Path, readers_db: Path) -> None:
    config = config_for(tmp_path)
    command = digest("--config", config, "--db", str(readers_db), "send", "--dry-run")
    command += ["--as-of", AS_OF]
    code, output = on_terminal(command)
    assert code == 0, output
    assert any(b"Dry run" in line and b"300/300" in line for line in lines(output))
    assert b"Recipients: 300; messages: 300; skipped (nothing new): 0" in output

    result = piped(command)
    assert result.stderr == b""
    assert ESCAPE not in result.stdout and b"300/300" not in result.stdout
    assert b"Recipients: 300; messages: 300; skipped (nothing new): 0" in result.stdout


def test_dry_run_json_on_a_terminal_is_the_piped_json(tmp_path: Path, readers_db: Path) -> None:
    config = config_for(tmp_path)
    command = digest("--config", config, "--db", str(readers_db), "send", "--dry-run", "--json")
    command += ["--as-of", AS_OF]
    code, output = on_terminal(command)
    assert code == 0, output
    result = piped(command)
    assert ESCAPE not in output
    on_tty, in_pipe = json.loads(output), json.loads(result.stdout)
    # Only the time taken may differ between two runs.
    assert on_tty.pop("elapsed_seconds") >= 0 and in_pipe.pop("elapsed_seconds") >= 0
    assert on_tty == in_pipe
    assert on_tty["messages"] == 300


@pytest.fixture
def relay() -> Iterator[Relay]:
    with running_relay() as r:
        yield r


def test_send_on_a_terminal_shows_the_same_bar(
    tmp_path: Path, readers_db: Path, relay: Relay
) -> None:
    config = config_for(tmp_path, relay.url)
    command = digest("--config", config, "--db", str(readers_db), "send", "--as-of", AS_OF)
    code, output = on_terminal(command)
    assert code == 0, output
    assert any(b"Sending" in line and b"300/300" in line for line in lines(output))
    assert b"Recipients: 300; sent: 300; skipped: 0; failed: 0" in output
    assert len(relay.by_recipient()) == 300


def test_send_piped_prints_no_progress(tmp_path: Path, readers_db: Path, relay: Relay) -> None:
    config = config_for(tmp_path, relay.url)
    result = piped(digest("--config", config, "--db", str(readers_db), "send", "--as-of", AS_OF))
    assert result.returncode == 0, result.stderr
    assert result.stderr == b""
    assert result.stdout.splitlines()[0] == b"Edition weekly 2026-W48 (#1): complete"


# -- bounces import ---------------------------------------------------------------------------


def test_bounces_import_json_on_a_terminal_is_byte_for_byte_the_piped_json(
    tmp_path: Path,
) -> None:
    inbox = tmp_path / "inbox"
    inbox.mkdir()
    for name in ("postfix.eml", "reply.eml", "gmail.eml"):
        shutil.copy(BOUNCES / name, inbox / name)
    first, second = fresh_db(tmp_path, "one.db"), fresh_db(tmp_path, "two.db")
    code, output = on_terminal(digest("--db", str(first), "bounces", "import", "--json", "inbox"))
    result = piped(digest("--db", str(second), "bounces", "import", "--json", "inbox"))
    assert code == 0 and result.returncode == 0
    assert output.replace(b"\r\n", b"\n") == result.stdout  # the terminal adds only CR
    assert json.loads(result.stdout)["messages"] == 3


def test_bounces_import_on_a_terminal_counts_messages(tmp_path: Path) -> None:
    inbox = tmp_path / "inbox"
    inbox.mkdir()
    for name in ("postfix.eml", "reply.eml", "gmail.eml"):
        shutil.copy(BOUNCES / name, inbox / name)
    db_path = fresh_db(tmp_path, "bounces.db")
    code, output = on_terminal(digest("--db", str(db_path), "bounces", "import", "inbox"))
    assert code == 0, output
    assert any(b"Reading bounces" in line and b"3/3" in line for line in lines(output))
    assert b"Read 3 messages:" in output


# -- the bar itself ---------------------------------------------------------------------------


def test_commands_that_draw_nothing_never_import_rich() -> None:
    # rich takes a few hundred milliseconds to import: only a command drawing a bar pays.
    code = "import sys, digest.cli; print(sorted(m for m in sys.modules if m.startswith('rich')))"
    result = piped([sys.executable, "-c", code])
    assert result.stdout == b"[]\n", result.stderr


def test_advance_is_batched_until_the_interval_passes() -> None:
    console = Console(file=StringIO(), force_terminal=True, width=100)
    with TerminalProgress(console, update_seconds=3600) as bar:
        bar.start(10_000, "Reading")
        for _ in range(10_000):
            bar.advance()
        assert bar.completed == 0  # not one of the 10,000 calls reached rich's lock
        bar.done()
        assert bar.completed == 10_000
    assert "10000/10000" in console.file.getvalue()  # type: ignore[attr-defined]


def test_each_advance_reaches_the_bar_when_the_interval_is_zero() -> None:
    console = Console(file=StringIO(), force_terminal=True, width=100)
    with TerminalProgress(console, update_seconds=0) as bar:
        bar.start(None, "Reading bounces")
        bar.advance(3)
        assert bar.completed == 3
        bar.start(5, "Saving")  # a new phase ends the last one
        assert bar.completed == 0
        bar.advance(5)
    assert "3/3" in console.file.getvalue()  # type: ignore[attr-defined]


def test_counted_passes_items_through_and_counts_them() -> None:
    console = Console(file=StringIO(), force_terminal=True, width=100)
    with TerminalProgress(console, update_seconds=0) as bar:
        bar.start(3, "Exporting")
        assert list(counted("abc", bar)) == ["a", "b", "c"]
        assert bar.completed == 3
    assert list(counted("abc", NO_PROGRESS)) == ["a", "b", "c"]
