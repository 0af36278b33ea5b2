"""A real `digest serve` for the browser and end-to-end tests.

Started as a subprocess and ready once it prints its "Serving ... on <base>/" line: the
socket listens by then, so a request is queued, never refused, and no test waits on a
timer. On the way out the server is stopped and its log printed, which pytest shows when a
test fails.
"""

from __future__ import annotations

import queue
import subprocess
import threading
from collections.abc import Iterator, Mapping, Sequence
from contextlib import contextmanager

TIMEOUT = 30.0  # a safety net: reaching it fails the test


@contextmanager
def digest_serve(
    command: Sequence[str], env: Mapping[str, str], base: str, timeout: float = TIMEOUT
) -> Iterator[None]:
    """Run ``command`` (a `digest ... serve`) until the block ends; ready on entry."""
    process = subprocess.Popen(
        list(command), env=dict(env), stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True
    )
    lines: queue.Queue[str | None] = queue.Queue()
    output: list[str] = []

    def read() -> None:
        assert process.stdout is not None
        for line in process.stdout:
            output.append(line)
            lines.put(line)
        lines.put(None)

    reader = threading.Thread(target=read, daemon=True)
    reader.start()
    try:
        while True:
            line = lines.get(timeout=timeout)  # a safety net, never the way in
            if line is None:
                process.wait(timeout)
                raise AssertionError(
                    f"digest serve exited with {process.returncode}:\n{''.join(output)}"
                )
            if line.startswith(f"Serving Legal Reader on {base}/"):
                break
        yield
    finally:
        process.terminate()
        try:
            process.wait(timeout)
        except subprocess.TimeoutExpired:
            process.kill()
            process.wait()
        reader.join(timeout)
        print("".join(output))
