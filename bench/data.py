"""Generated benchmark data: databases, a subscriber CSV and an RSS feed.

Databases are built straight into a fresh file made by ``digest.store.open_db`` (so the schema
is the real one) with executemany: a million subscribers take seconds, not the minutes the
CLI would. Only the import benchmark goes through `digest subscribers import`, because that
is what it measures. Everything is seeded, so a cached file under bench/out/data/ is the
same file a fresh build would make; bump VERSION when the generator changes.
"""

from __future__ import annotations

import csv
import hashlib
import random
import shutil
import sqlite3
from collections.abc import Iterator
from datetime import UTC, datetime, timedelta
from email.utils import format_datetime
from pathlib import Path
from xml.sax.saxutils import escape

from bench.common import OUT, digest_argv
from digest.clock import to_db
from digest.store import open_db
from digest.store.categories import slugify

VERSION = 1
DATA = OUT / "data"
# Every edition is sent "as of" this moment, so cached databases never go stale.
AS_OF = datetime(2026, 11, 30, 8, 0, tzinfo=UTC)
AS_OF_TEXT = "2026-11-30T08:00:00Z"


def send_argv(config: Path, db: Path, *flags: str) -> list[str]:
    """`digest send --json` for the edition of AS_OF against ``db``, plus ``flags``."""
    return [
        *digest_argv(),
        "--config",
        str(config),
        "--db",
        str(db),
        "send",
        "--json",
        "--as-of",
        AS_OF_TEXT,
        *flags,
    ]


CATEGORIES = (
    "Opioid Drugs",
    "Consumer Safety",
    "Courts",
    "Product Liability",
    "Medical Malpractice",
    "Employment Law",
    "Environmental Law",
    "Securities Fraud",
    "Immigration",
    "Privacy",
)
# Readers pick categories with a Zipf-like skew: the first is ~3x as popular as the last.
CATEGORY_WEIGHTS = tuple(1 / (rank + 1) ** 0.5 for rank in range(len(CATEGORIES)))
# How many categories a reader follows: about 3 on average.
SUBSCRIPTION_COUNTS = {1: 0.12, 2: 0.25, 3: 0.30, 4: 0.21, 5: 0.12}
ARTICLES_PER_CATEGORY = 14  # in the look-back window; digests take the newest 5 of each

_WORDS = (
    "court",
    "federal",
    "ruling",
    "appeal",
    "settlement",
    "plaintiffs",
    "jury",
    "verdict",
    "regulator",
    "recall",
    "investigation",
    "hospital",
    "patients",
    "workers",
    "company",
    "judge",
    "lawsuit",
    "claims",
    "damages",
    "evidence",
    "testimony",
    "agency",
    "warning",
    "product",
    "safety",
    "defendants",
    "counsel",
    "hearing",
    "statute",
    "review",
    "county",
    "state",
    "prosecutors",
    "report",
    "audit",
    "contamination",
    "water",
    "emissions",
    "records",
    "privacy",
    "data",
    "breach",
    "consumers",
    "disclosure",
    "filing",
    "motion",
    "injunction",
    "class",
    "action",
    "liability",
)
_NAMES = (
    "Maria González",
    "Zoë Müller",
    "José Álvarez",
    "Jane Smith",
    "Li Wei",
    "Amara Okafor",
    "Søren Kierkegaard",
    "",
    "Priya Raman",
    "Marcus Hale",
)
_TIMEZONES = ("UTC", "Europe/London", "America/New_York", "Europe/Madrid", "Asia/Tokyo")


def _sentence(rng: random.Random, words: int) -> str:
    text = " ".join(rng.choice(_WORDS) for _ in range(words))
    return text[0].upper() + text[1:]


def _summary(rng: random.Random) -> str:
    # Long enough that render cuts it at SUMMARY_CHARS; curly quotes and accents make the
    # HTML non-ASCII, as real copy is, so the 7-bit conversion is exercised.
    parts = [_sentence(rng, rng.randint(10, 16)) + "." for _ in range(4)]
    parts[1] = f"“{parts[1][:-1]},” said the café’s counsel."
    return " ".join(parts)


def article_rows(
    rng: random.Random,
) -> tuple[list[tuple[object, ...]], list[tuple[str, int]]]:
    """(articles rows, (article id, category id) rows): ARTICLES_PER_CATEGORY recent ones per
    category, a fifth of them also in a second category, plus a few older than the window."""
    articles: list[tuple[object, ...]] = []
    links: list[tuple[str, int]] = []
    number = 0
    for category_id in range(1, len(CATEGORIES) + 1):
        for i in range(ARTICLES_PER_CATEGORY + 3):
            number += 1
            old = i >= ARTICLES_PER_CATEGORY  # outside the weekly look-back
            hours = rng.uniform(200, 400) if old else rng.uniform(1, 160)
            published = to_db(AS_OF - timedelta(hours=hours))
            article_id = hashlib.sha256(f"bench-{number}".encode()).hexdigest()[:16]
            title = _sentence(rng, rng.randint(9, 14))
            articles.append(
                (
                    article_id,
                    f"https://news.example.com/{slugify(CATEGORIES[category_id - 1])}/"
                    f"{slugify(title)}-{number}",
                    title,
                    _summary(rng),
                    "Jane Whitfield" if number % 2 else "Marcus Hale",
                    f"https://images.example.com/bench/{number}.jpg" if number % 2 else "",
                    "A photograph for the article" if number % 2 else "",
                    published,
                    published,
                    published,
                )
            )
            links.append((article_id, category_id))
            if number % 5 == 0:
                links.append((article_id, category_id % len(CATEGORIES) + 1))
    return articles, links


def _combinations(rng: random.Random, pool: int = 8192) -> list[tuple[int, ...]]:
    """A pool of category sets drawn with the skew above; subscribers pick from it, which
    keeps generating a million of them cheap and the distribution the same."""
    ids = list(range(1, len(CATEGORIES) + 1))
    sizes = list(SUBSCRIPTION_COUNTS)
    size_weights = list(SUBSCRIPTION_COUNTS.values())
    combos = []
    for _ in range(pool):
        size = rng.choices(sizes, size_weights)[0]
        remaining, weights, chosen = ids[:], list(CATEGORY_WEIGHTS), []
        for _ in range(size):
            pick = rng.choices(range(len(remaining)), weights)[0]
            chosen.append(remaining.pop(pick))
            weights.pop(pick)
        combos.append(tuple(chosen))
    return combos


def subscriber_records(count: int, seed: int = 1) -> Iterator[tuple[str, str, tuple[int, ...]]]:
    """(email, name, category ids in the reader's order) for ``count`` subscribers."""
    rng = random.Random(seed)
    combos = _combinations(rng)
    for i in range(1, count + 1):
        yield (
            f"reader{i}@mail{i % 97}.example.org",
            _NAMES[i % len(_NAMES)],
            combos[rng.randrange(len(combos))],
        )


def _build(path: Path, subscribers: int) -> None:
    tmp = path.with_suffix(".tmp")
    for stale in (tmp, Path(f"{tmp}-wal"), Path(f"{tmp}-shm")):
        stale.unlink(missing_ok=True)
    db = open_db(tmp)
    conn = db.conn
    conn.execute("PRAGMA synchronous = OFF")  # a throwaway build: durability not needed
    rng = random.Random(0)
    now = to_db(AS_OF - timedelta(days=30))
    conn.execute("BEGIN")
    conn.executemany(
        "INSERT INTO categories (id, slug, name, position) VALUES (?, ?, ?, ?)",
        [(i, slugify(name), name, i) for i, name in enumerate(CATEGORIES, 1)],
    )
    articles, links = article_rows(rng)
    conn.executemany(
        "INSERT INTO articles (id, url, title, summary, author, image_url, image_alt,"
        " published_at, imported_at, updated_at) VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?)",
        articles,
    )
    conn.executemany(
        "INSERT INTO article_categories (article_id, category_id) VALUES (?, ?)", links
    )
    batch_subs: list[tuple[object, ...]] = []
    batch_links: list[tuple[int, int, int]] = []
    for sid, (email, name, cats) in enumerate(subscriber_records(subscribers), 1):
        batch_subs.append(
            (
                sid,
                email,
                hashlib.sha256(email.encode()).hexdigest(),
                name,
                _TIMEZONES[sid % len(_TIMEZONES)],
                now,
                now,
            )
        )
        batch_links.extend((sid, c, pos) for pos, c in enumerate(cats))
        if len(batch_subs) >= 10_000:
            _flush(conn, batch_subs, batch_links)
    _flush(conn, batch_subs, batch_links)
    conn.execute("COMMIT")
    conn.execute("PRAGMA wal_checkpoint(TRUNCATE)")
    db.close()
    Path(f"{tmp}-wal").unlink(missing_ok=True)
    Path(f"{tmp}-shm").unlink(missing_ok=True)
    tmp.rename(path)


def _flush(
    conn: sqlite3.Connection,
    subs: list[tuple[object, ...]],
    links: list[tuple[int, int, int]],
) -> None:
    conn.executemany(
        "INSERT INTO subscribers (id, email, email_hash, name, status, frequency, timezone,"
        " created_at, confirmed_at, source) VALUES (?, ?, ?, ?, 'active', 'weekly', ?, ?, ?,"
        " 'bench')",
        subs,
    )
    conn.executemany(
        "INSERT INTO subscriptions (subscriber_id, category_id, position) VALUES (?, ?, ?)",
        links,
    )
    subs.clear()
    links.clear()


def database(subscribers: int) -> Path:
    """The cached database with ``subscribers`` active weekly readers (built if missing)."""
    DATA.mkdir(parents=True, exist_ok=True)
    path = DATA / f"subscribers-{subscribers}-v{VERSION}.db"
    if not path.exists():
        _build(path, subscribers)
    return path


def fresh_copy(source: Path, target: Path) -> Path:
    """A copy to send from: a send writes to its database, every run must start alike."""
    for suffix in ("", "-wal", "-shm"):
        Path(f"{target}{suffix}").unlink(missing_ok=True)
    shutil.copyfile(source, target)
    return target


def empty_database(target: Path) -> Path:
    """A database with the categories and nothing else: what an import starts from."""
    return fresh_copy(database(0), target)


def subscribers_csv(rows: int) -> Path:
    """A CSV in the shape `digest subscribers import` documents (cached)."""
    DATA.mkdir(parents=True, exist_ok=True)
    path = DATA / f"subscribers-{rows}-v{VERSION}.csv"
    if path.exists():
        return path
    tmp = path.with_suffix(".tmp")
    with tmp.open("w", encoding="utf-8", newline="") as handle:
        writer = csv.writer(handle, lineterminator="\n")
        writer.writerow(["email", "name", "categories", "frequency", "timezone"])
        for i, (email, name, cats) in enumerate(subscriber_records(rows, seed=2)):
            writer.writerow(
                [
                    email,
                    name,
                    ";".join(CATEGORIES[c - 1] for c in cats),
                    "weekly",
                    _TIMEZONES[i % len(_TIMEZONES)],
                ]
            )
    tmp.rename(path)
    return path


def rss_feed(entries: int) -> Path:
    """An RSS 2.0 file with ``entries`` items: HTML descriptions, one or two categories,
    authors and dates, as a news site's full-archive feed would have (cached)."""
    DATA.mkdir(parents=True, exist_ok=True)
    path = DATA / f"feed-{entries}-v{VERSION}.xml"
    if path.exists():
        return path
    rng = random.Random(3)
    items = []
    for n in range(entries):
        title = _sentence(rng, rng.randint(8, 14))
        published = AS_OF - timedelta(minutes=37 * n)
        cats = rng.sample(CATEGORIES, rng.choice((1, 1, 2)))
        body = "".join(f"<p>{escape(_summary(rng))}</p>" for _ in range(3))
        items.append(
            "<item>"
            f"<title>{escape(title)}</title>"
            f"<link>https://news.example.com/archive/{n}</link>"
            f'<guid isPermaLink="false">bench-feed-{n}</guid>'
            f"<pubDate>{format_datetime(published)}</pubDate>"
            f"<dc:creator>{escape(_NAMES[n % 7] or 'Staff')}</dc:creator>"
            + "".join(f"<category>{escape(c)}</category>" for c in cats)
            + f"<description>{escape(body)}</description>"
            "</item>\n"
        )
    path.write_text(
        '<?xml version="1.0" encoding="utf-8"?>\n'
        '<rss version="2.0" xmlns:dc="http://purl.org/dc/elements/1.1/"><channel>\n'
        "<title>Legal Reader</title><link>https://news.example.com/</link>"
        "<description>Everything</description>\n" + "".join(items) + "</channel></rss>\n",
        encoding="utf-8",
    )
    return path
