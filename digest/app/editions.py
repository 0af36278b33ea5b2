"""Use cases for editions: open one, look at it (list, show, preview, dry run), send a test
copy, and send it for real (the loop itself is :class:`digest.app.sending.EditionRun`).

An edition is one frequency for one period (ISO week ``2026-W48``, day ``2026-11-28``). Its
cutoff is the moment it is created (or prepared as a draft, digest.app.desk); its recipients
are fixed when its send starts, in one transaction.
"""

from __future__ import annotations

import dataclasses
import sqlite3
import threading
import time
from collections.abc import Callable, Iterator, Sequence
from dataclasses import dataclass, field
from datetime import datetime
from typing import TYPE_CHECKING

from digest.app.feedback import Feedback
from digest.app.sending import EditionRun
from digest.curate import NO_PLAN, Curator, EditionPlan, EditionWindow, edition_window
from digest.deliver.compose import Composer, Variants, random_message_ids, window_of
from digest.deliver.doctor import (
    Check,
    Dns,
    check_dkim,
    check_dmarc,
    check_return_path,
    check_spf,
)
from digest.deliver.outbox import Outbox
from digest.deliver.report import SendReport, finish_report
from digest.deliver.smtp import SendResult, check_relay
from digest.errors import DeliveryError, InputError, NotFoundError
from digest.mime import DeliveryMessageIds, DkimSigner, envelope_sender, sending_domain
from digest.models import (
    DeliveryRow,
    DigestContent,
    Edition,
    EditionStatus,
    OutgoingMessage,
    Recipient,
    RecipientRow,
)
from digest.progress import NO_PROGRESS, Progress, counted
from digest.render import RenderedVariant
from digest.render.checks import CheckReport, check_templates
from digest.render.intro import render_intro
from digest.store import bounces as bounce_store
from digest.store import desk as desk_store
from digest.store import editions as store
from digest.store.categories import resolve_categories
from digest.timing import day_period, reader_days
from digest.validate import normalise_email

if TYPE_CHECKING:
    from dns.resolver import Resolver

# Who a category preview is addressed to: nobody (RFC 2606 reserves .invalid).
PREVIEW_RECIPIENT = Recipient(subscriber_id=0, email="preview@example.invalid", name="")


@dataclass(frozen=True)
class EditionSummary:
    edition: Edition
    counts: dict[str, int]  # deliveries by status, plus 'recipients'


@dataclass(frozen=True)
class EditionDetail(EditionSummary):
    bounces: dict[str, int] = field(default_factory=dict)  # hard, soft, complaints, policy
    deliveries: tuple[DeliveryRow, ...] = ()


@dataclass(frozen=True)
class Preview:
    recipient: Recipient
    content: DigestContent


@dataclass(frozen=True)
class RenderedPreview:
    variant: RenderedVariant
    data: bytes  # the HTML page, the text part, or the whole message as sent


@dataclass(frozen=True)
class TestSend:
    address: str
    message: OutgoingMessage
    result: SendResult


class Editions(Feedback):
    # -- finding and opening -----------------------------------------------------------------

    def open_edition(
        self, frequency: str, as_of: datetime, *, period: str | None = None
    ) -> Edition:
        """The edition for the period containing ``as_of`` (or the named ``period``): found,
        or created with its recipients and the cutoff ``as_of``. The scheduler names the
        period itself under local-time delivery."""
        self.ensure_templates()
        window = edition_window(self.settings, frequency, as_of)
        period = period or window.period
        edition = store.find_edition(self.db, frequency, period)
        if edition is not None:
            return edition
        try:
            if self.settings.schedule.approval == "required":
                # Nobody has looked at it yet: a draft, which `send` then refuses.
                return desk_store.create_draft(
                    self.db,
                    frequency=frequency,
                    period=period,
                    starts_at=window.starts_at,
                    ends_at=window.ends_at,
                    now=self.now(),
                    approval="required",
                    due_at=None,
                    editor="digest send",
                )
            return store.create_edition(
                self.db,
                frequency=frequency,
                period=period,
                starts_at=window.starts_at,
                ends_at=window.ends_at,
                now=self.now(),
                days=reader_days(self.settings, frequency, period),
            )
        except sqlite3.IntegrityError:
            # Another process created it a moment ago; the send lock decides who sends.
            found = store.find_edition(self.db, frequency, period)
            if found is None:
                raise
            return found

    def find_edition(self, frequency: str, period: str) -> Edition | None:
        return store.find_edition(self.db, frequency, period)

    def list_editions(self) -> list[EditionSummary]:
        return [
            EditionSummary(e, store.delivery_counts(self.db, e.id))
            for e in store.list_editions(self.db)
        ]

    def show_edition(self, edition_id: int, *, deliveries: bool = False) -> EditionDetail:
        edition = store.get_edition(self.db, edition_id)
        return EditionDetail(
            edition,
            store.delivery_counts(self.db, edition.id),
            bounces=bounce_store.bounce_counts(self.db, edition.id),
            deliveries=tuple(store.deliveries_of(self.db, edition.id)) if deliveries else (),
        )

    # -- content -----------------------------------------------------------------------------

    def curator(self, window: EditionWindow, edition_id: int | None = None) -> Curator:
        """The edition's curator, with what its editors decided (pins, exclusions, intro,
        subject) when it is a stored edition."""
        db = self.db
        plan = self.edition_plan(edition_id) if edition_id is not None else NO_PLAN
        return Curator(
            self.settings,
            window,
            names=store.category_names(db),
            articles=lambda after, until: store.available_articles(
                db, published_after=after, available_until=until
            ),
            edition_id=edition_id if edition_id is not None else self.upcoming_edition_id(window),
            plan=plan,
        )

    def upcoming_edition_id(self, window: EditionWindow) -> int:
        """The id of the window's edition, or the one it will be opened with: a preview or a
        dry run carries the links the send will (view in browser, "6 more"), signed for that
        id (docs/email.md rule 28). SQLite gives a new row the largest id plus one."""
        found = store.find_edition(self.db, window.frequency, window.period)
        return found.id if found is not None else store.next_edition_id(self.db)

    def edition_plan(self, edition_id: int) -> EditionPlan:
        edition = store.get_edition(self.db, edition_id)
        pins: dict[int, list[str]] = {}
        excluded: set[str] = set()
        for pick in desk_store.picks(self.db, edition_id):
            if pick.action == "pin":
                pins.setdefault(pick.category_id, []).append(pick.article_id)
            else:
                excluded.add(pick.article_id)
        intro = render_intro(edition.intro)
        return EditionPlan(
            pins={c: tuple(ids) for c, ids in pins.items()},
            excluded=frozenset(excluded),
            intro_html=intro.html,
            intro_text=intro.text,
            subject=edition.subject,
        )

    def preview_for_categories(
        self, categories: Sequence[str], as_of: datetime, *, frequency: str = "weekly"
    ) -> Preview | None:
        """What a new reader of these categories would get in the edition at ``as_of``;
        None when nothing is new."""
        self.ensure_templates()
        ids = tuple(sorted(c.id for c in resolve_categories(self.db, list(categories))))
        curator = self.curator(edition_window(self.settings, frequency, as_of))
        content = curator.select(ids, None)
        return Preview(PREVIEW_RECIPIENT, content) if content else None

    def preview_for_subscriber(self, email: str, as_of: datetime) -> Preview | None:
        """What this subscriber would get in their next edition at ``as_of``."""
        self.ensure_templates()
        row = store.planned_recipient(self.db, email)
        if row is None:
            raise NotFoundError(f"no subscriber with address {email!r}")
        frequency = store.subscriber_frequency(self.db, row.subscriber_id)
        curator = self.curator(edition_window(self.settings, frequency, as_of))
        recipient = Recipient(subscriber_id=row.subscriber_id, email=row.email, name=row.name)
        content = curator.content_for(row)
        return Preview(recipient, content) if content else None

    def render_preview(self, preview: Preview, fmt: str, *, date: datetime) -> RenderedPreview:
        """``preview`` rendered as ``fmt``: html, text, or eml (the exact bytes it would be
        sent as, dated ``date``)."""
        self.ensure_templates()
        renderer = self.renderer
        variant = renderer.render_variant(preview.content)
        if fmt == "html":
            data = renderer.render_html(variant, preview.recipient).encode("utf-8")
        elif fmt == "text":
            data = renderer.render_text(variant, preview.recipient).encode("utf-8")
        else:
            message = renderer.personalise(
                variant, preview.recipient, message_id=self.message_id(), date=date
            )
            data = message.data
        return RenderedPreview(variant, data)

    def check_templates(self, template_dir: str | None = None) -> CheckReport:
        """Render the templates against the matrix of sample contexts and audit the result
        (digest.render.guard); every send, dry run and preview runs the same check first."""
        return check_templates(self.settings, template_dir)

    def test_send(
        self,
        to: str,
        *,
        as_of: datetime,
        as_subscriber: str | None = None,
        categories: Sequence[str] = (),
    ) -> TestSend:
        """One real copy of a digest to an editor's address, "[TEST]" in the subject,
        recording nothing: the copy ``as_subscriber`` would get, or a new reader of
        ``categories``."""
        self.ensure_templates()
        address = normalise_email(to)
        if as_subscriber:
            preview = self.preview_for_subscriber(as_subscriber, as_of)
        else:
            preview = self.preview_for_categories(categories, as_of)
        if preview is None:
            raise NotFoundError("nothing new in that digest at this moment: no test copy sent")
        return self.send_test_copy(address, preview)

    def send_test_copy(self, to: str, preview: Preview) -> TestSend:
        """Send ``preview`` once to ``to`` with "[TEST]" in the subject, recording nothing."""
        address = normalise_email(to)
        renderer = self.new_renderer()
        variant = renderer.render_variant(preview.content, subject_prefix="[TEST] ")
        message = renderer.personalise(
            variant,
            Recipient(subscriber_id=0, email=address, name=""),
            message_id=self.message_id(),
            date=self.now(),
        )
        transport = self.transports()
        try:
            result = transport.send(message)
        finally:
            transport.close()
        if result.kind != "sent":
            raise DeliveryError(f"test copy to {address} refused: {result.code} {result.reply}")
        return TestSend(address, message, result)

    # -- dry run and send --------------------------------------------------------------------

    def _day_window(self, frequency: str, as_of: datetime, day: str) -> EditionWindow:
        """The window of the edition containing ``as_of``, for the readers of ``day``."""
        window = edition_window(self.settings, frequency, as_of)
        period = day_period(self.settings, frequency, window.period, day)
        return dataclasses.replace(window, period=period)

    def dry_run(
        self,
        frequency: str,
        as_of: datetime,
        *,
        outbox: Outbox | None = None,
        progress: Progress = NO_PROGRESS,
        day: str = "",
    ) -> SendReport:
        """Render every message the real send would, send nothing, write nothing to the
        database. For an edition that was interrupted, shows what resuming it would send.
        ``day``: the weekly edition of the readers of that delivery day ('' the site's)."""
        self.ensure_templates()
        started = time.monotonic()
        window = self._day_window(frequency, as_of, day)
        edition = store.find_edition(self.db, frequency, window.period)
        if edition is not None and edition.status.finished:
            return self.already_done(edition)
        report = SendReport(frequency=frequency, period=window.period, edition_id=None)
        page = self.settings.sending.page_size
        rows: Iterator[RecipientRow]
        if edition is not None:
            window = window_of(edition)
            report.edition_id = edition.id
        if edition is not None and edition.status == EditionStatus.SENDING:
            rows = store.iter_open_deliveries(self.db, edition.id, batch=page)
            total = store.count_open(self.db, edition.id)[0]
        else:  # not started (or a draft): the readers a send now would fix
            days = reader_days(self.settings, frequency, window.period)
            rows = store.iter_planned_recipients(self.db, frequency, batch=page, days=days)
            total = store.count_planned_recipients(self.db, frequency, days=days)
        progress.start(total, "Dry run")
        rows = counted(rows, progress)
        renderer = self.new_renderer()
        domain = sending_domain(self.settings)
        compose = Composer(
            curator=self.curator(window, report.edition_id),
            variants=Variants(renderer, report),
            report=report,
            clock=self.clock,
            message_id=(
                DeliveryMessageIds(
                    self.settings.secret_key, domain, edition.id, str(edition.created_at)
                )
                if edition is not None and edition.status == EditionStatus.SENDING
                else random_message_ids(domain)
            ),
            on_skip=lambda row, why: None,
            on_undeliverable=lambda row, why: None,
        )
        for job in compose(rows):
            if outbox is not None:
                outbox.write(job.message, job.article_ids)
        if outbox is not None:
            outbox.close()
        progress.done()
        finish_report(report, renderer.compile_count, started)
        return report

    def doctor(self, resolver: Resolver | None = None) -> list[Check]:
        """SPF, DKIM, DMARC and the return path as DNS shows them (NoDnsError when no
        resolver answers at all)."""
        dns = Dns(resolver)
        from_domain = sending_domain(self.settings)
        rp = envelope_sender(self.settings).rpartition("@")[2].lower()
        rp = rp.replace("{token}", "x")
        checks = [check_spf(rp, dns.txt(rp))]
        signer = DkimSigner.from_settings(self.settings)
        if signer is None:
            checks.append(Check("DKIM", False, "[dkim] is off: make sure your relay signs"))
        else:
            for algorithm, public in signer.loaded.public_records().items():
                name = f"{signer.selectors[algorithm]}._domainkey.{self.settings.dkim.domain}"
                checks.append(check_dkim(name, dns.txt(name), public))
        checks.append(check_dmarc(from_domain, dns.txt(f"_dmarc.{from_domain}")))
        checks.append(check_return_path(rp, from_domain, dns.exists(rp)))
        return checks

    def check_relay(self) -> None:
        """Fail fast with a clear message when no relay of the pool can be reached or every
        one refuses us; one that answers is enough (the pool routes around the others)."""
        smtp = self.settings.smtp
        errors: list[DeliveryError] = []
        for relay in smtp.pool:
            try:
                check_relay(relay.parsed, timeout=smtp.timeout)
                return
            except DeliveryError as e:
                errors.append(e)
        if len(errors) == 1:
            raise errors[0]
        raise DeliveryError("no relay of the pool answers: " + "; ".join(map(str, errors)))

    def send(
        self,
        frequency: str,
        as_of: datetime,
        *,
        edition: Edition | None = None,
        stop: threading.Event | None = None,
        progress: Progress = NO_PROGRESS,
        due: Callable[[RecipientRow], bool] | None = None,
        sleep: Callable[[float], None] = time.sleep,
        retry_delay: float = 2.0,
        day: str = "",
    ) -> SendReport:
        """Send (or resume) the edition of ``frequency`` for the period containing
        ``as_of``, or ``edition``. ``due`` picks the recipients whose turn it is (local-time
        delivery); the others stay pending and the edition stays open. ``day``: the weekly
        edition of the readers of that delivery day ('' the site's; README "Delivery day")."""
        self.ensure_templates()
        if edition is None:
            period = self._day_window(frequency, as_of, day).period
            edition = self.open_edition(frequency, as_of, period=period)
        if edition.status.steerable:
            edition = self.start_edition(edition, editor="digest send")
        if edition.status != EditionStatus.SENDING:
            return self.already_done(edition)
        run = EditionRun(
            self,
            edition,
            self.curator(window_of(edition), edition.id),
            stop=stop or threading.Event(),
            progress=progress,
            due=due,
            sleep=sleep,
            retry_delay=retry_delay,
        )
        return run.run()

    def start_edition(self, edition: Edition, *, editor: str) -> Edition:
        """A prepared edition begins its send: its recipients are fixed now. Refused while
        it needs an approval nobody has given."""
        if edition.awaiting_approval:
            raise InputError(
                f"edition #{edition.id} ({edition.frequency} {edition.period}) is "
                f"{'a draft' if edition.status == EditionStatus.DRAFT else 'held'} and needs "
                "approval before it is sent: review it with "
                f"`digest editions show {edition.id}`, then `digest editions approve "
                f"{edition.id}`"
            )
        desk_store.start_edition(
            self.db,
            edition.id,
            edition.frequency,
            self.now(),
            editor=editor,
            days=reader_days(self.settings, edition.frequency, edition.period),
        )
        return store.get_edition(self.db, edition.id)

    def already_done(self, edition: Edition) -> SendReport:
        counts = store.delivery_counts(self.db, edition.id)
        status = "already-complete" if edition.status == EditionStatus.SENT else edition.status
        return SendReport(
            frequency=edition.frequency,
            period=edition.period,
            edition_id=edition.id,
            status=status,
            recipients=counts["recipients"],
            sent=counts["sent"],
            skipped=counts["skipped"],
            failed=counts["failed"],
            bounced=counts["bounced"],
            stop_reason=edition.note,
        )
