"""Opening the local files a user names (articles, subscribers CSV, bounce messages).

Only regular files are read: opening a FIFO waits for a writer for ever, a device may never
end, and a directory is not the file that was meant. Every failure is one
:class:`~digest.errors.InputError` naming the path.
"""

from __future__ import annotations

import os
import stat
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import BinaryIO

from digest.errors import InputError


@contextmanager
def open_regular(path: str | Path) -> Iterator[BinaryIO]:
    """The regular file at ``path``, open for binary reading."""
    try:
        # Non-blocking: a FIFO opens at once instead of waiting for a writer.
        fd = os.open(path, os.O_RDONLY | os.O_NONBLOCK)
    except FileNotFoundError:
        raise InputError(f"{path}: file not found") from None
    except OSError as e:
        raise read_error(path, e) from e
    try:
        # fstat of the open file, not stat of the name: the name may change in between.
        if not stat.S_ISREG(os.fstat(fd).st_mode):
            raise InputError(f"{path}: not a regular file")
        handle = open(fd, "rb", closefd=False)  # noqa: SIM115 (closed below)
    except BaseException:
        os.close(fd)
        raise
    try:
        yield handle
    finally:
        handle.close()
        os.close(fd)


def read_regular(path: str | Path) -> bytes:
    """The bytes of the regular file at ``path``."""
    with open_regular(path) as handle:
        try:
            return handle.read()
        except OSError as e:
            raise read_error(path, e) from e


def read_error(path: str | Path, error: OSError) -> InputError:
    return InputError(f"{path}: cannot read ({error.strerror or error})")
