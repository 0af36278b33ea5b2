"""End-to-end send throughput and rate-limit accuracy.

Throughput: `digest send` for N subscribers into Postfix's smtp-sink on loopback, against two
baselines through the same sink in the same run: (a) a plain smtplib loop with prebuilt
messages of digest's median size (bench/smtp_loop.py), (b) Postfix's smtp-source with that size
and as many sessions as digest's concurrency. The three are interleaved run by run so drift on
a noisy machine hits them alike; figures are medians.

Rate: `digest send` with rate = R through a small Python sink that timestamps each accepted
message; the largest count in any one-second window and the average rate.

python -m bench.send --subscribers 20000 --rate-messages 2000 --runs 3
"""

from __future__ import annotations

import argparse
import bisect
import json
import os
import shutil
import sys
from pathlib import Path
from typing import Any

from bench import data
from bench.common import (
    OUT,
    REPO,
    SMTP_SOURCE,
    BenchError,
    Figure,
    RecordingSink,
    config_file,
    dkim_key_file,
    median,
    run_timed,
    show,
    smtp_sink,
)

CONCURRENCY = 4  # digest's default; smtp-source gets as many sessions
SECTION_SEND = "1. End-to-end send"
SECTION_RATE = "6. Rate limit accuracy"


def _digest_send(config: Path, db: Path, port: int) -> tuple[float, dict[str, Any]]:
    timed = run_timed(
        data.send_argv(config, db), env={"DIGEST_SMTP_URL": f"smtp://127.0.0.1:{port}"}
    )
    report: dict[str, Any] = json.loads(timed.stdout)
    if report["status"] != "complete" or report["failed"] or not report["sent"]:
        raise BenchError(f"digest send did not complete: {timed.stdout[-1000:]}")
    return timed.wall, report


def _sample_messages(config: Path, db: Path, target: Path) -> int:
    """Write 16 of the edition's real messages, those nearest its median size, to
    ``target`` for baseline (a); return the edition's median message size."""
    everything = target.with_name("eml-all")
    shutil.rmtree(everything, ignore_errors=True)
    shutil.rmtree(target, ignore_errors=True)
    argv = data.send_argv(config, db, "--dry-run", "--output", str(everything), "--limit", "3000")
    report = json.loads(run_timed(argv).stdout)
    size = int(report["message_size_median"])
    files = sorted(everything.glob("*.eml"), key=lambda p: abs(p.stat().st_size - size))
    target.mkdir()
    for path in files[:16]:
        shutil.copy(path, target / path.name)
    shutil.rmtree(everything)
    return size


def throughput(subscribers: int, runs: int) -> list[Figure]:
    work = OUT / "send"
    work.mkdir(parents=True, exist_ok=True)
    source = data.database(subscribers)
    config = config_file(work / "digest.toml", concurrency=CONCURRENCY)
    signed_config = config_file(
        work / "digest-dkim.toml",
        concurrency=CONCURRENCY,
        dkim_key=dkim_key_file(work / "dkim.pem"),
    )
    db = work / "send.db"
    dkim_wall: list[float] = []
    dkim_inner: list[float] = []
    digest_wall: list[float] = []
    digest_inner: list[float] = []
    loop_wall: list[float] = []
    loop_inner: list[float] = []
    loop_size = 0
    source_wall: list[float] = []
    sizes: list[int] = []
    compiles: list[int] = []
    sent = 0
    eml = work / "eml"
    sample_size = _sample_messages(config, source, eml)
    with smtp_sink() as port:
        for _ in range(runs):
            data.fresh_copy(source, db)
            wall, report = _digest_send(config, db, port)
            sent = int(report["sent"])
            digest_wall.append(sent / wall)
            digest_inner.append(sent / float(report["elapsed_seconds"]))
            size = int(report["message_size_median"])
            sizes.append(size)
            compiles.append(int(report["mjml_compiles"]))

            # The same send, DKIM-signed: the on/off ratio comes from neighbouring runs.
            data.fresh_copy(source, db)
            wall, report = _digest_send(signed_config, db, port)
            dkim_wall.append(int(report["sent"]) / wall)
            dkim_inner.append(int(report["sent"]) / float(report["elapsed_seconds"]))

            loop_argv = [
                sys.executable,
                "-m",
                "bench.smtp_loop",
                "--port",
                str(port),
                "--count",
                str(sent),
                "--eml",
                str(eml),
            ]
            timed = run_timed(loop_argv, cwd=REPO)
            loop_wall.append(sent / timed.wall)
            loop_result = json.loads(timed.stdout)
            loop_inner.append(sent / float(loop_result["elapsed"]))
            loop_size = int(loop_result["mean_size"])

            if not os.access(SMTP_SOURCE, os.X_OK):
                raise BenchError(f"{SMTP_SOURCE} not found: install the Debian package postfix")
            # -d: keep each session's connection for all its messages, as digest does.
            source_argv = [
                SMTP_SOURCE,
                "-d",
                "-s",
                str(CONCURRENCY),
                "-m",
                str(sent),
                "-l",
                str(size),
                "-f",
                "digest@news.example.com",
                "-t",
                "reader@example.org",
                f"127.0.0.1:{port}",
            ]
            timed = run_timed(source_argv)
            source_wall.append(sent / timed.wall)

    send_cmd = "DIGEST_SMTP_URL=smtp://127.0.0.1:PORT " + show(
        data.send_argv(Path("digest.toml"), Path("send.db"))
    )
    loop_cmd = show(
        [
            "python",
            "-m",
            "bench.smtp_loop",
            "--port",
            "PORT",
            "--count",
            str(sent),
            "--eml",
            "bench/out/send/eml",
        ]
    )
    source_cmd = show(
        [
            SMTP_SOURCE,
            "-d",
            "-s",
            str(CONCURRENCY),
            "-m",
            str(sent),
            "-l",
            str(int(median(sizes))),
            "-f",
            "digest@news.example.com",
            "-t",
            "reader@example.org",
            "127.0.0.1:PORT",
        ]
    )
    dkim_cmd = "DIGEST_SMTP_URL=smtp://127.0.0.1:PORT " + show(
        data.send_argv(Path("digest-dkim.toml"), Path("send.db"))
    )
    dkim_ratio = median(dkim_wall) / median(digest_wall)
    ratio_a = median(digest_wall) / median(loop_wall)
    ratio_a_inner = median(digest_inner) / median(loop_inner)
    ratio_b = median(digest_wall) / median(source_wall)
    per_run_a = [d / b for d, b in zip(digest_wall, loop_wall, strict=True)]
    s = SECTION_SEND
    note_sizes = f"{sent:,} messages, median size {int(median(sizes)):,} bytes"
    note_loop = (
        f"16 of the edition's real messages nearest its median size ({sample_size:,} bytes), "
        f"mean {loop_size:,} bytes"
    )
    return [
        Figure(
            s,
            f"digest send, {subscribers:,} subscribers (wall clock, start-up included)",
            median(digest_wall),
            "msg/s",
            send_cmd,
            digest_wall,
            note=note_sizes,
        ),
        Figure(
            s,
            "digest send, inside the send loop (report's elapsed_seconds)",
            median(digest_inner),
            "msg/s",
            send_cmd,
            digest_inner,
        ),
        Figure(
            s,
            "baseline (a): smtplib sendmail loop, one connection (wall clock)",
            median(loop_wall),
            "msg/s",
            loop_cmd,
            loop_wall,
            note=note_loop,
        ),
        Figure(
            s,
            "baseline (a): smtplib loop, connect to QUIT",
            median(loop_inner),
            "msg/s",
            loop_cmd,
            loop_inner,
        ),
        Figure(
            s,
            f"baseline (b): smtp-source, {CONCURRENCY} sessions (wall clock)",
            median(source_wall),
            "msg/s",
            source_cmd,
            source_wall,
        ),
        Figure(
            s,
            "ratio digest / baseline (a), wall clock",
            ratio_a,
            "x",
            f"{send_cmd}  vs  {loop_cmd}",
            per_run_a,
            target=">= 0.9x baseline (a)",
            met=ratio_a >= 0.9,
        ),
        Figure(
            s,
            "ratio digest / baseline (a), send loop only",
            ratio_a_inner,
            "x",
            f"{send_cmd}  vs  {loop_cmd}",
            [d / b for d, b in zip(digest_inner, loop_inner, strict=True)],
        ),
        Figure(
            s,
            "ratio digest / baseline (b)",
            ratio_b,
            "x",
            f"{send_cmd}  vs  {source_cmd}",
            [d / b for d, b in zip(digest_wall, source_wall, strict=True)],
        ),
        Figure(
            s,
            "digest send with DKIM, rsa-sha256 2048-bit (wall clock)",
            median(dkim_wall),
            "msg/s",
            dkim_cmd,
            dkim_wall,
        ),
        Figure(
            s,
            "ratio DKIM on / off, wall clock",
            dkim_ratio,
            "x",
            f"{dkim_cmd}  vs  {send_cmd}",
            [d / b for d, b in zip(dkim_wall, digest_wall, strict=True)],
            target=">= 0.8x",
            met=dkim_ratio >= 0.8,
        ),
        Figure(
            s,
            "ratio DKIM on / off, send loop only",
            median(dkim_inner) / median(digest_inner),
            "x",
            f"{dkim_cmd}  vs  {send_cmd}",
            [d / b for d, b in zip(dkim_inner, digest_inner, strict=True)],
        ),
        Figure(
            s,
            "MJML compiles per edition",
            median(compiles),
            "compiles",
            send_cmd,
            [float(c) for c in compiles],
            note="one per content variant (distinct category set)",
        ),
    ]


def max_in_window(times: list[float], window: float = 1.0) -> int:
    """The most events in any half-open interval [t, t + window): checking the windows that
    start at an event is enough, since sliding a window to its first event loses none."""
    ordered = sorted(times)
    best = 0
    for i, start in enumerate(ordered):
        best = max(best, bisect.bisect_left(ordered, start + window) - i)
    return best


def rate_accuracy(messages: int, rate: float, runs: int) -> list[Figure]:
    work = OUT / "rate"
    work.mkdir(parents=True, exist_ok=True)
    source = data.database(messages)
    config = config_file(work / "digest.toml", rate=rate, concurrency=CONCURRENCY)
    db = work / "rate.db"
    peaks: list[float] = []
    averages: list[float] = []
    for _ in range(runs):
        data.fresh_copy(source, db)
        with RecordingSink() as sink:
            _, report = _digest_send(config, db, sink.port)
            times = list(sink.accepted)
        if len(times) != report["sent"] or len(times) < 2:
            raise BenchError(f"sink saw {len(times)} messages, digest sent {report['sent']}")
        peaks.append(float(max_in_window(times)))
        averages.append((len(times) - 1) / (max(times) - min(times)))
    cmd = f"(rate = {rate:g} in digest.toml) DIGEST_SMTP_URL=smtp://127.0.0.1:PORT " + show(
        data.send_argv(Path("digest.toml"), Path("rate.db"))
    )
    worst = max(peaks)
    avg = median(averages)
    s = SECTION_RATE
    return [
        Figure(
            s,
            f"largest count in any one-second window ({messages:,} messages, worst run)",
            worst,
            "msgs",
            cmd,
            peaks,
            target=f"<= {rate:g}",
            met=worst <= rate,
            note="acceptance times recorded by a Python sink (bench/common.py)",
        ),
        Figure(
            s,
            "average rate, first to last acceptance",
            avg,
            "msg/s",
            cmd,
            averages,
            target=f"within 5% of {rate:g}",
            met=abs(avg - rate) <= 0.05 * rate,
        ),
    ]


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--subscribers", type=int, default=20_000)
    parser.add_argument("--rate-messages", type=int, default=2_000)
    parser.add_argument("--rate", type=float, default=200.0)
    parser.add_argument("--runs", type=int, default=3)
    args = parser.parse_args()
    for figure in [
        *throughput(args.subscribers, args.runs),
        *rate_accuracy(args.rate_messages, args.rate, args.runs),
    ]:
        print(f"{figure.name}: {figure.formatted()}  runs={[round(r, 2) for r in figure.runs]}")


if __name__ == "__main__":
    main()
