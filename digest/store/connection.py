"""Opening the database: WAL, foreign keys, a busy timeout, migrations on every open."""

from __future__ import annotations

import contextlib
import sqlite3
import threading
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

import sqlite_utils

from digest.errors import StoreError
from digest.store.migrations import migrations

BUSY_TIMEOUT_S = 10.0


class Store:
    """The database file, with one connection per thread: the web server's request threads,
    the send loop's sender threads and the scheduler's jobs each get their own (a sqlite3
    connection must stay on the thread that made it), opened on first use.

    The application core holds one Store and passes ``store.db`` to the query functions in
    this package; nothing else touches the database."""

    def __init__(
        self, path: str | Path, *, create: bool = True, busy_timeout: float = BUSY_TIMEOUT_S
    ) -> None:
        self.path = str(path)
        self.create = create
        self.busy_timeout = busy_timeout
        self._local = threading.local()

    @classmethod
    def adopt(cls, db: sqlite_utils.Database) -> Store:
        """A Store whose connection on this thread is ``db`` (tests and benchmarks that
        built the database themselves); other threads open their own."""
        store = cls(db_path(db))
        store._local.db = db
        return store

    @property
    def db(self) -> sqlite_utils.Database:
        db: sqlite_utils.Database | None = getattr(self._local, "db", None)
        if db is None:
            db = open_db(self.path, create=self.create, busy_timeout=self.busy_timeout)
            self._local.db = db
        return db

    def transaction(self) -> contextlib.AbstractContextManager[sqlite_utils.Database]:
        return transaction(self.db)

    def close(self) -> None:
        """Close this thread's connection (a sender thread, a request, the CLI at exit)."""
        db = getattr(self._local, "db", None)
        if db is not None:
            self._local.db = None
            db.close()


def open_db(
    path: str | Path, *, create: bool = True, busy_timeout: float = BUSY_TIMEOUT_S
) -> sqlite_utils.Database:
    """Open the database at ``path`` ready for use by several processes at once. With
    ``create=False`` (every command but `digest init`, the web pages, the scheduler) a file
    that does not exist, is empty or holds no digest schema is refused and left as it is,
    so a mistyped path or a folder without `digest init` never gets a new empty database."""
    path = Path(path)
    if path.exists() and path.is_dir():
        raise StoreError(f"{path}: is a directory, not a database file")
    if not create and (not path.exists() or path.stat().st_size == 0):
        what = "no database" if not path.exists() else "the database file is empty"
        raise StoreError(f"{path}: {what} (run `digest init` to create one, or pass --db)")
    try:
        # isolation_level=None: we manage transactions explicitly (BEGIN IMMEDIATE), so a
        # delivery can be committed the moment the relay accepts it. mode=rw never creates.
        target = f"{path.resolve().as_uri()}?mode={'rwc' if create else 'rw'}"
        conn = sqlite3.connect(target, timeout=busy_timeout, isolation_level=None, uri=True)
        if not create and not _has_schema(conn):
            conn.close()
            raise StoreError(
                f"{path}: not a digest database (no schema; run `digest init` to create one, "
                "or pass --db)"
            )
        conn.execute(f"PRAGMA busy_timeout = {int(busy_timeout * 1000)}")
        conn.execute("PRAGMA journal_mode = WAL")
        conn.execute("PRAGMA synchronous = NORMAL")
        conn.execute("PRAGMA foreign_keys = ON")
        db = sqlite_utils.Database(conn)
        migrations.apply(db)
    except sqlite3.DatabaseError as e:
        raise _store_error(path, e) from e
    except OSError as e:
        raise StoreError(f"{path}: cannot open database: {e}") from e
    return db


def _has_schema(conn: sqlite3.Connection) -> bool:
    """True when the file holds the migrations table digest's schema starts with."""
    row = conn.execute(
        "SELECT 1 FROM sqlite_master WHERE type = 'table' AND name = ?",
        [migrations.migrations_table],
    ).fetchone()
    return row is not None


SQLITE_IOERR = 10
SQLITE_FULL = 13


def _disk_trouble(e: sqlite3.DatabaseError) -> bool:
    """SQLITE_FULL or SQLITE_IOERR (with any extended code)."""
    code = getattr(e, "sqlite_errorcode", None)
    return isinstance(code, int) and code & 0xFF in (SQLITE_FULL, SQLITE_IOERR)


def _store_error(path: Path, e: sqlite3.DatabaseError) -> StoreError:
    text = str(e)
    code = getattr(e, "sqlite_errorcode", None)
    if isinstance(code, int) and code & 0xFF == SQLITE_FULL:
        return StoreError(
            f"{path}: the disk or the database is full; nothing of this change was written "
            "(free some space and try again)"
        )
    if isinstance(code, int) and code & 0xFF == SQLITE_IOERR:
        return StoreError(f"{path}: disk I/O error ({text}); nothing of this change was written")
    if "file is not a database" in text or "malformed" in text:
        return StoreError(f"{path}: not a SQLite database ({text})")
    if "locked" in text or "busy" in text:
        return StoreError(f"{path}: database is locked by another process")
    if "unable to open" in text:
        return StoreError(f"{path}: cannot open database (is the folder writable?)")
    return StoreError(f"{path}: database error: {text}")


@contextmanager
def transaction(db: sqlite_utils.Database) -> Iterator[sqlite_utils.Database]:
    """BEGIN IMMEDIATE ... COMMIT, rolled back on any exception. Immediate so that a writer
    waits for the lock up front instead of failing halfway through."""
    conn = db.conn
    if conn.in_transaction:  # nested: a savepoint inside the caller's transaction
        with db.atomic():
            yield db
        return
    try:
        conn.execute("BEGIN IMMEDIATE")
    except sqlite3.OperationalError as e:
        raise _store_error(Path(db_path(db)), e) from e
    try:
        yield db
        conn.execute("COMMIT")
    except BaseException as e:
        # On a full disk or an I/O error SQLite may already have rolled the transaction
        # back itself; a second ROLLBACK would then fail with "cannot rollback - no
        # transaction is active" and hide the real error.
        if conn.in_transaction:
            with contextlib.suppress(sqlite3.Error):
                conn.execute("ROLLBACK")
        if isinstance(e, sqlite3.DatabaseError) and _disk_trouble(e):
            raise _store_error(Path(db_path(db)), e) from e
        raise


def named(db: sqlite_utils.Database, sql: str, params: object = ()) -> sqlite3.Cursor:
    """Run ``sql`` with rows readable by column name (``row["email"]``): typed rows are
    built by name, never by position."""
    cursor = db.conn.cursor()
    cursor.row_factory = sqlite3.Row
    return cursor.execute(sql, params)  # type: ignore[arg-type]


def db_path(db: sqlite_utils.Database) -> str:
    row = db.execute("PRAGMA database_list").fetchone()
    return str(row[2]) if row else ""
