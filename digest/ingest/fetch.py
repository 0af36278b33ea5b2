"""The bytes of a source: an http(s) GET within time and size limits, or a local file.

The socket timeout bounds each read only, so a server trickling a byte at a time could hold a
fetch open for ever; a whole-fetch deadline (connections, TLS, headers, redirects and body)
ends it. Local sources must be regular files: opening a FIFO waits for a writer, and a device
may never end.
"""

from __future__ import annotations

import contextlib
import http.client
import socket
import threading
import urllib.error
import urllib.request
from functools import partial
from typing import Any

from digest import __version__
from digest.errors import InputError
from digest.files import read_regular

FETCH_TIMEOUT = 30.0  # seconds, for each read of the socket
FETCH_DEADLINE = 60.0  # seconds, for the whole fetch
MAX_FEED_BYTES = 20 * 1024 * 1024
USER_AGENT = f"digest/{__version__}"


def fetch(
    url: str,
    *,
    timeout: float = FETCH_TIMEOUT,
    deadline: float = FETCH_DEADLINE,
    max_bytes: int = MAX_FEED_BYTES,
) -> tuple[bytes, str]:
    """GET ``url``; returns the body and its Content-Type. Fetched here rather than by
    feedparser so that the limits apply and HTTP errors become one-line InputErrors."""
    with _Deadline(deadline) as watch:
        try:
            data, content_type = _get(url, watch, timeout=timeout, max_bytes=max_bytes)
        except (OSError, http.client.HTTPException) as e:
            if watch.expired:  # the error is only the watchdog closing the connection
                raise _too_slow(url, deadline) from e
            raise _fetch_error(url, e, timeout=timeout) from e
        if watch.expired:  # a cut-off body can look complete
            raise _too_slow(url, deadline)
    return data, content_type.lower()


def _get(url: str, watch: _Deadline, *, timeout: float, max_bytes: int) -> tuple[bytes, str]:
    request = urllib.request.Request(url, headers={"User-Agent": USER_AGENT})
    with watch.opener().open(request, timeout=timeout) as response:
        declared = str(response.headers.get("Content-Length", "")).strip()
        if declared.isdigit() and int(declared) > max_bytes:
            raise _too_large(url, max_bytes)
        data: bytes = response.read(max_bytes + 1)
        content_type = str(response.headers.get("Content-Type", ""))
    if len(data) > max_bytes:
        raise _too_large(url, max_bytes)
    return data, content_type


def _fetch_error(url: str, error: Exception, *, timeout: float) -> InputError:
    if isinstance(error, urllib.error.HTTPError):
        return InputError(f"{url}: cannot fetch (HTTP {error.code})")
    if isinstance(error, urllib.error.URLError):
        return InputError(f"{url}: cannot fetch ({error.reason})")
    if isinstance(error, TimeoutError):
        return InputError(f"{url}: cannot fetch (no answer within {timeout:g} s)")
    if isinstance(error, http.client.HTTPException):
        # Some carry the raw status line, line ending included.
        detail = " ".join(str(error).split()) or type(error).__name__
        return InputError(f"{url}: cannot fetch (invalid HTTP response: {detail})")
    return InputError(f"{url}: cannot fetch ({error})")


def _too_slow(url: str, deadline: float) -> InputError:
    return InputError(f"{url}: cannot fetch (not complete within {deadline:g} s)")


def _too_large(url: str, max_bytes: int) -> InputError:
    size = f"{max_bytes // 2**20} MB" if max_bytes % 2**20 == 0 else f"{max_bytes} bytes"
    return InputError(f"{url}: cannot fetch (larger than {size})")


# -- the whole-fetch deadline ---------------------------------------------------------------


class _Deadline:
    """Shuts down every connection a fetch opened once ``seconds`` have passed, which wakes
    a read blocked on a slow server; the fetch then reports the deadline."""

    def __init__(self, seconds: float) -> None:
        self.expired = False
        self._lock = threading.Lock()
        self._sockets: list[socket.socket] = []
        self._timer = threading.Timer(seconds, self._expire)
        self._timer.daemon = True

    def __enter__(self) -> _Deadline:
        self._timer.start()
        return self

    def __exit__(self, *exc_info: object) -> None:
        self._timer.cancel()
        self._timer.join()
        with self._lock:
            for sock in self._sockets:
                sock.close()
            self._sockets.clear()

    def opener(self) -> urllib.request.OpenerDirector:
        return urllib.request.build_opener(_HTTPHandler(self), _HTTPSHandler(self))

    def create_connection(self, *args: Any, **kwargs: Any) -> socket.socket:
        """socket.create_connection, watched until the fetch ends."""
        sock = socket.create_connection(*args, **kwargs)
        # Watch a duplicate: TLS detaches the original, and shutting down either descriptor
        # ends the one connection.
        watched = sock.dup()
        with self._lock:
            self._sockets.append(watched)
            if self.expired:
                _shut_down(watched)
        return sock

    def _expire(self) -> None:
        with self._lock:
            self.expired = True
            for sock in self._sockets:
                _shut_down(sock)


def _shut_down(sock: socket.socket) -> None:
    with contextlib.suppress(OSError):  # already closed by the other side
        sock.shutdown(socket.SHUT_RDWR)


class _HTTPConnection(http.client.HTTPConnection):
    def __init__(self, host: str, *, deadline: _Deadline, **kwargs: Any) -> None:
        super().__init__(host, **kwargs)
        # http.client's hook for how its socket is made (its tests replace it too)
        self._create_connection = deadline.create_connection


class _HTTPSConnection(http.client.HTTPSConnection):
    def __init__(self, host: str, *, deadline: _Deadline, **kwargs: Any) -> None:
        super().__init__(host, **kwargs)
        self._create_connection = deadline.create_connection


class _HTTPHandler(urllib.request.HTTPHandler):
    def __init__(self, deadline: _Deadline) -> None:
        super().__init__()
        self._deadline = deadline

    def http_open(self, req: urllib.request.Request) -> http.client.HTTPResponse:
        return self.do_open(partial(_HTTPConnection, deadline=self._deadline), req)


class _HTTPSHandler(urllib.request.HTTPSHandler):
    def __init__(self, deadline: _Deadline) -> None:
        super().__init__()
        self._deadline = deadline

    def https_open(self, req: urllib.request.Request) -> http.client.HTTPResponse:
        return self.do_open(partial(_HTTPSConnection, deadline=self._deadline), req)


# -- local files ----------------------------------------------------------------------------


def read_file(source: str) -> bytes:
    """The bytes of the regular file at ``source``."""
    return read_regular(source)
