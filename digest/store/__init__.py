"""The store: the only package with SQL in it.

``open_db(path)`` opens a SQLite file (creating it only with ``create=True``, as `digest init`
does), applies pending migrations and returns a :class:`sqlite_utils.Database`. Query
functions live in the submodules and take that database as their first argument.
"""

from __future__ import annotations

from digest.store.connection import Store, open_db, transaction

__all__ = ["Store", "open_db", "transaction"]
