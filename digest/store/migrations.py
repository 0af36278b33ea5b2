"""Append-only schema migrations, applied on every open. Never edit a released migration:
add a new function below the last one."""

from __future__ import annotations

import sqlite_utils
from sqlite_utils.migrations import Migrations

migrations = Migrations("digest")


@migrations()
def m001_initial(db: sqlite_utils.Database) -> None:
    db.executescript(
        """
        CREATE TABLE categories (
            id INTEGER PRIMARY KEY,
            slug TEXT NOT NULL UNIQUE,
            name TEXT NOT NULL UNIQUE COLLATE NOCASE,
            description TEXT NOT NULL DEFAULT '',
            position INTEGER NOT NULL DEFAULT 0
        );
        CREATE TABLE articles (
            id TEXT PRIMARY KEY,             -- stable: from GUID, else URL, else content hash
            guid TEXT NOT NULL DEFAULT '',
            url TEXT NOT NULL,
            title TEXT NOT NULL,
            summary TEXT NOT NULL DEFAULT '',
            body_html TEXT NOT NULL DEFAULT '',  -- sanitised with nh3
            author TEXT NOT NULL DEFAULT '',
            image_url TEXT NOT NULL DEFAULT '',
            image_alt TEXT NOT NULL DEFAULT '',
            published_at TEXT NOT NULL,      -- UTC, YYYY-MM-DDTHH:MM:SSZ
            imported_at TEXT NOT NULL,
            updated_at TEXT NOT NULL,
            content_hash TEXT NOT NULL DEFAULT '',
            source TEXT NOT NULL DEFAULT ''
        );
        CREATE INDEX articles_published ON articles (published_at);
        CREATE TABLE article_categories (
            article_id TEXT NOT NULL REFERENCES articles (id) ON DELETE CASCADE,
            category_id INTEGER NOT NULL REFERENCES categories (id) ON DELETE CASCADE,
            PRIMARY KEY (article_id, category_id)
        ) WITHOUT ROWID;
        CREATE INDEX article_categories_category ON article_categories (category_id, article_id);
        CREATE TABLE subscribers (
            id INTEGER PRIMARY KEY,
            email TEXT UNIQUE COLLATE NOCASE,  -- NULL once forgotten
            email_hash TEXT NOT NULL UNIQUE,   -- sha256 of the lower-cased address; kept forever
            name TEXT NOT NULL DEFAULT '',
            status TEXT NOT NULL DEFAULT 'active' CHECK (status IN
                ('pending', 'active', 'unsubscribed', 'bounced', 'complained', 'forgotten')),
            frequency TEXT NOT NULL DEFAULT 'weekly' CHECK (frequency IN ('weekly', 'daily')),
            timezone TEXT NOT NULL DEFAULT 'UTC',
            created_at TEXT NOT NULL,
            confirmed_at TEXT,
            unsubscribed_at TEXT,
            source TEXT NOT NULL DEFAULT '',
            consent_ip TEXT NOT NULL DEFAULT ''
        );
        CREATE INDEX subscribers_status ON subscribers (status, frequency, id);
        CREATE TABLE subscriptions (
            subscriber_id INTEGER NOT NULL REFERENCES subscribers (id) ON DELETE CASCADE,
            category_id INTEGER NOT NULL REFERENCES categories (id) ON DELETE CASCADE,
            position INTEGER NOT NULL DEFAULT 0,
            PRIMARY KEY (subscriber_id, category_id)
        ) WITHOUT ROWID;
        CREATE INDEX subscriptions_category ON subscriptions (category_id, subscriber_id);
        CREATE TABLE events (
            id INTEGER PRIMARY KEY,
            subscriber_id INTEGER NOT NULL REFERENCES subscribers (id) ON DELETE CASCADE,
            kind TEXT NOT NULL,              -- subscribed, confirmed, unsubscribed, bounced, ...
            at TEXT NOT NULL,
            source TEXT NOT NULL DEFAULT '',
            detail TEXT NOT NULL DEFAULT ''
        );
        CREATE INDEX events_subscriber ON events (subscriber_id, at);
        """
    )


@migrations()
def m002_editions(db: sqlite_utils.Database) -> None:
    db.executescript(
        """
        CREATE TABLE editions (
            id INTEGER PRIMARY KEY,
            frequency TEXT NOT NULL,
            period TEXT NOT NULL,            -- 2026-W48 or 2026-11-28
            starts_at TEXT NOT NULL,
            ends_at TEXT NOT NULL,
            status TEXT NOT NULL DEFAULT 'open' CHECK (status IN ('open', 'complete', 'skipped')),
            created_at TEXT NOT NULL,
            completed_at TEXT,
            note TEXT NOT NULL DEFAULT '',
            UNIQUE (frequency, period)
        );
        CREATE TABLE deliveries (
            edition_id INTEGER NOT NULL REFERENCES editions (id) ON DELETE CASCADE,
            subscriber_id INTEGER NOT NULL REFERENCES subscribers (id) ON DELETE CASCADE,
            -- pending -> sending -> sent | failed | bounced; skipped when nothing is new
            status TEXT NOT NULL DEFAULT 'pending',
            group_key TEXT NOT NULL DEFAULT '',  -- sorted category ids: recipients of one variant
            article_ids TEXT NOT NULL DEFAULT '[]',
            attempts INTEGER NOT NULL DEFAULT 0,
            reply TEXT NOT NULL DEFAULT '',
            message_id TEXT NOT NULL DEFAULT '',
            updated_at TEXT NOT NULL,
            PRIMARY KEY (edition_id, subscriber_id)
        ) WITHOUT ROWID;
        CREATE INDEX deliveries_todo ON deliveries (edition_id, group_key, subscriber_id, status);
        CREATE INDEX deliveries_subscriber ON deliveries (subscriber_id, status);
        -- A lease per edition: only one process sends an edition at a time.
        CREATE TABLE send_locks (
            edition_id INTEGER PRIMARY KEY REFERENCES editions (id) ON DELETE CASCADE,
            owner TEXT NOT NULL,
            pid INTEGER NOT NULL,
            heartbeat_at TEXT NOT NULL
        );
        """
    )


@migrations()
def m003_web(db: sqlite_utils.Database) -> None:
    db.executescript(
        """
        -- One row per counted web sign-up, so rate limits hold across processes and
        -- restarts. ``bucket`` is a keyed hash of the IP or address, never the value itself.
        CREATE TABLE web_rate_hits (
            bucket TEXT NOT NULL,
            at TEXT NOT NULL
        );
        CREATE INDEX web_rate_hits_bucket ON web_rate_hits (bucket, at);
        CREATE INDEX web_rate_hits_at ON web_rate_hits (at);
        """
    )


@migrations()
def m004_bounces(db: sqlite_utils.Database) -> None:
    db.executescript(
        """
        -- Every bounce, complaint and policy rejection we learn of, SMTP-time or imported:
        -- the soft-bounce window and the per-edition counts are computed from these rows.
        CREATE TABLE bounces (
            id INTEGER PRIMARY KEY,
            subscriber_id INTEGER NOT NULL REFERENCES subscribers (id) ON DELETE CASCADE,
            edition_id INTEGER REFERENCES editions (id) ON DELETE SET NULL,
            kind TEXT NOT NULL CHECK (kind IN ('hard', 'soft', 'policy', 'complaint')),
            status_code TEXT NOT NULL DEFAULT '',  -- RFC 3463, e.g. 5.1.1
            diagnostic TEXT NOT NULL DEFAULT '',
            origin TEXT NOT NULL DEFAULT '',       -- 'smtp', or the file it was imported from
            fingerprint TEXT NOT NULL DEFAULT '',  -- the bounce message's, '' for SMTP-time
            at TEXT NOT NULL                       -- when it happened (the report's Date)
        );
        CREATE INDEX bounces_subscriber ON bounces (subscriber_id, kind, at);
        CREATE INDEX bounces_edition ON bounces (edition_id, kind);
        -- Each imported message, so importing the same mailbox twice changes nothing.
        CREATE TABLE bounce_messages (
            fingerprint TEXT PRIMARY KEY,          -- mid:<Message-ID>, else sha256 of the bytes
            origin TEXT NOT NULL,
            outcome TEXT NOT NULL,
            imported_at TEXT NOT NULL
        ) WITHOUT ROWID;
        -- Bounces and complaints name our original Message-ID; find its delivery by it.
        CREATE INDEX deliveries_message_id ON deliveries (message_id) WHERE message_id != '';
        """
    )


@migrations()
def m005_fencing(db: sqlite_utils.Database) -> None:
    db.executescript(
        """
        -- The lease's generation (a fencing token): every state change a sender makes is
        -- conditional on its generation still being the lease's, so a sender paused past
        -- its lease cannot overwrite the work of the one that took over. Released leases
        -- keep their row (owner '') so a generation is never handed out twice.
        ALTER TABLE send_locks ADD COLUMN generation INTEGER NOT NULL DEFAULT 0;
        """
    )


@migrations()
def m009_delivery_relay(db: sqlite_utils.Database) -> None:
    db.executescript(
        """
        -- Which relay of the pool answered for the delivery ([[smtp.relays]] name, or
        -- host:port); '' before pools, for one decided without a relay, or sent through a
        -- transport that names none.
        ALTER TABLE deliveries ADD COLUMN relay TEXT NOT NULL DEFAULT '';
        """
    )
