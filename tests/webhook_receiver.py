"""A real HTTP receiver for webhook tests: http.server on 127.0.0.1 in a thread. It records
every POST, can answer with an error status, and can hold a request (the sender then waits
for the answer) until the test releases it. Tests wait on its Condition, never on time."""

from __future__ import annotations

import threading
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

# A safety net for every wait: reaching it fails the test, it never makes one pass.
TIMEOUT = 30.0


@dataclass(frozen=True)
class Hit:
    headers: dict[str, str]
    body: bytes


@dataclass
class Receiver:
    port: int = 0
    status: int = 200
    hits: list[Hit] = field(default_factory=list)
    hold: bool = False
    released: threading.Event = field(default_factory=threading.Event)
    changed: threading.Condition = field(default_factory=threading.Condition)
    server: ThreadingHTTPServer | None = None

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self.port}/hook"

    def start(self) -> None:
        receiver = self

        class Handler(BaseHTTPRequestHandler):
            def do_POST(self) -> None:
                length = int(self.headers.get("Content-Length", "0"))
                body = self.rfile.read(length)
                with receiver.changed:
                    receiver.hits.append(Hit(dict(self.headers.items()), body))
                    receiver.changed.notify_all()
                if receiver.hold:
                    receiver.released.wait(TIMEOUT)
                self.send_response(receiver.status)
                self.send_header("Content-Length", "0")
                self.end_headers()

            def log_message(self, format: str, *args: object) -> None:
                pass

        self.server = ThreadingHTTPServer(("127.0.0.1", self.port), Handler)
        self.server.daemon_threads = True
        self.port = self.server.server_address[1]
        threading.Thread(target=self.server.serve_forever, daemon=True).start()

    def stop(self) -> None:
        """Down: connections are refused until start() again (on the same port)."""
        if self.server is not None:
            self.server.shutdown()
            self.server.server_close()
            self.server = None

    def wait_for_count(self, count: int) -> list[Hit]:
        with self.changed:
            if not self.changed.wait_for(lambda: len(self.hits) >= count, TIMEOUT):
                raise AssertionError(f"receiver got {len(self.hits)} requests, not {count}")
            return list(self.hits)


@contextmanager
def running_receiver() -> Iterator[Receiver]:
    receiver = Receiver()
    receiver.start()
    try:
        yield receiver
    finally:
        receiver.released.set()
        receiver.stop()
