"""CSRF tokens and security headers for the readers' pages.

CSRF tokens are stateless: an itsdangerous timestamp signature over a hash of the form's
path, with a salt of its own. No cookie and no session are involved, which keeps the pages
working for readers who block cookies and keeps the one-click unsubscribe cookie-free.

Why that is enough: every form that changes an existing subscription posts to a path that
holds a signed link token (/p/TOKEN, /u/TOKEN, /c/TOKEN). A valid CSRF token for such a path
can only be had by loading that page, which needs the link token, which is the authority
itself; another site can neither guess it nor read our pages (no CORS). The sign-up form has
no secret path: its token proves only that the post came from a page we served, recently.
Sign-up is protected by what it can do instead: it only ever sends a confirmation email,
behind a honeypot and per-IP and per-address limits (see views.subscribe).
"""

from __future__ import annotations

import hashlib
import hmac

from itsdangerous import BadSignature, SignatureExpired, TimestampSigner

CSRF_SALT = "digest.web.csrf"
CSRF_FIELD = "csrf_token"
# A reader may leave a preferences page open for a while before saving.
CSRF_MAX_AGE = 12 * 3600
FORM_CONTENT_TYPES = ("application/x-www-form-urlencoded", "multipart/form-data")


class CsrfError(Exception):
    """A form arrived without a valid CSRF token."""


class CsrfTokens:
    def __init__(self, secret: str, *, max_age: int = CSRF_MAX_AGE) -> None:
        self._signer = TimestampSigner(secret, salt=CSRF_SALT, digest_method=hashlib.sha256)
        self._max_age = max_age

    @staticmethod
    def _bound(path: str) -> bytes:
        return hashlib.sha256(path.encode("utf-8")).hexdigest()[:16].encode("ascii")

    def issue(self, path: str) -> str:
        """A token for a form that posts to ``path``."""
        return self._signer.sign(self._bound(path)).decode("ascii")

    def check(self, token: str | None, path: str) -> None:
        if not token:
            raise CsrfError("missing")
        try:
            value = self._signer.unsign(token.encode("utf-8", "replace"), max_age=self._max_age)
        except SignatureExpired as e:
            raise CsrfError("expired") from e
        except BadSignature as e:
            raise CsrfError("forged") from e
        if not hmac.compare_digest(value, self._bound(path)):
            raise CsrfError("made for another form")


def security_headers() -> dict[str, str]:
    """Headers for every response. No inline script or style anywhere: the stylesheet and
    the one script (timezone.js) are same-origin files, so the policy can forbid the rest.
    No page may be framed (clickjacking on the unsubscribe and preferences buttons)."""
    return {
        "Content-Security-Policy": (
            "default-src 'none'; script-src 'self'; style-src 'self'; img-src 'self'; "
            "form-action 'self'; "
            "base-uri 'none'; frame-ancestors 'none'"
        ),
        "X-Frame-Options": "DENY",  # for browsers older than frame-ancestors
        "X-Content-Type-Options": "nosniff",
        # Link tokens sit in our URLs: never send them to another site in a Referer.
        "Referrer-Policy": "no-referrer",
        "Cross-Origin-Opener-Policy": "same-origin",
    }
