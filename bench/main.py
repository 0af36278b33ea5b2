"""Run every benchmark and write the results.

bench/run            full sizes, medians of 3 runs, writes bench/RESULTS.md (~10-15 min)
bench/run --quick    small sizes, one run each, writes bench/out/RESULTS-quick.md (< 1 min);
                     exits non-zero when a benchmark fails to produce its figures. It does
                     not check times: CI machines are too noisy for that.
"""

from __future__ import annotations

import argparse
import math
import sys
import time
import traceback
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path

from bench import clicks, desk, dryrun, imports, render, send
from bench.common import OUT, REPO, Figure, fmt, machine

RESULTS = REPO / "bench" / "RESULTS.md"
# Everything below this line in RESULTS.md is written by hand and kept on regeneration.
ANALYSIS_MARKER = "<!-- analysis: written by hand, kept when bench/run rewrites the figures -->"


@dataclass(frozen=True)
class Sizes:
    send: int
    rate_messages: int
    dry_run: int
    memory: tuple[int, ...]
    render: int
    import_rows: int
    feed_entries: int
    runs: int
    desk: int = 100_000
    clicks: int = 6_000  # followed links, over one edition of click_readers readers
    click_readers: int = 2_000


FULL = Sizes(
    send=20_000,
    rate_messages=2_000,
    dry_run=100_000,
    memory=(10_000, 100_000, 1_000_000),
    render=20_000,
    import_rows=1_000_000,
    feed_entries=5_000,
    runs=3,
)
QUICK = Sizes(
    send=1_000,
    rate_messages=300,
    dry_run=2_000,
    memory=(1_000, 3_000),
    render=2_000,
    import_rows=5_000,
    feed_entries=200,
    runs=1,
    desk=2_000,
    clicks=300,
    click_readers=300,
)
RATE = 200.0


def benchmarks(sizes: Sizes) -> list[tuple[str, str, Callable[[], list[Figure]]]]:
    """(section, command to run it alone, function) in the order of the issue."""
    n = sizes.runs
    memory = ",".join(str(m) for m in sizes.memory)
    return [
        (
            send.SECTION_SEND,
            f"python -m bench.send --subscribers {sizes.send} --runs {n}",
            lambda: send.throughput(sizes.send, n),
        ),
        (
            dryrun.SECTION_DRY,
            f"python -m bench.dryrun --subscribers {sizes.dry_run} --runs {n}",
            lambda: dryrun.throughput(sizes.dry_run, n),
        ),
        (
            render.SECTION,
            f"python -m bench.render --messages {sizes.render} --runs {n}",
            lambda: render.run(sizes.render, n),
        ),
        (
            dryrun.SECTION_MEMORY,
            f"python -m bench.dryrun --memory {memory} --runs {n}",
            lambda: dryrun.memory(list(sizes.memory), n),
        ),
        (
            imports.SECTION,
            f"python -m bench.imports --rows {sizes.import_rows} "
            f"--entries {sizes.feed_entries} --runs {n}",
            lambda: [
                *imports.subscribers(sizes.import_rows, n),
                *imports.articles(sizes.feed_entries, n),
            ],
        ),
        (
            send.SECTION_RATE,
            f"python -m bench.send --rate-messages {sizes.rate_messages} "
            f"--rate {RATE:g} --runs {n}",
            lambda: send.rate_accuracy(sizes.rate_messages, RATE, n),
        ),
        (
            desk.SECTION,
            f"python -m bench.desk --subscribers {sizes.desk} --runs {max(n, 10)}",
            lambda: desk.pages(sizes.desk, max(n, 10)),
        ),
        (
            clicks.SECTION,
            f"python -m bench.clicks --subscribers {sizes.click_readers} --clicks "
            f"{sizes.clicks} --send-subscribers {sizes.send} --runs {n}",
            lambda: [
                *clicks.redirect_throughput(sizes.click_readers, sizes.clicks, n),
                *clicks.send_cost(sizes.send, n),
            ],
        ),
    ]


def _valid(figure: Figure) -> bool:
    return math.isfinite(figure.value) and figure.value > 0


def _table(figures: list[Figure]) -> list[str]:
    lines = ["| Figure | Median | Runs | Target | Met |", "| --- | --- | --- | --- | --- |"]
    for f in figures:
        runs = ", ".join(fmt(r) for r in f.runs) if len(f.runs) > 1 else ""
        met = "" if f.met is None else ("yes" if f.met else "**no**")
        name = f.name + (f" ({f.note})" if f.note else "")
        lines.append(f"| {name} | {f.formatted()} | {runs} | {f.target} | {met} |")
    return lines


def report(
    figures: dict[str, list[Figure]],
    commands: dict[str, str],
    seconds: dict[str, float],
    failures: dict[str, str],
    mode: str,
    info: dict[str, str],
    analysis: str,
) -> str:
    lines = [
        "# Benchmark results",
        "",
        f"Written by `bench/run{' --quick' if mode == 'quick' else ''}` on {info['date']}: "
        "every figure below was measured in that run (medians of the runs listed). The "
        "machine is noisy: compare ratios measured in the same run, not absolute times "
        "across runs.",
        "",
        "| Machine | |",
        "| --- | --- |",
        *(f"| {k} | {v} |" for k, v in info.items()),
        "",
        "## Targets",
        "",
        "| Target | Figure | Met |",
        "| --- | --- | --- |",
    ]
    for section_figures in figures.values():
        for f in section_figures:
            if f.target:
                met = "n/a at this size" if f.met is None else ("yes" if f.met else "**no**")
                lines.append(f"| {f.target} | {f.name}: {f.formatted()} | {met} |")
    for section, command in commands.items():
        lines += [
            "",
            f"## {section}",
            "",
            f"Measured {info['date']} by `{command}` ({seconds.get(section, 0):.0f} s).",
        ]
        if section in failures:
            lines += ["", f"**Failed**: `{failures[section]}`"]
            continue
        lines += ["", *_table(figures[section]), "", "Commands:"]
        seen: list[str] = []
        for f in figures[section]:
            if f.command not in seen and f.command != "the two rows above":
                seen.append(f.command)
        lines += [f"- `{c}`" for c in seen]
    lines += ["", ANALYSIS_MARKER, analysis.rstrip(), ""]
    return "\n".join(lines)


def main() -> None:
    parser = argparse.ArgumentParser(
        description=__doc__.split("\n\n")[0],
        formatter_class=argparse.RawTextHelpFormatter,
        epilog=__doc__.split("\n\n", 1)[1],
    )
    parser.add_argument("--quick", action="store_true", help="small sizes, one run each")
    parser.add_argument("--only", help="run only sections whose name contains this")
    args = parser.parse_args()
    mode = "quick" if args.quick else "full"
    sizes = QUICK if args.quick else FULL
    OUT.mkdir(parents=True, exist_ok=True)
    info = machine()
    figures: dict[str, list[Figure]] = {}
    commands: dict[str, str] = {}
    seconds: dict[str, float] = {}
    failures: dict[str, str] = {}
    for section, command, bench in benchmarks(sizes):
        if args.only and args.only.lower() not in section.lower():
            continue
        commands[section] = command
        print(f"== {section}: {command}", flush=True)
        started = time.monotonic()
        try:
            produced = bench()
            bad = [f.name for f in produced if not _valid(f)]
            if not produced or bad:
                raise RuntimeError(f"no figure produced for: {', '.join(bad) or section}")
            figures[section] = produced
            for f in produced:
                flag = "" if f.met is None else ("  [target met]" if f.met else "  [target MISSED]")
                print(f"   {f.name}: {f.formatted()}{flag}", flush=True)
        except Exception as e:
            traceback.print_exc()
            failures[section] = f"{type(e).__name__}: {e}".splitlines()[0]
            print(f"   FAILED: {failures[section]}", flush=True)
        seconds[section] = time.monotonic() - started
        print(f"   ({seconds[section]:.1f} s)", flush=True)

    target: Path = OUT / "RESULTS-quick.md" if args.quick else RESULTS
    analysis = ""
    if not args.quick and RESULTS.exists():
        text = RESULTS.read_text(encoding="utf-8")
        if ANALYSIS_MARKER in text:
            analysis = text.split(ANALYSIS_MARKER, 1)[1].strip("\n")
    if args.only and not args.quick:
        target = OUT / "RESULTS-partial.md"  # a partial run must not replace the full record
    target.write_text(
        report(figures, commands, seconds, failures, mode, info, analysis), encoding="utf-8"
    )
    print(f"Wrote {target.relative_to(REPO)}")
    if failures:
        print(f"{len(failures)} benchmark(s) failed to produce figures: {', '.join(failures)}")
        sys.exit(1)


if __name__ == "__main__":
    main()
