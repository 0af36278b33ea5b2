"""What the progress bar costs: the same commands with the bar drawn on a pseudo-terminal
and piped (no bar), interleaved run by run so the machine's drift hits both alike; medians
and the ratio bar / no bar, in wall clock and in the command's own CPU time (steadier on a
shared machine). And one advance() call in-process, the bar against the no-op.

python -m bench.progress --rows 100000 --dry-run 20000 --runs 5
"""

from __future__ import annotations

import argparse
import fcntl
import io
import os
import struct
import subprocess
import tempfile
import termios
import time
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path

from rich.console import Console

from bench import data
from bench.common import OUT, BenchError, Figure, config_file, digest_argv, median, show
from digest.cli.terminal import TerminalProgress
from digest.progress import NO_PROGRESS, Progress

SECTION = "7. Progress"


@dataclass(frozen=True)
class Run:
    wall: float  # seconds, start to exit
    cpu: float  # user + system seconds of the command: what the bar would add to


def run_on_terminal(argv: Sequence[str]) -> Run:
    """Run ``argv`` with stdout and stderr on a pseudo-terminal 120 columns wide, reading
    everything it draws as it comes (as a terminal would)."""
    master, slave = os.openpty()
    fcntl.ioctl(slave, termios.TIOCSWINSZ, struct.pack("HHHH", 40, 120, 0, 0))
    env = {k: v for k, v in os.environ.items() if k not in ("NO_COLOR", "FORCE_COLOR")}
    env["TERM"] = "xterm-256color"
    started = time.perf_counter()
    try:
        process = subprocess.Popen(
            argv, stdin=subprocess.DEVNULL, stdout=slave, stderr=slave, env=env, cwd=OUT
        )
    finally:
        os.close(slave)
    chunks = []
    try:
        while True:
            try:
                chunk = os.read(master, 65536)
            except OSError:  # EIO: the command exited and closed the terminal
                break
            if not chunk:
                break
            chunks.append(chunk)
    finally:
        os.close(master)
    run = _reap(process, started, argv)
    output = b"".join(chunks)
    if b"\x1b[" not in output:
        raise BenchError(f"{show(argv)} drew no progress bar on the terminal: {output[-300:]!r}")
    return run


def run_piped(argv: Sequence[str]) -> Run:
    """Run ``argv`` with stdout and stderr to files, as in a script (no bar)."""
    with tempfile.TemporaryFile() as out:
        started = time.perf_counter()
        process = subprocess.Popen(argv, stdin=subprocess.DEVNULL, stdout=out, stderr=out, cwd=OUT)
        run = _reap(process, started, argv)
        out.seek(0)
        if b"\x1b[" in out.read():
            raise BenchError(f"{show(argv)} drew a bar into a pipe")
    return run


def _reap(process: subprocess.Popen[bytes], started: float, argv: Sequence[str]) -> Run:
    _, status, usage = os.wait4(process.pid, 0)
    wall = time.perf_counter() - started
    process.returncode = code = os.waitstatus_to_exitcode(status)
    if code != 0:
        raise BenchError(f"{show(argv)} exited with {code}")
    return Run(wall, usage.ru_utime + usage.ru_stime)


def _interleaved(argv: list[str], runs: int, fresh_db: Path | None) -> tuple[list[Run], list[Run]]:
    """(runs with the bar, runs piped), alternating which goes first; ``fresh_db`` is
    emptied before each run (an import), else the database is only read (a dry run)."""
    bar: list[Run] = []
    plain: list[Run] = []
    for i in range(runs):
        for side in ("bar", "plain") if i % 2 == 0 else ("plain", "bar"):
            if fresh_db is not None:
                data.empty_database(fresh_db)
            if side == "bar":
                bar.append(run_on_terminal(argv))
            else:
                plain.append(run_piped(argv))
    return bar, plain


def _figures(what: str, argv: list[str], bar: list[Run], plain: list[Run]) -> list[Figure]:
    cmd = show(argv).replace(str(OUT) + "/", "bench/out/")
    figures = []
    for measure in ("wall", "cpu"):
        on = [getattr(r, measure) for r in bar]
        off = [getattr(r, measure) for r in plain]
        label = "wall clock" if measure == "wall" else "CPU (user + system)"
        figures += [
            Figure(SECTION, f"{what}, bar on a terminal: {label}", median(on), "s", cmd, on),
            Figure(SECTION, f"{what}, piped (no bar): {label}", median(off), "s", cmd, off),
            Figure(
                SECTION,
                f"{what}: ratio bar / no bar, {label}",
                median(on) / median(off),
                "x",
                cmd,
                [a / b for a, b in zip(on, off, strict=True)],
            ),
        ]
    return figures


def advance_cost(calls: int, runs: int) -> list[Figure]:
    """What one advance() costs in-process: the terminal bar (batched) against the no-op."""
    costs: dict[str, list[float]] = {"bar": [], "no-op": []}
    for _ in range(runs):
        console = Console(file=io.StringIO(), force_terminal=True, width=120)
        with TerminalProgress(console) as bar:
            bar.start(calls, "bench")
            costs["bar"].append(_per_call(bar, calls))
        costs["no-op"].append(_per_call(NO_PROGRESS, calls))
    cmd = f"python -m bench.progress --calls {calls}"
    return [
        Figure(SECTION, f"advance(), {name}: per call", median(v), "ns", cmd, v)
        for name, v in costs.items()
    ]


def _per_call(progress: Progress, calls: int) -> float:
    advance = progress.advance
    started = time.perf_counter()
    for _ in range(calls):
        advance()
    return (time.perf_counter() - started) / calls * 1e9  # ns


def subscribers_import(rows: int, runs: int) -> list[Figure]:
    work = OUT / "progress"
    work.mkdir(parents=True, exist_ok=True)
    config = config_file(work / "digest.toml")
    db = work / "import.db"
    argv = [*digest_argv(), "--config", str(config), "--db", str(db)]
    argv += ["subscribers", "import", str(data.subscribers_csv(rows))]
    bar, plain = _interleaved(argv, runs, db)
    return _figures(f"subscribers import, {rows:,} rows", argv, bar, plain)


def dry_run(subscribers: int, runs: int) -> list[Figure]:
    work = OUT / "progress"
    work.mkdir(parents=True, exist_ok=True)
    config = config_file(work / "digest.toml")
    argv = [*digest_argv(), "--config", str(config), "--db", str(data.database(subscribers))]
    argv += ["send", "--dry-run", "--as-of", data.AS_OF_TEXT]
    bar, plain = _interleaved(argv, runs, None)
    return _figures(f"dry run, {subscribers:,} subscribers", argv, bar, plain)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--rows", type=int, default=100_000)
    parser.add_argument("--dry-run", type=int, default=20_000)
    parser.add_argument("--calls", type=int, default=1_000_000, help="advance() calls timed")
    parser.add_argument("--runs", type=int, default=3)
    args = parser.parse_args()
    try:
        figures = [
            *advance_cost(args.calls, args.runs),
            *subscribers_import(args.rows, args.runs),
            *dry_run(args.dry_run, args.runs),
        ]
    except BenchError as e:
        raise SystemExit(f"bench.progress: {e}") from None
    for figure in figures:
        print(f"{figure.name}: {figure.formatted()}  runs={[round(r, 3) for r in figure.runs]}")


if __name__ == "__main__":
    main()
