"""What every benchmark shares: figures, timed subprocesses, peak RSS, the SMTP sinks and
the machine's description."""

from __future__ import annotations

import asyncio
import os
import platform
import re
import shlex
import shutil
import socket
import sqlite3
import statistics
import subprocess
import sys
import tempfile
import threading
import time
from collections.abc import Iterator, Sequence
from contextlib import contextmanager
from dataclasses import dataclass, field
from datetime import UTC, datetime
from importlib import metadata
from pathlib import Path

REPO = Path(__file__).resolve().parent.parent
OUT = REPO / "bench" / "out"
SECRET = "bench-secret-not-for-production"
SMTP_SINK = "/usr/sbin/smtp-sink"
SMTP_SOURCE = "/usr/sbin/smtp-source"
TIME = "/usr/bin/time"


class BenchError(Exception):
    """A benchmark could not produce its figure (not: a target was missed)."""


@dataclass
class Figure:
    """One measured number, the runs it is the median of, and how it was produced."""

    section: str
    name: str
    value: float
    unit: str
    command: str
    runs: list[float] = field(default_factory=list)
    target: str = ""
    met: bool | None = None  # None: no target for this figure
    note: str = ""

    def formatted(self) -> str:
        return f"{fmt(self.value)} {self.unit}".strip()


def fmt(value: float) -> str:
    if value >= 100:
        return f"{value:,.0f}"
    if value >= 10:
        return f"{value:.1f}"
    return f"{value:.2f}"


def median(values: Sequence[float]) -> float:
    if not values:
        raise BenchError("no runs to take a median of")
    return float(statistics.median(values))


def digest_argv() -> list[str]:
    """The installed `digest` console script, else the module (same code either way)."""
    script = shutil.which("digest")
    return [script] if script else [sys.executable, "-m", "digest"]


def show(argv: Sequence[str]) -> str:
    """A command as a reader would type it: repo paths relative, the script by name."""
    words = []
    for i, word in enumerate(argv):
        if i == 0 and word.endswith("/digest"):
            word = "digest"
        elif word == sys.executable:
            word = "python"
        word = word.replace(str(REPO) + "/", "")
        words.append(word)
    return shlex.join(words)


@dataclass
class Timed:
    wall: float  # seconds, start of the process to its exit
    stdout: str
    stderr: str
    max_rss_kb: int  # peak resident set size of the measured process


def run_timed(
    argv: Sequence[str],
    *,
    env: dict[str, str] | None = None,
    cwd: Path | None = None,
    rss: bool = False,
    check: bool = True,
) -> Timed:
    """Run a command to completion, timing it from outside (Python start-up included, as a
    user would see it). With ``rss``: peak RSS from /usr/bin/time -v when installed, else
    from wait4() on the child, which reports the same kernel counter."""
    use_time = rss and os.access(TIME, os.X_OK)
    full = [TIME, "-v", *argv] if use_time else list(argv)
    with tempfile.TemporaryFile() as out, tempfile.TemporaryFile() as err:
        started = time.perf_counter()
        proc = subprocess.Popen(
            full, stdout=out, stderr=err, env={**os.environ, **(env or {})}, cwd=cwd or OUT
        )
        _, status, usage = os.wait4(proc.pid, 0)
        wall = time.perf_counter() - started
        proc.returncode = os.waitstatus_to_exitcode(status)
        out.seek(0)
        err.seek(0)
        stdout = out.read().decode("utf-8", "replace")
        stderr = err.read().decode("utf-8", "replace")
    max_rss = int(usage.ru_maxrss)  # KiB on Linux
    if use_time:
        found = re.search(r"Maximum resident set size \(kbytes\): (\d+)", stderr)
        if not found:
            raise BenchError(f"{show(argv)}: no peak RSS in /usr/bin/time output")
        max_rss = int(found[1])
    if check and proc.returncode != 0:
        raise BenchError(
            f"{show(argv)} exited with {proc.returncode}:\n{stderr[-2000:]}{stdout[-500:]}"
        )
    return Timed(wall, stdout, stderr, max_rss)


def rss_tool() -> str:
    return "/usr/bin/time -v" if os.access(TIME, os.X_OK) else "wait4() ru_maxrss"


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


def wait_for_port(port: int, timeout: float = 10.0) -> None:
    deadline = time.monotonic() + timeout
    while True:
        try:
            with socket.create_connection(("127.0.0.1", port), timeout=1.0):
                return
        except OSError:
            if time.monotonic() > deadline:
                raise BenchError(f"nothing listening on 127.0.0.1:{port}") from None
            time.sleep(0.05)


@contextmanager
def smtp_sink() -> Iterator[int]:
    """Postfix's smtp-sink on a free loopback port: accepts and discards everything, far
    faster than any Python sender, so the sender is what gets measured."""
    if not os.access(SMTP_SINK, os.X_OK):
        raise BenchError(f"{SMTP_SINK} not found: install the Debian package postfix")
    port = free_port()
    # As root smtp-sink insists on dropping privileges (-u). Backlog 256: all sessions at once.
    argv = [SMTP_SINK, *(["-u", "nobody"] if os.geteuid() == 0 else []), f"127.0.0.1:{port}", "256"]
    proc = subprocess.Popen(argv, stdout=subprocess.DEVNULL, stderr=subprocess.PIPE)
    try:
        wait_for_port(port)
        yield port
    finally:
        proc.terminate()
        try:
            proc.wait(timeout=5)
        except subprocess.TimeoutExpired:
            proc.kill()
            proc.wait()
        if proc.stderr is not None:
            proc.stderr.close()


class RecordingSink:
    """A minimal SMTP server that records when each message was accepted (the moment it
    answers 250 to the end of DATA). smtp-sink cannot report per-message times; this can.
    Runs its own event loop in a thread; only for low rates such as the rate-limit test."""

    def __init__(self) -> None:
        self.port = free_port()
        self.accepted: list[float] = []  # time.monotonic() of each 250 after DATA
        self._loop = asyncio.new_event_loop()
        self._ready = threading.Event()
        self._thread = threading.Thread(target=self._run, name="recording-sink", daemon=True)
        self._server: asyncio.Server | None = None

    def __enter__(self) -> RecordingSink:
        self._thread.start()
        if not self._ready.wait(10):
            raise BenchError("recording SMTP sink did not start")
        return self

    def __exit__(self, *exc: object) -> None:
        self._loop.call_soon_threadsafe(self._loop.stop)
        self._thread.join(10)

    def _run(self) -> None:
        asyncio.set_event_loop(self._loop)
        self._server = self._loop.run_until_complete(
            asyncio.start_server(self._session, "127.0.0.1", self.port, limit=1 << 24)
        )
        self._ready.set()
        self._loop.run_forever()
        self._server.close()

    async def _session(self, reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        writer.write(b"220 bench ESMTP\r\n")
        try:
            while True:
                line = await reader.readline()
                if not line:
                    break
                verb = line[:4].upper()
                if verb in (b"EHLO", b"HELO"):
                    writer.write(b"250-bench\r\n250 8BITMIME\r\n")
                elif verb == b"DATA":
                    writer.write(b"354 go ahead\r\n")
                    await writer.drain()
                    data = await reader.readuntil(b"\r\n.\r\n")
                    if data:
                        self.accepted.append(time.monotonic())
                    writer.write(b"250 2.0.0 accepted\r\n")
                elif verb == b"QUIT":
                    writer.write(b"221 bye\r\n")
                    await writer.drain()
                    break
                else:  # MAIL, RCPT, RSET, NOOP
                    writer.write(b"250 2.0.0 ok\r\n")
                await writer.drain()
        except (ConnectionError, asyncio.IncompleteReadError):
            pass
        finally:
            writer.close()


def config_file(
    path: Path, *, rate: float = 0.0, concurrency: int = 4, dkim_key: Path | None = None
) -> Path:
    """A digest.toml for the benchmarks: explicit, so no ./digest.toml is picked up. With
    ``dkim_key``, messages are DKIM-signed (rsa-sha256) with that PEM file."""
    dkim = (
        f'[dkim]\ndomain = "news.example.com"\nselector = "bench"\nkey_file = "{dkim_key}"\n'
        if dkim_key is not None
        else ""
    )
    path.write_text(
        f'secret_key = "{SECRET}"\n'
        "[site]\n"
        'name = "Legal Reader"\n'
        'url = "https://news.example.com"\n'
        "[sending]\n"
        f"concurrency = {concurrency}\n"
        f"rate = {rate}\n" + dkim,
        encoding="utf-8",
    )
    return path


def dkim_key_file(path: Path) -> Path:
    """A 2048-bit RSA key in PEM, the size docs/email.md rule 25 asks for."""
    from cryptography.hazmat.primitives import serialization
    from cryptography.hazmat.primitives.asymmetric import rsa

    key = rsa.generate_private_key(public_exponent=65537, key_size=2048)
    path.write_bytes(
        key.private_bytes(
            serialization.Encoding.PEM,
            serialization.PrivateFormat.PKCS8,
            serialization.NoEncryption(),
        )
    )
    return path


def _version(package: str) -> str:
    try:
        return metadata.version(package)
    except metadata.PackageNotFoundError:
        return "not installed"


def _cpu_model() -> str:
    try:
        for line in Path("/proc/cpuinfo").read_text().splitlines():
            if line.startswith("model name"):
                return line.split(":", 1)[1].strip()
    except OSError:
        pass
    return platform.processor() or platform.machine()


def _memory() -> str:
    try:
        for line in Path("/proc/meminfo").read_text().splitlines():
            if line.startswith("MemTotal:"):
                return f"{int(line.split()[1]) / 1024 / 1024:.1f} GiB"
    except OSError:
        pass
    return "unknown"


def _postfix() -> str:
    try:
        out = subprocess.run(
            ["/usr/sbin/postconf", "-d", "mail_version"],
            capture_output=True,
            text=True,
            timeout=10,
        ).stdout
        return out.split("=", 1)[1].strip() if "=" in out else "unknown"
    except (OSError, subprocess.SubprocessError):
        return "unknown"


def _revision() -> str:
    """The commit measured, and whether the tree had uncommitted changes. A run on an
    exported snapshot (no .git) names its commit in DIGEST_BENCH_REVISION."""
    if os.environ.get("DIGEST_BENCH_REVISION"):
        return os.environ["DIGEST_BENCH_REVISION"]
    try:
        rev = subprocess.run(
            ["git", "-C", str(REPO), "describe", "--always", "--dirty"],
            capture_output=True,
            text=True,
            timeout=10,
        ).stdout.strip()
    except (OSError, subprocess.SubprocessError):
        rev = ""
    return rev or "unknown"


def machine() -> dict[str, str]:
    return {
        "date": datetime.now(UTC).strftime("%Y-%m-%d %H:%M UTC"),
        "digest revision": _revision(),
        "cpu": _cpu_model(),
        "cores": str(os.cpu_count()),
        "memory": _memory(),
        "os": platform.platform(),
        "python": platform.python_version(),
        "sqlite": sqlite3.sqlite_version,
        "mjml-python": _version("mjml-python"),
        "sqlite-utils": _version("sqlite-utils"),
        "jinja2": _version("jinja2"),
        "postfix (smtp-sink/smtp-source)": _postfix(),
        "peak RSS from": rss_tool(),
    }
