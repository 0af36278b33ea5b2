"""What the progress bar costs: the same commands with the bar drawn on a pseudo-terminal
and piped (no bar), interleaved run by run so the machine's drift hits both alike; medians
and the ratio bar / no bar.

python -m bench.progress --rows 100000 --dry-run 20000 --runs 3
"""

from __future__ import annotations

import argparse
import fcntl
import os
import struct
import subprocess
import termios
import time
from collections.abc import Sequence
from pathlib import Path

from bench import data
from bench.common import OUT, BenchError, Figure, config_file, digest_argv, median, run_timed, show

SECTION = "7. Progress"


def run_on_terminal(argv: Sequence[str]) -> tuple[float, bytes]:
    """Run ``argv`` with stdout and stderr on a pseudo-terminal 120 columns wide, reading
    everything it draws as it comes (as a terminal would); (wall seconds, output)."""
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
    code = process.wait()
    wall = time.perf_counter() - started
    output = b"".join(chunks)
    if code != 0:
        raise BenchError(f"{show(argv)} exited with {code}: {output[-500:]!r}")
    if b"\x1b[" not in output:
        raise BenchError(f"{show(argv)} drew no progress bar on the terminal")
    return wall, output


def _interleaved(
    argv: list[str], runs: int, fresh_db: Path | None
) -> tuple[list[float], list[float]]:
    """(walls with the bar, walls piped), alternating which goes first; ``fresh_db`` is
    emptied before each run (an import), else the database is only read (a dry run)."""
    bar: list[float] = []
    plain: list[float] = []
    for i in range(runs):
        for walls in (bar, plain) if i % 2 == 0 else (plain, bar):
            if fresh_db is not None:
                data.empty_database(fresh_db)
            if walls is bar:
                walls.append(run_on_terminal(argv)[0])
            else:
                walls.append(run_timed(argv).wall)
    return bar, plain


def _figures(what: str, argv: list[str], bar: list[float], plain: list[float]) -> list[Figure]:
    cmd = show(argv).replace(str(OUT) + "/", "bench/out/")
    ratios = [b / p for b, p in zip(bar, plain, strict=True)]
    return [
        Figure(SECTION, f"{what}, bar on a terminal: time", median(bar), "s", cmd, bar),
        Figure(SECTION, f"{what}, piped (no bar): time", median(plain), "s", cmd, plain),
        Figure(
            SECTION,
            f"{what}: ratio bar / no bar",
            median(bar) / median(plain),
            "x",
            cmd,
            ratios,
            note="1.00x: the bar costs nothing",
        ),
    ]


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
    parser.add_argument("--runs", type=int, default=3)
    args = parser.parse_args()
    try:
        figures = [
            *subscribers_import(args.rows, args.runs),
            *dry_run(args.dry_run, args.runs),
        ]
    except BenchError as e:
        raise SystemExit(f"bench.progress: {e}") from None
    for figure in figures:
        print(f"{figure.name}: {figure.formatted()}  runs={[round(r, 3) for r in figure.runs]}")


if __name__ == "__main__":
    main()
