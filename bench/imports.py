"""Imports through the CLI: `digest subscribers import` of a large CSV and `digest articles
import` of a large RSS file, each into a fresh database holding only the categories.

python -m bench.imports --rows 1000000 --entries 5000 --runs 3
"""

from __future__ import annotations

import argparse
import re
from pathlib import Path

from bench import data
from bench.common import OUT, BenchError, Figure, config_file, digest_argv, median, run_timed, show

SECTION = "5. Import"
IMPORT_LIMIT_S = 60.0


def _cmd(argv: list[str]) -> str:
    return show(argv).replace(str(OUT) + "/", "bench/out/")


def _timed_imports(
    command: str, source: Path, expected: int, added: str, db_name: str, runs: int
) -> tuple[list[float], str]:
    """Run `digest COMMAND import SOURCE` into a fresh database ``runs`` times; check that
    each run added ``expected`` items (``added``: a regex whose group 1 is the count)."""
    work = OUT / "import"
    work.mkdir(parents=True, exist_ok=True)
    config = config_file(work / "digest.toml")
    db = work / db_name
    walls: list[float] = []
    argv: list[str] = []
    for _ in range(runs):
        data.empty_database(db)
        argv = [*digest_argv(), "--config", str(config), "--db", str(db)]
        argv += [command, "import", str(source)]
        timed = run_timed(argv)
        found = re.search(added, timed.stdout)
        if not found or int(found[1]) != expected:
            raise BenchError(
                f"{command} import added {found[1] if found else '?'} of {expected}: "
                f"{timed.stdout[-500:]}"
            )
        walls.append(timed.wall)
    return walls, _cmd(argv)


def subscribers(rows: int, runs: int) -> list[Figure]:
    csv_path = data.subscribers_csv(rows)
    walls, cmd = _timed_imports("subscribers", csv_path, rows, r"Added (\d+)", "import.db", runs)
    time_ = median(walls)
    return [
        Figure(
            SECTION,
            f"subscribers import, {rows:,}-row CSV: time",
            time_,
            "s",
            cmd,
            walls,
            target=f"<= {IMPORT_LIMIT_S:g} s at 1,000,000",
            met=time_ <= IMPORT_LIMIT_S if rows == 1_000_000 else None,
        ),
        Figure(
            SECTION,
            "subscribers import: rows per second",
            rows / time_,
            "rows/s",
            cmd,
            [rows / w for w in walls],
        ),
    ]


def articles(entries: int, runs: int) -> list[Figure]:
    feed = data.rss_feed(entries)
    walls, cmd = _timed_imports("articles", feed, entries, r": (\d+) added", "articles.db", runs)
    time_ = median(walls)
    size = Path(feed).stat().st_size
    return [
        Figure(
            SECTION,
            f"articles import, {entries:,}-entry RSS ({size / 1e6:.1f} MB): time",
            time_,
            "s",
            cmd,
            walls,
        ),
        Figure(
            SECTION,
            "articles import: entries per second",
            entries / time_,
            "entries/s",
            cmd,
            [entries / w for w in walls],
        ),
    ]


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--rows", type=int, default=1_000_000)
    parser.add_argument("--entries", type=int, default=5_000)
    parser.add_argument("--runs", type=int, default=3)
    args = parser.parse_args()
    for figure in [*subscribers(args.rows, args.runs), *articles(args.entries, args.runs)]:
        print(f"{figure.name}: {figure.formatted()}  runs={[round(r, 2) for r in figure.runs]}")


if __name__ == "__main__":
    main()
