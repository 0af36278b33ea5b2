"""digest.ingest.fetch: feed URLs against a real local HTTP server, with their time and size
limits, and local files, which must be regular files."""

from __future__ import annotations

import contextlib
import http.server
import os
import threading
import time
from collections.abc import Iterator
from datetime import UTC, datetime
from pathlib import Path
from typing import Any, ClassVar

import pytest

from digest.errors import InputError
from digest.ingest import fetch, load_source
from digest.models import Article

FIXTURES = Path(__file__).parent / "fixtures" / "articles"
NOW = datetime(2026, 11, 28, 8, 0, tzinfo=UTC)
TRICKLE_INTERVAL = 0.05  # seconds between bytes: far inside any per-read timeout


class Handler(http.server.SimpleHTTPRequestHandler):
    """The fixture files, plus hostile answers:

    /trickle-body      a 1000-byte body, one byte per TRICKLE_INTERVAL (50 s in all)
    /trickle-headers   a status line, then a header line trickled the same way
    /bytes/N           N bytes with a Content-Length; /bytes/N?undeclared without one
    """

    stop: ClassVar[threading.Event]

    def __init__(self, *args: Any, **kwargs: Any) -> None:
        super().__init__(*args, directory=str(FIXTURES), **kwargs)

    def log_message(self, format: str, *args: Any) -> None:
        pass

    def do_GET(self) -> None:
        path, _, query = self.path.partition("?")
        if path == "/trickle-body":
            self.send_response(200)
            self.send_header("Content-Type", "application/rss+xml")
            self.send_header("Content-Length", "1000")
            self.end_headers()
            self.trickle(b" " * 1000)
        elif path == "/trickle-headers":
            self.wfile.write(b"HTTP/1.0 200 OK\r\n")
            self.trickle(b"X-Slow: " + b"a" * 1000 + b"\r\n\r\n")
        elif path.startswith("/bytes/"):
            size = int(path.removeprefix("/bytes/"))
            self.send_response(200)
            if query != "undeclared":
                self.send_header("Content-Length", str(size))
            self.end_headers()
            # The client may hang up as soon as it sees the Content-Length.
            with contextlib.suppress(ConnectionError):
                self.wfile.write(b"x" * size)
        else:
            super().do_GET()

    def trickle(self, data: bytes) -> None:
        """Stops when the client hangs up or the test ends, so no thread outlives the test."""
        for byte in data:
            if self.stop.wait(TRICKLE_INTERVAL):
                return
            try:
                self.wfile.write(bytes([byte]))
            except OSError:
                return


class Server(http.server.ThreadingHTTPServer):
    daemon_threads = False  # server_close() joins every handler: a stuck one fails the test


@pytest.fixture
def server() -> Iterator[str]:
    stop = threading.Event()
    handler = type("StoppableHandler", (Handler,), {"stop": stop})
    httpd = Server(("127.0.0.1", 0), handler)
    thread = threading.Thread(target=httpd.serve_forever, args=(0.01,), daemon=True)
    thread.start()
    yield f"http://127.0.0.1:{httpd.server_address[1]}"
    stop.set()
    httpd.shutdown()
    httpd.server_close()
    thread.join()


def load(name: str) -> list[Article]:
    return load_source(str(FIXTURES / name), now=NOW)


# -- feed URLs ------------------------------------------------------------------------------


def test_feed_url(server: str) -> None:
    articles = load_source(f"{server}/rss2.xml", now=NOW)
    assert [a.id for a in articles] == [a.id for a in load("rss2.xml")]
    assert [a.title for a in load_source(f"{server}/jsonfeed.json", now=NOW)] == [
        "Appeals court revives venue challenge in mass tort",
        "Judge rewrites jury instructions after objection",
    ]


def test_feed_url_errors(server: str) -> None:
    with pytest.raises(InputError) as info:
        load_source(f"{server}/nothing.xml", now=NOW)
    assert str(info.value) == f"{server}/nothing.xml: cannot fetch (HTTP 404)"
    with pytest.raises(InputError, match=r"^http://127\.0\.0\.1:1/feed: cannot fetch \("):
        load_source("http://127.0.0.1:1/feed", now=NOW, timeout=5)


@pytest.mark.parametrize("path", ["/trickle-body", "/trickle-headers"])
def test_a_trickling_server_is_cut_off_at_the_whole_fetch_deadline(server: str, path: str) -> None:
    # Every byte arrives well within the 5 s read timeout; only the deadline can end this.
    url = server + path
    started = time.monotonic()
    with pytest.raises(InputError) as info:
        load_source(url, now=NOW, timeout=5, deadline=0.5)
    assert str(info.value) == f"{url}: cannot fetch (not complete within 0.5 s)"
    assert time.monotonic() - started < 5


def test_a_fetch_within_the_deadline_is_untouched(server: str) -> None:
    data, content_type = fetch(f"{server}/bytes/100", deadline=5)
    assert data == b"x" * 100
    assert content_type == ""


@pytest.mark.parametrize("query", ["", "?undeclared"])
def test_a_response_over_the_size_limit_is_refused(server: str, query: str) -> None:
    url = f"{server}/bytes/1025{query}"
    with pytest.raises(InputError) as info:
        fetch(url, max_bytes=1024)
    assert str(info.value) == f"{url}: cannot fetch (larger than 1024 bytes)"
    assert fetch(f"{server}/bytes/1024{query}", max_bytes=1024)[0] == b"x" * 1024


def test_the_size_limit_is_named_in_megabytes(server: str) -> None:
    url = f"{server}/bytes/{2**20 + 1}"
    with pytest.raises(InputError) as info:
        fetch(url, max_bytes=2**20)
    assert str(info.value) == f"{url}: cannot fetch (larger than 1 MB)"


# -- local files ----------------------------------------------------------------------------


def test_missing_file() -> None:
    with pytest.raises(InputError) as info:
        load("missing.xml")
    assert str(info.value) == f"{FIXTURES}/missing.xml: file not found"


def test_a_fifo_is_refused_without_waiting_for_a_writer(tmp_path: Path) -> None:
    fifo = tmp_path / "feed.xml"
    os.mkfifo(fifo)
    errors: list[BaseException] = []
    done = threading.Event()

    def read() -> None:
        try:
            load_source(str(fifo), now=NOW)
        except BaseException as e:
            errors.append(e)
        finally:
            done.set()

    thread = threading.Thread(target=read, daemon=True)
    thread.start()
    if not done.wait(10):
        # Blocked waiting for a writer: be one, so the test fails instead of hanging.
        os.close(os.open(fifo, os.O_WRONLY | os.O_NONBLOCK))
        thread.join(10)
        pytest.fail("load_source blocked on a FIFO")
    [error] = errors
    assert isinstance(error, InputError)
    assert str(error) == f"{fifo}: not a regular file"


@pytest.mark.parametrize("kind", ["directory", "device"])
def test_only_regular_files_are_read(tmp_path: Path, kind: str) -> None:
    source = str(tmp_path) if kind == "directory" else os.devnull
    with pytest.raises(InputError) as info:
        load_source(source, now=NOW)
    assert str(info.value) == f"{source}: not a regular file"


@pytest.mark.skipif(not os.path.exists("/proc/self/mem"), reason="needs Linux /proc")
def test_an_io_error_while_reading_names_the_file() -> None:
    # A regular file whose first page is never mapped: reading it fails with EIO.
    with pytest.raises(InputError) as info:
        load_source("/proc/self/mem", now=NOW)
    assert str(info.value) == "/proc/self/mem: cannot read (Input/output error)"
