"""Every setting, declared once: its type, default, limits and one line of help.

The loader, the commented digest.toml that ``digest init`` writes and the README's table are
all derived from these dataclasses, so a setting cannot exist in one and be missing from
another. A section's docstring is its description in the file and the table.
"""

from __future__ import annotations

import dataclasses
from dataclasses import dataclass, field
from typing import Any, TypeVar
from zoneinfo import ZoneInfo

from digest.config.values import SmtpUrl, parse_smtp_url

T = TypeVar("T")

DEFAULT_DB_NAME = "subscribers.db"


@dataclass(frozen=True)
class Limit:
    """The numbers a setting accepts: ``low`` <= value (or < with ``exclusive``) <= ``high``."""

    low: float
    high: float | None = None
    exclusive: bool = False

    def allows(self, value: float) -> bool:
        above = value > self.low if self.exclusive else value >= self.low
        return above and (self.high is None or value <= self.high)

    def describe(self) -> str:
        if self.exclusive:
            return f"a number greater than {self.low:g}"
        if self.high is not None:
            return f"{self.low:g} to {self.high:g}"
        return f"at least {self.low:g}"


@dataclass(frozen=True)
class About:
    """What the declaration says about one setting besides its type and default."""

    help: str
    limit: Limit | None = None
    # Written uncommented by `digest init`: the keys an operator must look at.
    shown: bool = False
    # The TOML key when it differs from the attribute (``from`` is a Python keyword).
    key: str = ""
    # For a top-level attribute that the file keeps in a table of its own ([database] path).
    table: str = ""
    # Shown in the file instead of the default, for a key that has none.
    example: Any = None


def setting(
    default: T,
    help: str,
    *,
    minimum: float | None = None,
    maximum: float | None = None,
    above: float | None = None,
    shown: bool = False,
    key: str = "",
    table: str = "",
) -> T:
    """A dataclass field with its default, help text and limits."""
    limit = None
    if above is not None:
        limit = Limit(above, exclusive=True)
    elif minimum is not None:
        limit = Limit(minimum, maximum)
    info = About(help, limit=limit, shown=shown, key=key, table=table)
    return field(default=default, metadata={"about": info})


def about(field_: dataclasses.Field[Any]) -> About | None:
    """The declaration's help and limits for a field; None for one set by the program."""
    value = field_.metadata.get("about")
    return value if isinstance(value, About) else None


@dataclass(frozen=True)
class SiteSettings:
    """The publication: its name, public address and postal address, used in mail and pages."""

    name: str = setting(
        "Legal Reader", "Publication name in the From line, subjects and pages.", shown=True
    )
    url: str = setting(
        "https://news.example.com",
        "Public address of `digest serve`; every link in the mail is built from it.",
        shown=True,
    )
    postal_address: str = setting(
        "Legal Reader, 100 Main Street, Springfield, IL 62701, USA",
        "Postal address in every email's footer (required by CAN-SPAM and similar laws).",
        shown=True,
    )
    lang: str = setting("en", "Language tag of the emails and pages (BCP 47, e.g. en, de-CH).")
    # Shared by the email and the web pages; the default passes WCAG AA on white.
    accent_color: str = setting("#1a4d8f", "Accent colour of the emails and pages, as #rrggbb.")


@dataclass(frozen=True)
class SenderSettings:
    """Who the mail comes from and where replies, bounces and unsubscribes go."""

    from_: str = setting(
        "Legal Reader <digest@news.example.com>",
        "From address, with a display name.",
        shown=True,
        key="from",
    )
    reply_to: str = setting(
        "", "Reply-To address (e.g. editors@news.example.com); empty: replies go to From."
    )
    return_path: str = setting(
        "",
        "Envelope sender (MAIL FROM), where bounces go; empty: the From address. With {token} "
        'in it ("bounces+{token}@news.example.com") each reader gets a signed one (VERP).',
    )
    list_id: str = setting(
        "",
        "List-Id label (RFC 2919), e.g. weekly.news.example.com; empty: frequency.From-domain.",
    )
    unsubscribe_mailto: str = setting(
        "",
        "A mailto: address for List-Unsubscribe next to the https link, e.g. "
        "unsubscribe@news.example.com; empty: none.",
    )


@dataclass(frozen=True)
class RelaySettings:
    """Relays of a pool, instead of smtp.url; messages spread by weight."""

    url: str = field(
        metadata={
            "about": About(
                "Relay URL, as smtp.url.", shown=True, example="smtp+starttls://user@host:587"
            )
        }
    )
    name: str = setting("", "Name in reports and in each delivery's record; host:port if empty.")
    weight: int = setting(1, "Share of the messages, relative to the other relays.", minimum=1)
    rate: float = setting(0.0, "Most messages a second to this relay; 0 for no limit.", minimum=0)
    hourly_limit: int = setting(
        0, "Most messages an hour to this relay (its plan's quota); 0 for no limit.", minimum=0
    )
    concurrency: int = setting(
        0, "Most connections open to this relay at once; 0 for sending.concurrency.", minimum=0
    )
    password_env: str = setting("", "Environment variable holding this relay's password.")

    @property
    def parsed(self) -> SmtpUrl:
        return parse_smtp_url(self.url, self.password_env)

    @property
    def label(self) -> str:
        if self.name:
            return self.name
        parsed = self.parsed
        return f"{parsed.host}:{parsed.port}"


@dataclass(frozen=True)
class SmtpSettings:
    """The relay every message goes through (or a pool of them: [[smtp.relays]])."""

    url: str = setting(
        "smtp://127.0.0.1:25",
        "Relay URL: smtp://host:25, smtp+starttls://user@host:587 (certificate checked) or "
        "smtps://host:465. DIGEST_SMTP_URL overrides it.",
        shown=True,
    )
    password_env: str = setting(
        "",
        "Environment variable holding the relay password, so it stays out of this file "
        "(e.g. DIGEST_SMTP_PASSWORD).",
    )
    timeout: float = setting(
        30.0,
        "Seconds to wait for the relay on each step; a timeout is retried like a 4xx.",
        above=0,
    )
    failures_before_backoff: int = setting(
        3,
        "Connections refused, dropped or answered 421 in a row before a relay of a pool is "
        "taken out for backoff_seconds (its messages go to the others).",
        minimum=1,
    )
    backoff_seconds: float = setting(
        60.0, "How long a relay of a pool stays out after failures_before_backoff.", minimum=0
    )
    relays: tuple[RelaySettings, ...] = ()

    @property
    def parsed(self) -> SmtpUrl:
        return parse_smtp_url(self.url, self.password_env)

    @property
    def pool(self) -> tuple[RelaySettings, ...]:
        """The relays to send through: [[smtp.relays]], else smtp.url as a pool of one."""
        if self.relays:
            return self.relays
        return (RelaySettings(url=self.url, password_env=self.password_env),)


@dataclass(frozen=True)
class DigestSettings:
    """What goes into each reader's email."""

    max_articles_per_category: int = setting(
        5, "Most articles listed per category, newest first.", minimum=1, shown=True
    )
    lookback_days_weekly: int = setting(
        7, "Days of articles a new weekly reader's first email covers.", minimum=1, shown=True
    )
    lookback_days_daily: int = setting(
        1, "Days of articles a new daily reader's first email covers.", minimum=1, shown=True
    )
    subject: str = setting(
        "{{ ngettext('%(site)s %(frequency)s: %(num)d new article in %(categories)s', "
        "'%(site)s %(frequency)s: %(num)d new articles in %(categories)s', article_count, "
        "site=site.name, frequency=_(frequency), categories=category_summary) }}",
        "Subject line, a Jinja template; _() and ngettext() translate to the reader's language.",
        shown=True,
    )


@dataclass(frozen=True)
class TemplateSettings:
    """Your own copies of the email and page templates."""

    dir: str = setting(
        "",
        "Folder of your templates (e.g. my-templates); any not there come from the defaults.",
    )


@dataclass(frozen=True)
class ScheduleSettings:
    """When `digest schedule run` sends."""

    timezone: str = setting(
        "UTC",
        "IANA timezone of the send times and daily editions (e.g. Europe/London).",
        shown=True,
    )
    weekly_day: str = setting(
        "mon", "Day of the weekly send: mon, tue, wed, thu, fri, sat or sun.", shown=True
    )
    weekly_time: str = setting("08:00", "Time of the weekly send, HH:MM.", shown=True)
    daily_time: str = setting("07:00", "Time of the daily send, HH:MM.", shown=True)
    local_time: bool = setting(
        False, "Send at that time in each reader's own timezone instead of the one above."
    )
    max_delay_hours: float = setting(
        6.0, "A send missed by more than this many hours is skipped, not sent late.", minimum=0
    )
    approval: str = setting(
        "optional",
        "required: an edition is sent only once an editor has approved it (`digest editions "
        "approve`); it is held at its send time until then. optional: sent on schedule.",
    )
    prepare_hours_before: float = setting(
        24.0,
        "With approval required: the scheduler prepares the draft this many hours before the "
        "send and emails the editors a link to review it.",
        minimum=0,
    )


@dataclass(frozen=True)
class SendingSettings:
    """How fast and how hard `digest send` pushes mail at the relay."""

    concurrency: int = setting(4, "SMTP connections used at once.", minimum=1, shown=True)
    rate: float = setting(0.0, "Most messages per second; 0: unlimited.", minimum=0, shown=True)
    hourly_limit: int = setting(0, "Most messages in any hour; 0: unlimited.", minimum=0)
    max_attempts: int = setting(
        4, "Tries per message on temporary failures (4xx, timeouts) before giving up.", minimum=1
    )
    max_consecutive_failures: int = setting(
        20, "Stop the send after this many failures in a row: the relay refuses all.", minimum=1
    )
    page_size: int = setting(1000, "Recipients read from the database at a time.", minimum=1)
    lease_seconds: float = setting(
        90.0,
        "A send that has not renewed its lease on the edition for this long (killed, or "
        "paused) may be taken over by another `digest send`; the old one then stops.",
        above=0,
    )
    database_wait_seconds: float = setting(
        300.0,
        "How long a send waits out a database locked by another process, pausing its "
        "senders, before it stops; it goes on by itself if the lock goes sooner.",
        minimum=0,
    )


@dataclass(frozen=True)
class DkimSettings:
    """DKIM signing, for a relay that does not sign; on when domain, selector and a key are set."""

    domain: str = setting("", "Signing domain (d=), e.g. news.example.com.")
    selector: str = setting(
        "", "Selector (s=), e.g. digest: the public key is in DNS at <selector>._domainkey."
    )
    key_file: str = setting("", "PEM file holding the RSA private key, e.g. dkim.pem.")
    algorithms: tuple[str, ...] = setting(
        ("rsa-sha256",),
        "Signatures to add, one header each: rsa-sha256, ed25519-sha256 or both (RFC 8463). "
        "Ed25519 alone is not enough: most receivers check only RSA.",
    )
    ed25519_selector: str = setting(
        "",
        "Selector of the Ed25519 key's DNS record (each key has its own); empty: "
        "<selector>-ed25519 when signing with both, else selector.",
    )
    ed25519_key_file: str = setting(
        "",
        "PEM (or dknewkey's base64) file holding the Ed25519 private key, when algorithms "
        "has ed25519-sha256.",
    )

    @property
    def enabled(self) -> bool:
        key = self.key_file if "rsa-sha256" in self.algorithms else self.ed25519_key_file
        return bool(self.domain and self.selector and key)


@dataclass(frozen=True)
class WebSettings:
    """`digest serve`: the readers' sign-up, preference and archive pages."""

    host: str = setting("127.0.0.1", "Address to listen on.")
    port: int = setting(8080, "Port to listen on.", minimum=1, maximum=65535)
    trust_proxy: bool = setting(
        False, "Take the client address from X-Forwarded-For; only behind your own proxy."
    )
    signup_limit_per_ip_per_hour: int = setting(
        10, "Sign-ups accepted from one client address in an hour.", minimum=1
    )
    signup_limit_per_address_per_day: int = setting(
        3, "Sign-ups accepted for one email address in a day.", minimum=1
    )
    welcome: str = setting(
        "latest",
        'Mail to a reader who has just confirmed: "latest" (the digest of their categories as '
        'it stands, or "short" when nothing is new), "short" (a welcome note) or "none".',
    )
    api_rate_limit_per_minute: int = setting(
        120, "Requests one API key may make in a minute (/api/v1/).", minimum=1
    )


@dataclass(frozen=True)
class BounceSettings:
    """When soft bounces stop mail to a reader (`digest bounces import` and `digest send`)."""

    soft_limit: int = setting(
        3, "Soft bounces within soft_window_days that mark a reader bounced.", minimum=1
    )
    soft_window_days: int = setting(30, "Days over which soft bounces are counted.", minimum=1)
    imap_url: str = setting(
        "",
        "A bounce mailbox to read, e.g. imaps://bounces@mail.example.com/INBOX: "
        "`digest bounces fetch`, and every fetch_minutes under `digest schedule run`.",
    )
    imap_password_env: str = setting("", "Environment variable holding its password.")
    done_folder: str = setting("Processed", "Folder the messages read are moved to.")
    unrecognised_folder: str = setting(
        "Unrecognised", "Folder for messages that are no report about our readers, to look at."
    )
    fetch_minutes: int = setting(15, "Minutes between fetches of the mailbox.", minimum=1)


@dataclass(frozen=True)
class HooksSettings:
    """Provider webhooks on `digest serve` (/hooks/<provider>); all off by default."""

    ses: bool = setting(False, "Accept Amazon SES notifications through SNS at /hooks/ses.")
    ses_cert_url: str = setting(
        r"^https://sns\.[a-z0-9-]+\.amazonaws\.com(\.cn)?/",
        "Regular expression an SNS SigningCertURL and SubscribeURL must match; the "
        "certificate is fetched from there to check each message's signature.",
    )
    ses_topic_arns: tuple[str, ...] = setting(
        (),
        "The SNS topics (ARNs) whose messages are accepted; any other is refused, even "
        "signed: anyone can make an SNS topic and point it here.",
    )
    postmark: bool = setting(False, "Accept Postmark bounce and spam webhooks at /hooks/postmark.")
    postmark_secret_env: str = setting(
        "",
        "Environment variable holding the secret: the basic-auth password in the webhook "
        "URL (https://digest:SECRET@host/hooks/postmark), or ?token=SECRET.",
    )
    mailgun: bool = setting(False, "Accept Mailgun webhooks at /hooks/mailgun.")
    mailgun_key_env: str = setting(
        "", "Environment variable holding Mailgun's HTTP webhook signing key."
    )
    sendgrid: bool = setting(False, "Accept SendGrid's signed event webhook at /hooks/sendgrid.")
    sendgrid_public_key: str = setting(
        "", "The signed event webhook's verification key, base64, as SendGrid shows it."
    )


TRACKING_MODES = ("off", "anonymous", "per-reader")


@dataclass(frozen=True)
class TrackingSettings:
    """Engagement tracking, off by default; what each mode stores: docs/tracking.md."""

    clicks: str = setting(
        "off",
        'Article links in mail: "off" (the article\'s own URL), "anonymous" (a signed redirect '
        "on `digest serve` that counts clicks per edition, article and category, naming no "
        'reader) or "per-reader" (also records which reader clicked; `forget` erases it).',
    )
    opens: str = setting(
        "off",
        'A 1x1 image in the HTML part: "off" (none), "anonymous" (counts per edition) or '
        '"per-reader" (also which reader). Unreliable: mail privacy features fetch images.',
    )


@dataclass(frozen=True)
class FeedSettings:
    """A feed that `digest schedule run` refreshes; one [[feeds]] table each."""

    # field(), not setting(): with no default, mypy and the loader both know it is required.
    url: str = field(
        metadata={
            "about": About(
                "Address of the RSS or Atom feed.",
                shown=True,
                example="https://news.example.com/feed.xml",
            )
        }
    )
    category: str = setting("", "Category of every article, for a feed that is all one category.")
    refresh_minutes: int = setting(60, "Minutes between refreshes.", minimum=1)


@dataclass(frozen=True)
class Settings:
    """Everything `digest` reads from digest.toml and the environment."""

    site: SiteSettings = field(default_factory=SiteSettings)
    sender: SenderSettings = field(default_factory=SenderSettings)
    smtp: SmtpSettings = field(default_factory=SmtpSettings)
    digest: DigestSettings = field(default_factory=DigestSettings)
    templates: TemplateSettings = field(default_factory=TemplateSettings)
    schedule: ScheduleSettings = field(default_factory=ScheduleSettings)
    sending: SendingSettings = field(default_factory=SendingSettings)
    dkim: DkimSettings = field(default_factory=DkimSettings)
    web: WebSettings = field(default_factory=WebSettings)
    bounces: BounceSettings = field(default_factory=BounceSettings)
    hooks: HooksSettings = field(default_factory=HooksSettings)
    tracking: TrackingSettings = field(default_factory=TrackingSettings)
    feeds: tuple[FeedSettings, ...] = ()
    secret_key: str = setting(
        "",
        "Signs unsubscribe, preference and confirmation links; `digest init` makes one. Keep "
        "it secret: changing it breaks the links in mail already sent. DIGEST_SECRET_KEY "
        "overrides it.",
        shown=True,
    )
    db_path: str = setting(
        DEFAULT_DB_NAME,
        "The SQLite database file. DIGEST_DB and --db override it.",
        key="path",
        table="database",
    )
    db_busy_timeout: float = setting(
        10.0,
        "Seconds a database statement waits for another process's lock before giving up.",
        above=0,
        key="busy_timeout",
        table="database",
    )
    config_path: str = ""  # the file these came from, "" when none

    @property
    def tz(self) -> ZoneInfo:
        return ZoneInfo(self.schedule.timezone)


# Tables of the file whose keys Settings holds itself (``table=`` above), with their help.
LOOSE_TABLES = {"database": "Where subscribers, articles and deliveries are kept."}
