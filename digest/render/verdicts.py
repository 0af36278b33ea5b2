"""The template check's verdict, remembered across processes.

The check (digest.render.checks) renders a matrix of contexts, about half a second, and every
render path runs it before its first message. Its verdict depends only on what it reads: the
template files, the catalogs, the settings, the code that renders and judges, and the
libraries it renders with. :func:`fingerprint` hashes all of them; a passed verdict is
recorded under that hash in a small file next to the database (:class:`Verdicts`), so the
next process with the same inputs skips the check, and a change of one byte anywhere checks
again (docs/performance.md, Rendering).

Only passes are recorded: a failing template is checked, and refused, every time.
"""

from __future__ import annotations

import dataclasses
import hashlib
import os
import tempfile
from pathlib import Path
from types import ModuleType

import jinja2
import markupsafe
import mjml
import nh3

import digest
from digest.config import Settings, templates_dirs

PACKAGE = Path(digest.__file__).resolve().parent
# The code the verdict depends on: the renderer and the check (render/), the message bytes
# it audits (mime/), the links in it, and the catalogs it translates with.
_SOURCES = ("render", "mime", "links.py", "tokens.py", "locale")
_LIBRARIES: tuple[ModuleType, ...] = (jinja2, markupsafe, mjml, nh3)
KEEP = 8  # verdicts kept in the file: one per template set and settings in use


def fingerprint(settings: Settings) -> str:
    """A hash of everything the template check's verdict depends on (hex sha256)."""
    h = hashlib.sha256()
    h.update(f"digest {digest.__version__}\0".encode())
    # The secret only signs the sample links; leaving it out keeps it out of the file. Where
    # the settings and the database were found changes nothing the check sees.
    relevant = dataclasses.replace(settings, secret_key="", db_path="", config_path="")
    h.update(repr(relevant).encode())
    for index, folder in enumerate(templates_dirs(settings)):
        h.update(f"\0dir {index} {folder.resolve()}\0".encode())
        if folder.is_dir():
            for path in sorted(folder.glob("*.j2")):
                _add_file(h, path)
    for name in _SOURCES:
        source = PACKAGE / name
        paths = sorted(source.rglob("*.p[yo]")) if source.is_dir() else [source]
        for path in paths:
            _add_file(h, path)
    for module in _LIBRARIES:
        # An upgrade rewrites the library's files: their size and time are enough here.
        path = Path(module.__file__ or module.__name__)
        stat = path.stat()
        h.update(f"\0{path} {stat.st_size} {stat.st_mtime_ns}".encode())
    return h.hexdigest()


def _add_file(h: hashlib._Hash, path: Path) -> None:
    data = path.read_bytes()
    h.update(f"\0{path.name} {len(data)}\0".encode())
    h.update(data)


@dataclasses.dataclass(frozen=True)
class Verdicts:
    """Fingerprints of template sets that passed the check, one a line in ``path``.

    A missing, unreadable or unwritable file only means the check runs: it is a cache, never
    a reason to fail."""

    path: Path | None

    @classmethod
    def beside(cls, db_path: str) -> Verdicts:
        """The file next to the database ``db_path``; none for an in-memory database."""
        if not db_path or db_path == ":memory:" or db_path.startswith("file:"):
            return cls(None)
        return cls(Path(f"{db_path}.template-check"))

    def _read(self) -> list[str]:
        if self.path is None:
            return []
        try:
            return self.path.read_text(encoding="ascii").split()
        except (OSError, UnicodeError):
            return []

    def passed(self, key: str) -> bool:
        return key in self._read()

    def record(self, key: str) -> None:
        """Add ``key``, keeping the newest :data:`KEEP`. The file is replaced whole, so a
        reader never sees half of it."""
        if self.path is None:
            return
        older = [k for k in self._read() if k != key][-(KEEP - 1) :]
        try:
            fd, tmp = tempfile.mkstemp(dir=self.path.parent, prefix=f".{self.path.name}.")
        except OSError:
            return
        try:
            with os.fdopen(fd, "w", encoding="ascii") as f:
                f.write("".join(f"{k}\n" for k in (*older, key)))
            os.replace(tmp, self.path)
        except OSError:
            Path(tmp).unlink(missing_ok=True)
