"""Categories: names are unique case-insensitively; slugs are derived from names."""

from __future__ import annotations

import re
import unicodedata

import sqlite_utils

from digest.errors import NotFoundError
from digest.models import Category


def slugify(name: str) -> str:
    text = unicodedata.normalize("NFKD", name).encode("ascii", "ignore").decode()
    return re.sub(r"[^a-z0-9]+", "-", text.lower()).strip("-") or "category"


def ensure_category(db: sqlite_utils.Database, name: str, description: str = "") -> int:
    """The id of the category called ``name`` (any case), creating it if new."""
    name = " ".join(name.split())
    row = db.execute(
        "SELECT id FROM categories WHERE name = ? OR slug = ?", [name, slugify(name)]
    ).fetchone()
    if row:
        if description:
            db.execute(
                "UPDATE categories SET description = ? WHERE id = ? AND description = ''",
                [description, row[0]],
            )
        return int(row[0])
    position = db.execute("SELECT COALESCE(MAX(position), 0) + 1 FROM categories").fetchone()[0]
    cursor = db.execute(
        "INSERT INTO categories (slug, name, description, position) VALUES (?, ?, ?, ?)",
        [slugify(name), name, description, position],
    )
    return int(cursor.lastrowid or 0)


def find_category(db: sqlite_utils.Database, name_or_slug: str) -> Category | None:
    value = " ".join(name_or_slug.split())
    row = db.execute(
        "SELECT id, slug, name, description FROM categories WHERE name = ? OR slug = ?",
        [value, value.lower()],
    ).fetchone()
    return Category(id=row[0], slug=row[1], name=row[2], description=row[3]) if row else None


def resolve_categories(
    db: sqlite_utils.Database, names: list[str] | tuple[str, ...]
) -> list[Category]:
    """Look up each name or slug (case-insensitive); an unknown one is an error that lists
    the known categories."""
    found: list[Category] = []
    for name in names:
        category = find_category(db, name)
        if category is None:
            known = ", ".join(c.name for c in list_categories(db)) or "none yet"
            raise NotFoundError(f"unknown category {name!r} (known: {known})")
        if category not in found:
            found.append(category)
    return found


def list_categories(db: sqlite_utils.Database) -> list[Category]:
    """Every category in the site's order, with article and active-subscriber counts."""
    rows = db.execute(
        """
        SELECT c.id, c.slug, c.name, c.description,
            (SELECT COUNT(*) FROM article_categories ac WHERE ac.category_id = c.id),
            (SELECT COUNT(*) FROM subscriptions s JOIN subscribers u ON u.id = s.subscriber_id
              WHERE s.category_id = c.id AND u.status = 'active')
        FROM categories c ORDER BY c.position, c.name
        """
    ).fetchall()
    return [
        Category(
            id=r[0],
            slug=r[1],
            name=r[2],
            description=r[3],
            article_count=r[4],
            subscriber_count=r[5],
        )
        for r in rows
    ]
