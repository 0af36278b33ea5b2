"""One exception tree. Every error a user can cause is a DigestError with a one-line message
that names the input (file, line, field) and what was wrong; the CLI prints it without a
traceback and exits non-zero."""

from __future__ import annotations


class DigestError(Exception):
    """Root of every error a user can act on."""

    exit_code = 1

    def __init__(self, message: str, *, hint: str | None = None) -> None:
        super().__init__(message)
        self.message = message
        self.hint = hint

    def __str__(self) -> str:
        return f"{self.message} ({self.hint})" if self.hint else self.message


class ConfigError(DigestError):
    """digest.toml or an environment override is wrong."""


class StoreError(DigestError):
    """The database cannot be opened, is not SQLite, or is locked."""


class InputError(DigestError):
    """A file, feed, CSV row or command-line value is malformed."""


class NotFoundError(DigestError):
    """A named subscriber, category, edition or article does not exist."""


class TemplateError(DigestError):
    """A template is missing, does not compile, or uses an unknown variable."""


class DeliveryError(DigestError):
    """The relay refused the send as a whole (auth, policy, too many failures)."""


class SendLockedError(DigestError):
    """Another process is already sending this edition."""

    exit_code = 75  # EX_TEMPFAIL: try again later


class LeaseLostError(SendLockedError):
    """This process's lease on an edition was taken over (it was paused or stalled past the
    lease): it must not change anything of that edition any more."""


class SchedulerLockedError(DigestError):
    """Another `digest schedule run` is already running against this database."""

    exit_code = 75  # EX_TEMPFAIL, like SendLockedError
