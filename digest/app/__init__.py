"""The application core: one object that owns every use case, under thin adapters.

The CLI (digest.cli), the web pages (digest.web) and the scheduler (digest.schedule) parse
their input, call one method of an :class:`App` and present its typed result. Only the core
and the store touch the database; see docs/architecture.md for the layers and their rules.
"""

from __future__ import annotations

from pathlib import Path

from digest.app.archive import Archive, ArchivePage
from digest.app.audience import AddResult, ImportResult, ReaderHistory
from digest.app.base import DatabaseFailure, TransportFactory, smtp_transports
from digest.app.copies import ReaderCopies
from digest.app.desk import CategoryPlan, EditionPlanView, PlannedArticle
from digest.app.editions import EditionDetail, EditionSummary, Preview, TestSend
from digest.app.editors import EditorInvite, Editors, LoginRefused
from digest.app.hooks import HookResult, ProviderHooks
from digest.app.integration import Integration, NewKey, ReaderChange
from digest.app.lookups import ArticleCarried, Lookups, ReaderDetail
from digest.app.metrics import Metrics, Observed
from digest.app.report_values import CategoryChart, DeskStats, EditionStats, Trend
from digest.app.reports import Reports
from digest.app.sample import Sample, SampleResult
from digest.app.scheduled import NextEdition, Scheduled, SendRun
from digest.app.sending import EditionRun
from digest.app.signup import Choices, ConfirmOutcome, MailJob, Refusal
from digest.app.tracking import Fetch, Tracking
from digest.app.webhooks import Hooks, NewWebhook, WebhookRun
from digest.clock import Clock, system_clock
from digest.config import Settings
from digest.store import Store


class App(
    ReaderCopies,
    Scheduled,
    Sample,
    Integration,
    Hooks,
    ProviderHooks,
    Observed,
    Archive,
    Editors,
    Lookups,
    Tracking,
    Reports,
):
    """Every use case of digest, over one settings object, one store, one way to reach the
    relay and one clock. Thread-safe in the way the adapters use it: each thread gets its
    own database connection from the store."""

    @classmethod
    def open(
        cls,
        settings: Settings,
        *,
        clock: Clock = system_clock,
        transports: TransportFactory | None = None,
        create: bool = False,
    ) -> App:
        """An App on the database named in ``settings``. Only `digest init` passes
        ``create=True``: everything else refuses a database that does not exist yet."""
        store = Store(Path(settings.db_path), create=create, busy_timeout=settings.db_busy_timeout)
        return cls(settings, store, transports=transports, clock=clock)


__all__ = [
    "AddResult",
    "App",
    "ArchivePage",
    "ArticleCarried",
    "CategoryChart",
    "CategoryPlan",
    "Choices",
    "ConfirmOutcome",
    "DatabaseFailure",
    "DeskStats",
    "EditionDetail",
    "EditionPlanView",
    "EditionRun",
    "EditionStats",
    "EditionSummary",
    "EditorInvite",
    "Fetch",
    "HookResult",
    "ImportResult",
    "LoginRefused",
    "MailJob",
    "Metrics",
    "NewKey",
    "NewWebhook",
    "NextEdition",
    "PlannedArticle",
    "Preview",
    "ReaderChange",
    "ReaderDetail",
    "ReaderHistory",
    "Refusal",
    "SampleResult",
    "SendRun",
    "TestSend",
    "TransportFactory",
    "Trend",
    "WebhookRun",
    "smtp_transports",
]
