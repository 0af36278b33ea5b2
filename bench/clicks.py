"""Click tracking: the redirect's throughput, and what tracking costs the send (issue 15).

Redirect: a real `digest send` of an edition with [tracking] clicks = "per-reader" (or
"anonymous") into Postfix's smtp-sink, then `digest serve --threads 4` as a subprocess and
a client of a thread pool of keep-alive HTTP/1.1 connections following the links that mail
carried (one reader after another, each link signed as in the mail), for a fixed number of
clicks. Every answer must be a 302. The figure is clicks per second, median of the runs; the
client runs on the same machine, so it takes part of the CPU the server could have had.

Send: `digest send` with clicks and opens "per-reader" and with both "off", interleaved run
by run (off, on, off, on...) on fresh copies of one database, so the machine's drift hits
both alike; the figure is the ratio of the medians.

python -m bench.clicks --subscribers 2000 --clicks 6000 --runs 3
"""

from __future__ import annotations

import argparse
import http.client
import json
import os
import queue
import subprocess
import threading
import time
from collections.abc import Iterator
from concurrent.futures import ThreadPoolExecutor
from contextlib import contextmanager
from pathlib import Path

from bench import data
from bench.common import (
    OUT,
    SECRET,
    BenchError,
    Figure,
    config_file,
    digest_argv,
    free_port,
    median,
    run_timed,
    show,
    smtp_sink,
)
from digest.links import Links
from digest.store import open_db

SECTION = "10. Click tracking"
SERVER_THREADS = 4
CLIENT_THREADS = 8
BROWSER = "Mozilla/5.0 (X11; Linux x86_64; rv:128.0) Gecko/20100101 Firefox/128.0"


def tracking_config(path: Path, clicks: str, opens: str) -> Path:
    config = config_file(path)
    with config.open("a", encoding="utf-8") as f:
        f.write(f'[tracking]\nclicks = "{clicks}"\nopens = "{opens}"\n')
    return config


def send(config: Path, db: Path, port: int) -> tuple[float, int]:
    """One `digest send`; (messages a second inside the send loop, messages sent)."""
    timed = run_timed(
        data.send_argv(config, db), env={"DIGEST_SMTP_URL": f"smtp://127.0.0.1:{port}"}
    )
    report = json.loads(timed.stdout)
    if report["status"] != "complete" or report["failed"] or not report["sent"]:
        raise BenchError(f"digest send did not complete: {timed.stdout[-1000:]}")
    return int(report["sent"]) / float(report["elapsed_seconds"]), int(report["sent"])


def mailed_links(db_path: Path, per_reader: bool, count: int) -> list[str]:
    """``count`` click paths as the edition's mail carried them: each reader's first
    article, reader after reader, round again until there are enough."""
    links = Links("https://news.example.com", SECRET)
    db = open_db(db_path, create=False)
    try:
        edition_id = db.execute("SELECT MAX(id) FROM editions").fetchone()[0]
        rows = db.execute(
            "SELECT subscriber_id, article_ids FROM deliveries"
            " WHERE edition_id = ? AND status = 'sent' ORDER BY subscriber_id",
            [edition_id],
        ).fetchall()
        category = dict(
            db.execute("SELECT article_id, MIN(category_id) FROM article_categories GROUP BY 1")
        )
    finally:
        db.close()
    paths = []
    for subscriber_id, article_ids in rows:
        article_id = json.loads(article_ids)[0]
        url = links.click(edition_id, category[article_id], article_id)
        if per_reader:
            url += links.reader_part(edition_id, subscriber_id)
        paths.append(url.removeprefix(links.base))
    if not paths:
        raise BenchError("the edition sent nothing to click")
    return [paths[i % len(paths)] for i in range(count)]


def cpu_seconds(pid: int) -> float:
    """User and system CPU time of process ``pid`` so far (Linux /proc)."""
    fields = Path(f"/proc/{pid}/stat").read_text().rpartition(")")[2].split()
    return (int(fields[11]) + int(fields[12])) / os.sysconf("SC_CLK_TCK")


@contextmanager
def serving(config: Path, db: Path) -> Iterator[tuple[int, int]]:
    """`digest serve --threads 4` on a free port, until the block ends: (port, its pid)."""
    port = free_port()
    argv = [
        *digest_argv(),
        "--config",
        str(config),
        "--db",
        str(db),
        "serve",
        "--port",
        str(port),
        "--threads",
        str(SERVER_THREADS),
    ]
    proc = subprocess.Popen(
        argv, stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True, cwd=OUT
    )
    lines: queue.Queue[str | None] = queue.Queue()

    def read() -> None:
        assert proc.stdout is not None
        for line in proc.stdout:
            lines.put(line)
        lines.put(None)

    threading.Thread(target=read, daemon=True).start()
    try:
        while True:  # the "Serving ..." line comes once the socket listens
            line = lines.get(timeout=60)
            if line is None:
                raise BenchError(f"{show(argv)} exited before serving")
            if line.startswith("Serving "):
                break
        yield port, proc.pid
    finally:
        proc.terminate()
        proc.wait(timeout=10)


def click_all(port: int, paths: list[str]) -> float:
    """Follow every path with CLIENT_THREADS keep-alive connections; clicks a second."""
    chunks = [paths[i::CLIENT_THREADS] for i in range(CLIENT_THREADS)]

    def worker(chunk: list[str]) -> int:
        conn = http.client.HTTPConnection("127.0.0.1", port, timeout=30)
        try:
            for path in chunk:
                conn.request("GET", path, headers={"User-Agent": BROWSER})
                response = conn.getresponse()
                response.read()
                if response.status != 302:
                    raise BenchError(f"GET {path}: {response.status}, expected 302")
        finally:
            conn.close()
        return len(chunk)

    started = time.perf_counter()
    with ThreadPoolExecutor(CLIENT_THREADS) as pool:
        done = sum(pool.map(worker, chunks))
    return done / (time.perf_counter() - started)


def redirect_throughput(subscribers: int, clicks: int, runs: int) -> list[Figure]:
    work = OUT / "clicks"
    work.mkdir(parents=True, exist_ok=True)
    source = data.database(subscribers)
    figures = []
    for mode in ("per-reader", "anonymous"):
        config = tracking_config(work / f"digest-{mode}.toml", mode, "off")
        db = work / f"clicks-{mode}.db"
        rates, per_cpu = [], []
        for _ in range(runs):
            data.fresh_copy(source, db)
            with smtp_sink() as smtp:
                send(config, db, smtp)
            paths = mailed_links(db, mode == "per-reader", clicks)
            with serving(config, db) as (port, pid):
                click_all(port, paths[:200])  # warm: connections, caches, first imports
                cpu = cpu_seconds(pid)
                rates.append(click_all(port, paths))
                per_cpu.append(len(paths) / (cpu_seconds(pid) - cpu))
        figures.append(
            Figure(
                SECTION,
                f"redirect /r/, {mode}, {SERVER_THREADS} server threads",
                median(rates),
                "clicks/s",
                f"python -m bench.clicks --subscribers {subscribers} --clicks {clicks} "
                f"--runs {runs}",
                runs=rates,
                target=">= 500 clicks/s",
                met=median(rates) >= 500,
            )
        )
        figures.append(
            Figure(
                SECTION,
                f"redirect /r/, {mode}, clicks per CPU-second of the server",
                median(per_cpu),
                "clicks/s",
                figures[-1].command,
                runs=per_cpu,
                note="the server's own user+system time: what one core sustains, whatever "
                "else the machine runs",
            )
        )
    return figures


def send_cost(subscribers: int, runs: int) -> list[Figure]:
    work = OUT / "clicks"
    work.mkdir(parents=True, exist_ok=True)
    source = data.database(subscribers)
    off = tracking_config(work / "digest-off.toml", "off", "off")
    on = tracking_config(work / "digest-on.toml", "per-reader", "per-reader")
    db = work / "send.db"
    rates: dict[str, list[float]] = {"off": [], "on": []}
    with smtp_sink() as smtp:
        for _ in range(runs):
            for name, config in (("off", off), ("on", on)):
                data.fresh_copy(source, db)
                rates[name].append(send(config, db, smtp)[0])
    ratio = median(rates["on"]) / median(rates["off"])
    command = f"python -m bench.clicks --subscribers {subscribers} --runs {runs}"
    return [
        Figure(SECTION, "send, tracking off", median(rates["off"]), "msg/s", command, rates["off"]),
        Figure(
            SECTION,
            "send, clicks and opens per-reader",
            median(rates["on"]),
            "msg/s",
            command,
            rates["on"],
        ),
        Figure(
            SECTION,
            "ratio per-reader / off",
            ratio,
            "x",
            command,
            [a / b for a, b in zip(rates["on"], rates["off"], strict=True)],
        ),
    ]


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--subscribers", type=int, default=2_000)
    parser.add_argument("--clicks", type=int, default=6_000)
    parser.add_argument("--send-subscribers", type=int, default=5_000)
    parser.add_argument("--runs", type=int, default=3)
    parser.add_argument("--only", choices=("redirect", "send"), help="one of the two parts")
    args = parser.parse_args()
    figures = []
    if args.only != "send":
        figures += redirect_throughput(args.subscribers, args.clicks, args.runs)
    if args.only != "redirect":
        figures += send_cost(args.send_subscribers, args.runs)
    for figure in figures:
        print(f"{figure.name}: {figure.formatted()}  runs={[round(r, 2) for r in figure.runs]}")


if __name__ == "__main__":
    main()
