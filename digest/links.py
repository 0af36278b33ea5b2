"""Every link a reader can get, in mail and on the site: the URL scheme lives here only.

A :class:`Links` is built once per run (or per web app) from the settings: the signers derive
their keys once, because the send loop signs two links per recipient. Absolute URLs (``site.url``
plus a path) go into mail; the path-only forms are for the web pages, which put
``request.script_root`` in front. The ``read_*`` methods turn a token from a path back into
what it names, raising :class:`digest.tokens.TokenError` when it is not genuine.
"""

from __future__ import annotations

from digest.config import Settings
from digest.tokens import (
    PREFERENCES_SALT,
    SIGNATURE_CHARS,
    UNSUBSCRIBE_SALT,
    ClickClaim,
    ConfirmClaim,
    ConfirmSigner,
    EditorClaim,
    EditorLinkSigner,
    IdSigner,
    LinkClaim,
    PairSigner,
    TrackSigner,
    ViewClaim,
)

UNSUBSCRIBE_PREFIX = "/u/"
PREFERENCES_PREFIX = "/p/"
CONFIRM_PREFIX = "/c/"
ARCHIVE_PREFIX = "/archive/"
# Engagement tracking (docs/tracking.md): the click redirect and the open image. Issue 15
# says /c/ for clicks, but /c/ was already the confirm link's.
CLICK_PREFIX = "/r/"
OPEN_PREFIX = "/o/"

# "View in browser": one reader's copy of one edition (docs/email.md rule 28).
VIEW_PREFIX = "/v/"
# The editor's desk (issue 13).
ADMIN_PREFIX = "/admin/"
EDITOR_PASSWORD_PREFIX = "/admin/password/"
ADMIN_EDITION_PREFIX = "/admin/editions/"
# The longest subscriber id token: 13 base-36 digits, a dot and the signature; an
# unsubscribe token may also name the edition: "-" and 13 more digits (docs/reports.md).
_ID_TOKEN_CHARS = 13 + 1 + SIGNATURE_CHARS
_EDITION_CHARS = 1 + 13


class Links:
    """Links under ``base_url`` signed with ``secret``. The secret is checked when the first
    link is signed or read, so code that never signs (a web page without links, a renderer
    that is only compiling) needs none."""

    def __init__(self, base_url: str, secret: str) -> None:
        self.base = base_url.rstrip("/")
        self._secret = secret
        self._signers: tuple[IdSigner, IdSigner, ConfirmSigner] | None = None
        self._track: TrackSigner | None = None
        self._view: PairSigner | None = None

    @classmethod
    def from_settings(cls, settings: Settings) -> Links:
        return cls(settings.site.url, settings.secret_key)

    def _built(self) -> tuple[IdSigner, IdSigner, ConfirmSigner]:
        if self._signers is None:
            secret = self._secret  # IdSigner refuses an empty one with a ConfigError
            self._signers = (
                IdSigner(secret, UNSUBSCRIBE_SALT),
                IdSigner(secret, PREFERENCES_SALT),
                ConfirmSigner(secret),
            )
        return self._signers

    # -- absolute URLs, for mail -------------------------------------------------------------

    def home(self) -> str:
        return self.base + "/"

    def unsubscribe(self, subscriber_id: int, edition_id: int | None = None) -> str:
        """The reader's unsubscribe link; from a digest it names the edition too, so the
        unsubscribe is counted against it (docs/reports.md)."""
        return self.base + self.unsubscribe_path(subscriber_id, edition_id)

    def preferences(self, subscriber_id: int) -> str:
        return self.base + self.preferences_path(subscriber_id)

    def confirm(self, request_id: int, nonce: str, email: str) -> str:
        """The link that confirms sign-up request ``request_id`` (and only that request)."""
        return self.base + self.confirm_path(request_id, nonce, email)

    def archive(self, edition_id: int) -> str:
        return self.base + self.archive_path(edition_id)

    def archive_section(self, edition_id: int, slug: str) -> str:
        """One category's part of an edition's archive page (its ``id`` anchor)."""
        return f"{self.archive(edition_id)}#{slug}"

    def view(self, subscriber_id: int, edition_id: int) -> str:
        """This reader's copy of this edition on the web ("View in browser")."""
        return self.base + self.view_path(subscriber_id, edition_id)

    def longest_view_link(self) -> int:
        """Characters in the longest view-in-browser URL any reader can get."""
        return len(self.base) + len(VIEW_PREFIX) + 2 * 17 + SIGNATURE_CHARS

    def longest_subscriber_link(self) -> int:
        """Characters in the longest unsubscribe or preferences URL any subscriber can get."""
        return len(self.base) + len(UNSUBSCRIBE_PREFIX) + _ID_TOKEN_CHARS + _EDITION_CHARS

    def longest_reader_part(self) -> int:
        """Characters in the longest :meth:`reader_part`."""
        return 1 + _ID_TOKEN_CHARS

    # -- paths, for the web pages ------------------------------------------------------------

    def unsubscribe_path(self, subscriber_id: int, edition_id: int | None = None) -> str:
        return UNSUBSCRIBE_PREFIX + self._built()[0].sign(subscriber_id, edition_id)

    def preferences_path(self, subscriber_id: int) -> str:
        return PREFERENCES_PREFIX + self._built()[1].sign(subscriber_id)

    def confirm_path(self, request_id: int, nonce: str, email: str) -> str:
        return CONFIRM_PREFIX + self._built()[2].sign(request_id, nonce, email)

    def archive_path(self, edition_id: int) -> str:
        return f"{ARCHIVE_PREFIX}{edition_id}"

    def view_path(self, subscriber_id: int, edition_id: int) -> str:
        return VIEW_PREFIX + self._view_signer().sign(subscriber_id, edition_id)

    def _view_signer(self) -> PairSigner:
        if self._view is None:
            self._view = PairSigner(self._secret)
        return self._view

    # -- the editor's desk -------------------------------------------------------------------

    def editor_password(self, editor_id: int, nonce: str) -> str:
        """The one-time link an editor follows to set a password."""
        return self.base + self.editor_password_path(editor_id, nonce)

    def editor_password_path(self, editor_id: int, nonce: str) -> str:
        return EDITOR_PASSWORD_PREFIX + EditorLinkSigner(self._secret).sign(editor_id, nonce)

    def admin_edition(self, edition_id: int) -> str:
        """Where an editor reviews an edition."""
        return self.base + self.admin_edition_path(edition_id)

    def admin_edition_path(self, edition_id: int) -> str:
        return f"{ADMIN_EDITION_PREFIX}{edition_id}"

    def read_editor_password(self, token: str, max_age: int) -> EditorClaim:
        """The claim in a set-password token no older than ``max_age`` seconds."""
        return EditorLinkSigner(self._secret).read(token, max_age=max_age)

    # -- readers -----------------------------------------------------------------------------

    def read_unsubscribe(self, token: str) -> int:
        """The subscriber id in an unsubscribe token."""
        return self._built()[0].read(token)

    def read_unsubscribe_claim(self, token: str) -> LinkClaim:
        """The subscriber and, for a link from a digest, the edition it came in."""
        return self._built()[0].read_claim(token)

    def read_preferences(self, token: str) -> int:
        """The subscriber id in a preferences token."""
        return self._built()[1].read(token)

    def read_view(self, token: str) -> ViewClaim:
        """The reader and edition a view-in-browser token names."""
        return self._view_signer().read(token)

    def read_confirm(self, token: str, max_age: int) -> ConfirmClaim:
        """The claim in a confirm token no older than ``max_age`` seconds."""
        return self._built()[2].read(token, max_age=max_age)

    # -- engagement tracking (docs/tracking.md) ----------------------------------------------

    @property
    def tracking(self) -> TrackSigner:
        if self._track is None:
            self._track = TrackSigner(self._secret)
        return self._track

    def click(self, edition_id: int, category_id: int, article_id: str) -> str:
        """The redirect to one article of an edition, naming no reader. In per-reader mode
        the mail appends ``"/" + reader_part(...)`` to it."""
        return self.base + CLICK_PREFIX + self.tracking.click(edition_id, category_id, article_id)

    def open_image(self, edition_id: int) -> str:
        """The open image of an edition; per-reader mode appends the reader part too."""
        return self.base + OPEN_PREFIX + self.tracking.open(edition_id)

    def reader_part(self, edition_id: int, subscriber_id: int) -> str:
        """What per-reader mode appends to click and open links: ``/`` and the reader token."""
        return "/" + self.tracking.reader(edition_id, subscriber_id)

    def read_click(self, token: str) -> ClickClaim:
        return self.tracking.read_click(token)

    def read_open(self, token: str) -> int:
        """The edition id in an open-image token."""
        return self.tracking.read_open(token)

    def read_reader(self, edition_id: int, token: str) -> int:
        """The subscriber id in a reader token made for ``edition_id``."""
        return self.tracking.read_reader(edition_id, token)
