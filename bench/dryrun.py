"""Dry-run throughput and peak memory of `digest send --dry-run`.

Throughput: recipients per second for N subscribers, timed from outside the process.
Memory: peak RSS (/usr/bin/time -v) at several sizes; a send streams recipients, so the peak
should not grow with the list.

python -m bench.dryrun --subscribers 100000 --memory 10000,100000,1000000 --runs 3
"""

from __future__ import annotations

import argparse
import json
from typing import Any

from bench import data
from bench.common import (
    OUT,
    BenchError,
    Figure,
    config_file,
    median,
    rss_tool,
    run_timed,
    show,
)

SECTION_DRY = "2. Dry-run throughput"
SECTION_MEMORY = "4. Memory"
DRY_RUN_LIMIT_S = 20.0
MEMORY_LIMIT_MB = 150.0


def _dry_run(subscribers: int) -> tuple[float, int, dict[str, Any], list[str]]:
    """(wall seconds, peak RSS KiB, report, argv) for one dry run. Nothing is written, so
    the cached database is used as it is."""
    work = OUT / "dryrun"
    work.mkdir(parents=True, exist_ok=True)
    config = config_file(work / "digest.toml")
    argv = data.send_argv(config, data.database(subscribers), "--dry-run")
    timed = run_timed(argv, rss=True)
    report: dict[str, Any] = json.loads(timed.stdout)
    if report["recipients"] != subscribers or not report["messages"]:
        raise BenchError(f"dry run saw {report['recipients']} of {subscribers} recipients")
    return timed.wall, timed.max_rss_kb, report, argv


def _display(argv: list[str]) -> str:
    return show(argv).replace(str(OUT) + "/", "bench/out/")


def throughput(subscribers: int, runs: int) -> list[Figure]:
    walls: list[float] = []
    rates: list[float] = []
    compiles: list[float] = []
    argv: list[str] = []
    for _ in range(runs):
        wall, _, report, argv = _dry_run(subscribers)
        walls.append(wall)
        rates.append(report["recipients"] / wall)
        compiles.append(float(report["mjml_compiles"]))
    s = SECTION_DRY
    cmd = _display(argv)
    return [
        Figure(
            s,
            f"dry run, {subscribers:,} subscribers: recipients per second",
            median(rates),
            "recipients/s",
            cmd,
            rates,
        ),
        Figure(
            s,
            f"dry run, {subscribers:,} subscribers: time",
            median(walls),
            "s",
            cmd,
            walls,
            target=f"<= {DRY_RUN_LIMIT_S:g} s at 100,000",
            met=median(walls) <= DRY_RUN_LIMIT_S if subscribers == 100_000 else None,
        ),
        Figure(
            s, "MJML compiles per edition (dry run)", median(compiles), "compiles", cmd, compiles
        ),
    ]


def memory(sizes: list[int], runs: int) -> list[Figure]:
    figures: list[Figure] = []
    peaks: dict[int, float] = {}
    for size in sizes:
        # The largest size is by far the slowest run: once is enough to see a trend there.
        count = 1 if size >= 1_000_000 else runs
        mb: list[float] = []
        argv: list[str] = []
        for _ in range(count):
            _, rss_kb, _, argv = _dry_run(size)
            mb.append(rss_kb * 1024 / 1e6)  # KiB -> MB, the unit of the target
        peaks[size] = median(mb)
        figures.append(
            Figure(
                SECTION_MEMORY,
                f"peak RSS, dry run, {size:,} subscribers",
                peaks[size],
                "MB",
                f"{rss_tool()} {_display(argv)}",
                mb,
            )
        )
    smallest, largest = min(sizes), max(sizes)
    growth = peaks[largest] / peaks[smallest]
    big = largest >= 1_000_000
    figures[-1].target = f"<= {MEMORY_LIMIT_MB:g} MB at 1,000,000" if big else ""
    figures[-1].met = peaks[largest] <= MEMORY_LIMIT_MB if big else None
    figures.append(
        Figure(
            SECTION_MEMORY,
            f"peak RSS at {largest:,} / at {smallest:,}",
            growth,
            "x",
            "the two rows above",
            target="<= 1.2x (within 20%)",
            met=growth <= 1.2 if big else None,
        )
    )
    return figures


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--subscribers", type=int, default=100_000)
    parser.add_argument("--memory", default="10000,100000,1000000")
    parser.add_argument("--runs", type=int, default=3)
    args = parser.parse_args()
    sizes = [int(x) for x in args.memory.split(",")]
    for figure in [*throughput(args.subscribers, args.runs), *memory(sizes, args.runs)]:
        print(f"{figure.name}: {figure.formatted()}  runs={[round(r, 2) for r in figure.runs]}")


if __name__ == "__main__":
    main()
