"""Before and after in one run: the hot-path benchmarks for a base revision and for the working
tree, interleaved (base, tree, base, tree...) so the machine's drift hits both alike, with the
median of each side and their ratio (docs/performance.md, How to measure).

The base is exported with `git archive` into a temporary folder; each benchmark runs as
`python -m bench.X` with that tree first on PYTHONPATH and no `digest` script on PATH, so
every `digest` it starts is the tree's own code.

python -m bench.compare --base HEAD~1 --runs 3
"""

from __future__ import annotations

import argparse
import os
import re
import statistics
import subprocess
import sys
import tarfile
import tempfile
from collections import defaultdict
from pathlib import Path

from bench.common import REPO, BenchError, fmt

# name: value unit  runs=[...]  (what every bench module prints for a figure)
_FIGURE = re.compile(r"^(?P<name>.+?): (?P<value>[\d,.]+) (?P<unit>\S.*?)\s+runs=")


def benchmarks(subscribers: int, dry_run: int, messages: int) -> list[list[str]]:
    return [
        ["bench.send", "--subscribers", str(subscribers), "--runs", "1"],
        ["bench.dryrun", "--subscribers", str(dry_run), "--runs", "1"],
        ["bench.render", "--messages", str(messages), "--runs", "1"],
    ]


def export(revision: str, target: Path) -> Path:
    """The tree of ``revision`` as plain files under ``target``."""
    archive = target / "base.tar"
    subprocess.run(
        ["git", "-C", str(REPO), "archive", "--format=tar", "-o", str(archive), revision],
        check=True,
    )
    tree = target / "base"
    with tarfile.open(archive) as tar:
        tar.extractall(tree, filter="data")
    # The same generator over the same schema makes the same databases: the base reads the
    # tree's cached ones instead of building its own (a million readers take minutes on a
    # loaded machine). A base with other migrations builds its own: a database migrated by
    # the tree can break the base's code (a CHECK it does not know).
    same = [Path("bench") / "data.py", Path("digest") / "store" / "migrations.py"]
    if all((tree / p).read_bytes() == (REPO / p).read_bytes() for p in same):
        cache = REPO / "bench" / "out" / "data"
        cache.mkdir(parents=True, exist_ok=True)
        (tree / "bench" / "out").mkdir(parents=True, exist_ok=True)
        (tree / "bench" / "out" / "data").symlink_to(cache.resolve())
    return tree


def run_figures(tree: Path, module_args: list[str], shim: Path) -> dict[str, tuple[float, str]]:
    """Run one benchmark module against ``tree``; its figures by name."""
    env = {
        **os.environ,
        "PYTHONPATH": str(tree),
        # No `digest` console script on PATH: bench.common.digest_argv then runs
        # `python -m digest`, which PYTHONPATH points at this tree.
        "PATH": f"{shim}:/usr/sbin:/usr/bin:/bin",
    }
    result = subprocess.run(
        [sys.executable, "-m", *module_args],
        cwd=tree,
        env=env,
        capture_output=True,
        text=True,
        check=False,
    )
    if result.returncode != 0:
        raise BenchError(f"{' '.join(module_args)} in {tree}: {result.stderr.strip()[-500:]}")
    figures: dict[str, tuple[float, str]] = {}
    for line in result.stdout.splitlines():
        found = _FIGURE.match(line.strip())
        if found:
            figures[found["name"]] = (float(found["value"].replace(",", "")), found["unit"])
    return figures


def compare(
    base: str, runs: int, subscribers: int, dry_run: int, messages: int, only: str = ""
) -> str:
    with tempfile.TemporaryDirectory(prefix="digest-compare-") as tmp:
        base_tree = export(base, Path(tmp))
        shim = Path(tmp) / "bin"
        shim.mkdir()
        (shim / "python3").symlink_to(sys.executable)
        values: dict[tuple[str, str], list[float]] = defaultdict(list)
        units: dict[str, str] = {}
        for _ in range(runs):
            for args in benchmarks(subscribers, dry_run, messages):
                if only and only not in args[0]:
                    continue
                for side, tree in (("base", base_tree), ("tree", REPO)):
                    for name, (value, unit) in run_figures(tree, args, shim).items():
                        values[(name, side)].append(value)
                        units[name] = unit
        return table(base, runs, values, units)


def table(
    base: str, runs: int, values: dict[tuple[str, str], list[float]], units: dict[str, str]
) -> str:
    lines = [
        f"Base {base} against the working tree, {runs} interleaved run(s) each, medians:",
        "",
        "| Figure | Base | Tree | Tree / base |",
        "| --- | --- | --- | --- |",
    ]
    for name, unit in units.items():
        before, after = values.get((name, "base")), values.get((name, "tree"))
        if not before or not after:
            continue
        b, a = statistics.median(before), statistics.median(after)
        ratio = f"{a / b:.2f}x" if b else ""
        lines.append(f"| {name} | {fmt(b)} {unit} | {fmt(a)} {unit} | {ratio} |")
    return "\n".join(lines)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--base", required=True, help="git revision to compare against")
    parser.add_argument("--runs", type=int, default=3)
    parser.add_argument("--subscribers", type=int, default=5_000, help="real send size")
    parser.add_argument("--dry-run", type=int, default=20_000, help="dry run size")
    parser.add_argument("--messages", type=int, default=5_000, help="render benchmark size")
    parser.add_argument(
        "--only", default="", help="run only the benchmark modules whose name contains this"
    )
    args = parser.parse_args()
    try:
        print(
            compare(args.base, args.runs, args.subscribers, args.dry_run, args.messages, args.only)
        )
    except BenchError as e:
        raise SystemExit(f"bench.compare: {e}") from None


if __name__ == "__main__":
    main()
