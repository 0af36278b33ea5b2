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
def m005_consent_requests(db: sqlite_utils.Database) -> None:
    db.executescript(
        """
        -- One row per web sign-up (and per "send me a new link"): the choices that were
        -- asked for, held here until the inbox's owner confirms. A confirm token names one
        -- row by id and nonce; confirming applies exactly these choices, once. A newer row
        -- for the same subscriber supersedes the older ones.
        CREATE TABLE signup_requests (
            id INTEGER PRIMARY KEY,
            subscriber_id INTEGER NOT NULL REFERENCES subscribers (id) ON DELETE CASCADE,
            nonce TEXT NOT NULL,
            name TEXT NOT NULL DEFAULT '',
            frequency TEXT NOT NULL CHECK (frequency IN ('weekly', 'daily')),
            category_ids TEXT NOT NULL DEFAULT '[]',  -- JSON list, in the site's order
            -- what the sign-up led to: 'confirm' (a link was mailed), 'welcome_back'
            -- (already active), 'refused' (an operator-only status: nothing mailed)
            outcome TEXT NOT NULL,
            created_at TEXT NOT NULL,
            confirmed_at TEXT
        );
        CREATE INDEX signup_requests_subscriber ON signup_requests (subscriber_id, id);
        """
    )


@migrations()
def m007_api_keys(db: sqlite_utils.Database) -> None:
    db.executescript(
        """
        -- Keys for /api/v1/. The token is shown once; only the sha256 of its secret part is
        -- kept. ``prefix`` (random, not secret) finds the row; the hash is then compared in
        -- constant time. A revoked key stays, so its name cannot be reused by mistake.
        CREATE TABLE api_keys (
            id INTEGER PRIMARY KEY,
            name TEXT NOT NULL UNIQUE COLLATE NOCASE,
            prefix TEXT NOT NULL UNIQUE,
            secret_hash TEXT NOT NULL,
            scope TEXT NOT NULL CHECK (scope IN ('read', 'write', 'import')),
            created_at TEXT NOT NULL,
            last_used_at TEXT,
            revoked_at TEXT
        );
        """
    )


@migrations()
def m007_api_webhooks(db: sqlite_utils.Database) -> None:
    db.executescript(
        """
        CREATE TABLE webhooks (
            id INTEGER PRIMARY KEY,
            url TEXT NOT NULL,
            events TEXT NOT NULL,            -- comma-separated: subscribed,confirmed,...
            secret TEXT NOT NULL,            -- signs each POST; kept, since it must sign
            created_at TEXT NOT NULL,
            removed_at TEXT
        );
        -- The outbox: one row per event per webhook, written by the triggers below in the
        -- transaction that made the change, so no change is ever without its event and no
        -- event without its change. A row stays until the receiver answers 2xx
        -- (delivered_at) or 24 hours of retries have passed (given_up_at).
        CREATE TABLE webhook_deliveries (
            id INTEGER PRIMARY KEY,
            webhook_id INTEGER NOT NULL REFERENCES webhooks (id) ON DELETE CASCADE,
            delivery_id TEXT NOT NULL UNIQUE,   -- sent with each attempt: receivers dedupe
            event TEXT NOT NULL,
            payload TEXT NOT NULL,              -- JSON, fixed when the event happened
            created_at TEXT NOT NULL,
            next_attempt_at TEXT NOT NULL,
            attempts INTEGER NOT NULL DEFAULT 0,
            claimed_until TEXT,                 -- a dispatcher is posting it until then
            last_status INTEGER,
            last_error TEXT NOT NULL DEFAULT '',
            delivered_at TEXT,
            given_up_at TEXT
        );
        CREATE INDEX webhook_deliveries_due ON webhook_deliveries (next_attempt_at)
            WHERE delivered_at IS NULL AND given_up_at IS NULL;
        CREATE TRIGGER webhook_reader_events AFTER INSERT ON events
        WHEN NEW.kind IN ('pending', 'subscribed', 'confirmed', 'unsubscribed', 'bounced',
                          'complained')
        BEGIN
            INSERT INTO webhook_deliveries
                (webhook_id, delivery_id, event, payload, created_at, next_attempt_at)
            SELECT w.id, lower(hex(randomblob(16))), e.name,
                json_object(
                    'event', e.name,
                    'at', NEW.at,
                    'subscriber', json_object(
                        'id', s.id, 'email', s.email, 'status', s.status,
                        'frequency', s.frequency, 'source', NEW.source)),
                NEW.at, NEW.at
            FROM (SELECT CASE NEW.kind WHEN 'pending' THEN 'subscribed'
                  ELSE NEW.kind END AS name) e
            JOIN webhooks w ON w.removed_at IS NULL
                AND instr(',' || w.events || ',', ',' || e.name || ',') > 0
            JOIN subscribers s ON s.id = NEW.subscriber_id;
        END;
        CREATE TRIGGER webhook_edition_sent AFTER UPDATE OF status ON editions
        WHEN NEW.status = 'complete' AND OLD.status != 'complete'
        BEGIN
            INSERT INTO webhook_deliveries
                (webhook_id, delivery_id, event, payload, created_at, next_attempt_at)
            SELECT w.id, lower(hex(randomblob(16))), 'edition.sent',
                json_object(
                    'event', 'edition.sent',
                    'at', NEW.completed_at,
                    'edition', json_object(
                        'id', NEW.id, 'frequency', NEW.frequency, 'period', NEW.period,
                        'deliveries', (
                            SELECT json_group_object(status, n) FROM (
                                SELECT status, COUNT(*) AS n FROM deliveries
                                WHERE edition_id = NEW.id GROUP BY status)))),
                NEW.completed_at, NEW.completed_at
            FROM webhooks w
            WHERE w.removed_at IS NULL
                AND instr(',' || w.events || ',', ',edition.sent,') > 0;
        END;
        """
    )


@migrations()
def m007_api_job_runs(db: sqlite_utils.Database) -> None:
    db.executescript(
        """
        -- How often each `digest schedule run` job ran and failed, for /metrics: the
        -- scheduler is another process than the one Prometheus scrapes.
        CREATE TABLE job_runs (
            job TEXT PRIMARY KEY,
            runs INTEGER NOT NULL DEFAULT 0,
            failures INTEGER NOT NULL DEFAULT 0,
            last_at TEXT NOT NULL
        ) WITHOUT ROWID;
        """
    )


@migrations()
def m007_api_reader_pause(db: sqlite_utils.Database) -> None:
    db.executescript(
        """
        -- A reader who asked for a break: editions opened before this moment record their
        -- delivery as skipped (the reason in its reply); after it they are sent again.
        ALTER TABLE subscribers ADD COLUMN paused_until TEXT;
        """
    )


@migrations()
def m007_api_webhooks_forget(db: sqlite_utils.Database) -> None:
    db.executescript(
        """
        -- Forgetting a reader (store.subscribers.forget sets email to NULL) also blanks the
        -- address in the webhook outbox, delivered or not: it must not outlive the erasure.
        CREATE TRIGGER webhook_forget AFTER UPDATE OF email ON subscribers
        WHEN NEW.email IS NULL AND OLD.email IS NOT NULL
        BEGIN
            UPDATE webhook_deliveries
            SET payload = json_set(payload, '$.subscriber.email', NULL)
            WHERE json_extract(payload, '$.subscriber.id') = NEW.id;
        END;
        """
    )


@migrations()
def m008_consent_timezone(db: sqlite_utils.Database) -> None:
    db.executescript(
        """
        -- The timezone a sign-up asked for travels with its request, like the other
        -- choices: applied when the inbox's owner confirms, never before.
        ALTER TABLE signup_requests ADD COLUMN timezone TEXT;
        """
    )


@migrations()
def m008_webhooks_confirmed_sign_ups(db: sqlite_utils.Database) -> None:
    db.executescript(
        """
        -- A web or API sign-up is not a subscriber until its owner confirms: no webhook
        -- event for 'pending' (the CRM hears 'confirmed'). It also keeps a sign-up for a
        -- new address doing the same work as one for a known address (no timing tell).
        DROP TRIGGER webhook_reader_events;
        CREATE TRIGGER webhook_reader_events AFTER INSERT ON events
        WHEN NEW.kind IN ('subscribed', 'confirmed', 'unsubscribed', 'bounced', 'complained')
        BEGIN
            INSERT INTO webhook_deliveries
                (webhook_id, delivery_id, event, payload, created_at, next_attempt_at)
            SELECT w.id, lower(hex(randomblob(16))), NEW.kind,
                json_object(
                    'event', NEW.kind,
                    'at', NEW.at,
                    'subscriber', json_object(
                        'id', s.id, 'email', s.email, 'status', s.status,
                        'frequency', s.frequency, 'source', NEW.source)),
                NEW.at, NEW.at
            FROM webhooks w JOIN subscribers s ON s.id = NEW.subscriber_id
            WHERE w.removed_at IS NULL
                AND instr(',' || w.events || ',', ',' || NEW.kind || ',') > 0;
        END;
        """
    )


@migrations()
def m006_emails_subscriber_language(db: sqlite_utils.Database) -> None:
    # The reader's language for their emails (BCP 47, e.g. es, ar); '' is the site's,
    # [site] lang (docs/email.md rule 27).
    db.execute("ALTER TABLE subscribers ADD COLUMN language TEXT NOT NULL DEFAULT ''")


# The editor's desk (issue 13). An edition now has a life: draft -> approved -> sending ->
# sent, or cancelled; held when approval is required and the send time came without it.
# Today's 'open' (recipients fixed, being sent) is 'sending', 'complete' is 'sent'.
# SQLite cannot change a CHECK constraint, so the table is rebuilt the documented way
# (https://sqlite.org/lang_altertable.html#otheralter): foreign keys off, so that dropping
# the old table does not cascade into deliveries, outside the migration's own transaction.
@migrations(transactional=False)
def m010_desk_edition_states(db: sqlite_utils.Database) -> None:
    conn = db.conn
    conn.execute("PRAGMA foreign_keys = OFF")
    try:
        conn.execute("BEGIN IMMEDIATE")
        try:
            for statement in _EDITION_STATES_SQL:
                conn.execute(statement)
            problems = conn.execute("PRAGMA foreign_key_check").fetchall()
            if problems:
                raise RuntimeError(f"m010_desk_edition_states: foreign keys broken: {problems}")
            conn.execute("COMMIT")
        except BaseException:
            conn.execute("ROLLBACK")
            raise
    finally:
        conn.execute("PRAGMA foreign_keys = ON")


# One statement each: executescript would commit the transaction around them.
_EDITION_STATES_SQL = (
    """
                CREATE TABLE editions_desk (
                    id INTEGER PRIMARY KEY,
                    frequency TEXT NOT NULL,
                    period TEXT NOT NULL,
                    starts_at TEXT NOT NULL,
                    ends_at TEXT NOT NULL,         -- the cutoff, fixed when prepared
                    status TEXT NOT NULL DEFAULT 'sending' CHECK (status IN
                        ('draft', 'approved', 'held', 'sending', 'sent', 'cancelled',
                         'skipped')),
                    created_at TEXT NOT NULL,
                    completed_at TEXT,
                    note TEXT NOT NULL DEFAULT '',
                    approval TEXT NOT NULL DEFAULT 'optional'
                        CHECK (approval IN ('optional', 'required')),
                    intro TEXT NOT NULL DEFAULT '',    -- Markdown, as the editor wrote it
                    subject TEXT NOT NULL DEFAULT '',  -- '' : the subject template's
                    due_at TEXT,                       -- when the scheduler sends it
                    approved_at TEXT,
                    approved_by TEXT NOT NULL DEFAULT '',
                    started_at TEXT,                   -- recipients fixed, send begun
                    UNIQUE (frequency, period)
                )
    """,
    """
                INSERT INTO editions_desk (id, frequency, period, starts_at, ends_at, status,
                                           created_at, completed_at, note, started_at)
                SELECT id, frequency, period, starts_at, ends_at,
                       CASE status WHEN 'open' THEN 'sending' WHEN 'complete' THEN 'sent'
                                   ELSE status END,
                       created_at, completed_at, note, created_at
                FROM editions
    """,
    "DROP TABLE editions",
    "ALTER TABLE editions_desk RENAME TO editions",
)


@migrations()
def m010_desk_edition_changes(db: sqlite_utils.Database) -> None:
    db.executescript(
        """
        -- What an editor changed in an edition's selection: a pinned article leads its
        -- category (in ``position`` order); an excluded one is not sent in this edition.
        CREATE TABLE edition_picks (
            edition_id INTEGER NOT NULL REFERENCES editions (id) ON DELETE CASCADE,
            article_id TEXT NOT NULL,
            category_id INTEGER NOT NULL DEFAULT 0,  -- the pinned category; 0 for exclusions
            action TEXT NOT NULL CHECK (action IN ('pin', 'exclude')),
            position INTEGER NOT NULL DEFAULT 0,
            PRIMARY KEY (edition_id, action, article_id)
        ) WITHOUT ROWID;
        -- Every change to an edition, with who made it and when.
        CREATE TABLE edition_changes (
            id INTEGER PRIMARY KEY,
            edition_id INTEGER NOT NULL REFERENCES editions (id) ON DELETE CASCADE,
            at TEXT NOT NULL,
            editor TEXT NOT NULL,
            action TEXT NOT NULL,
            detail TEXT NOT NULL DEFAULT ''
        );
        CREATE INDEX edition_changes_edition ON edition_changes (edition_id, id);
        """
    )


@migrations()
def m010_desk_editors(db: sqlite_utils.Database) -> None:
    db.executescript(
        """
        -- The editors who may use the desk. password_hash is argon2id ('' until set);
        -- password_nonce makes each set-password link single-use (replaced on use).
        CREATE TABLE editors (
            id INTEGER PRIMARY KEY,
            email TEXT NOT NULL UNIQUE COLLATE NOCASE,
            name TEXT NOT NULL DEFAULT '',
            password_hash TEXT NOT NULL DEFAULT '',
            password_nonce TEXT NOT NULL DEFAULT '',
            created_at TEXT NOT NULL,
            password_set_at TEXT,
            last_login_at TEXT,
            failed_logins INTEGER NOT NULL DEFAULT 0,
            locked_until TEXT
        );
        """
    )


@migrations()
def m011_webhooks_edition_sent_again(db: sqlite_utils.Database) -> None:
    db.executescript(
        """
        -- Rebuilding the editions table (m010_desk_edition_states) dropped the triggers on
        -- it, and a finished edition is now 'sent' (was 'complete'): the edition.sent
        -- webhook event, again, on the new status.
        DROP TRIGGER IF EXISTS webhook_edition_sent;
        CREATE TRIGGER webhook_edition_sent AFTER UPDATE OF status ON editions
        WHEN NEW.status = 'sent' AND OLD.status != 'sent'
        BEGIN
            INSERT INTO webhook_deliveries
                (webhook_id, delivery_id, event, payload, created_at, next_attempt_at)
            SELECT w.id, lower(hex(randomblob(16))), 'edition.sent',
                json_object(
                    'event', 'edition.sent',
                    'at', NEW.completed_at,
                    'edition', json_object(
                        'id', NEW.id, 'frequency', NEW.frequency, 'period', NEW.period,
                        'deliveries', (
                            SELECT json_group_object(status, n) FROM (
                                SELECT status, COUNT(*) AS n FROM deliveries
                                WHERE edition_id = NEW.id GROUP BY status)))),
                NEW.completed_at, NEW.completed_at
            FROM webhooks w
            WHERE w.removed_at IS NULL
                AND instr(',' || w.events || ',', ',edition.sent,') > 0;
        END;
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


@migrations()
def m012_tracking(db: sqlite_utils.Database) -> None:
    db.executescript(
        """
        -- Engagement (issue 15, docs/tracking.md). The *_counts tables are written in every
        -- tracking mode and never name a reader: in "anonymous" mode they are all there is.
        -- The reader_* tables are written only in "per-reader" mode, and forget() empties
        -- them for the reader. scanner = 1: counted apart as a link scanner or prefetcher.
        CREATE TABLE click_counts (
            edition_id INTEGER NOT NULL,
            article_id TEXT NOT NULL,
            category_id INTEGER NOT NULL,
            scanner INTEGER NOT NULL DEFAULT 0 CHECK (scanner IN (0, 1)),
            clicks INTEGER NOT NULL DEFAULT 0,
            PRIMARY KEY (edition_id, article_id, category_id, scanner)
        ) WITHOUT ROWID;
        CREATE TABLE open_counts (
            edition_id INTEGER NOT NULL,
            scanner INTEGER NOT NULL DEFAULT 0 CHECK (scanner IN (0, 1)),
            opens INTEGER NOT NULL DEFAULT 0,
            PRIMARY KEY (edition_id, scanner)
        ) WITHOUT ROWID;
        CREATE TABLE reader_clicks (
            id INTEGER PRIMARY KEY,
            edition_id INTEGER NOT NULL,
            article_id TEXT NOT NULL,
            category_id INTEGER NOT NULL,
            subscriber_id INTEGER NOT NULL REFERENCES subscribers (id) ON DELETE CASCADE,
            at TEXT NOT NULL,
            scanner INTEGER NOT NULL DEFAULT 0 CHECK (scanner IN (0, 1))
        );
        CREATE INDEX reader_clicks_edition ON reader_clicks (edition_id, subscriber_id);
        CREATE INDEX reader_clicks_subscriber ON reader_clicks (subscriber_id);
        CREATE TABLE reader_opens (
            id INTEGER PRIMARY KEY,
            edition_id INTEGER NOT NULL,
            subscriber_id INTEGER NOT NULL REFERENCES subscribers (id) ON DELETE CASCADE,
            at TEXT NOT NULL,
            scanner INTEGER NOT NULL DEFAULT 0 CHECK (scanner IN (0, 1))
        );
        CREATE INDEX reader_opens_edition ON reader_opens (edition_id, subscriber_id);
        CREATE INDEX reader_opens_subscriber ON reader_opens (subscriber_id);
        """
    )


@migrations()
def m013_pages_delivery_day(db: sqlite_utils.Database) -> None:
    db.executescript(
        """
        -- The weekday a weekly reader gets their digest (mon..sun); '' follows the site's
        -- [schedule] weekly_day. Readers of another day than the site's get editions of their
        -- own (period '2026-W48-thu', README "Delivery day").
        ALTER TABLE subscribers ADD COLUMN delivery_day TEXT NOT NULL DEFAULT '';
        -- The day a sign-up asked for, applied when it is confirmed (NULL: not asked).
        ALTER TABLE signup_requests ADD COLUMN delivery_day TEXT;
        """
    )


@migrations()
def m015_reports_unsubscribe_edition(db: sqlite_utils.Database) -> None:
    db.executescript(
        """
        -- The edition whose unsubscribe link a reader used (the token names it): the report
        -- counts an unsubscribe against that edition (docs/reports.md). NULL for every other
        -- event, and for unsubscribes through an edition-less link, the preferences page
        -- or the API.
        ALTER TABLE events ADD COLUMN edition_id INTEGER
            REFERENCES editions (id) ON DELETE SET NULL;
        CREATE INDEX events_edition ON events (edition_id, kind) WHERE edition_id IS NOT NULL;
        -- The weekly trend and the sign-up funnel read events and requests by time.
        CREATE INDEX events_kind_at ON events (kind, at);
        CREATE INDEX signup_requests_created ON signup_requests (created_at);
        """
    )
