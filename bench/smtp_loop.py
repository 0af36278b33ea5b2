"""Baseline (a) for the send benchmark: the simplest sender Python allows. Prebuilt messages,
one smtplib connection, ``sendmail`` in a loop. Prints JSON with the time the loop took
(connection open to QUIT), so the caller can compare like with like.

The messages are real digest messages (.eml files from `digest send --dry-run --output`),
picked near the edition's median size: smtplib's cost depends on the line structure as well
as the size (its end-of-line and dot-stuffing regexes), so a synthetic body would flatter or
penalise it.

python -m bench.smtp_loop --port 2525 --count 20000 --eml bench/out/send/eml
"""

from __future__ import annotations

import argparse
import json
import smtplib
import time
from pathlib import Path

FROM = "digest@news.example.com"


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--port", type=int, required=True)
    parser.add_argument("--count", type=int, required=True)
    parser.add_argument("--eml", type=Path, required=True, help="folder of .eml files to send")
    args = parser.parse_args()
    # Read before the clock starts: only sending is timed.
    messages = [p.read_bytes() for p in sorted(args.eml.glob("*.eml"))]
    if not messages:
        raise SystemExit(f"{args.eml}: no .eml files")
    started = time.perf_counter()
    conn = smtplib.SMTP("127.0.0.1", args.port)
    conn.ehlo()
    for n in range(args.count):
        conn.sendmail(FROM, [f"reader{n}@example.org"], messages[n % len(messages)])
    conn.quit()
    elapsed = time.perf_counter() - started
    size = sum(len(m) for m in messages) / len(messages)
    print(json.dumps({"sent": args.count, "elapsed": elapsed, "mean_size": size}))


if __name__ == "__main__":
    main()
