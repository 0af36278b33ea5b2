"""Approval on schedule (``[schedule] approval = "required"``): the scheduler prepares the
draft ``prepare_hours_before`` the send and emails the editors a link to review it; at the
send time an unapproved edition is held (and the editors told), and it goes as soon as it is
approved, within ``max_delay_hours``, else it is recorded as skipped with the reason
(digest.app.scheduled decides the hold and the skip; this module prepares and notifies)."""

from __future__ import annotations

import logging
from datetime import datetime, timedelta

from digest.app.desk import Desk
from digest.models import Edition, EditionStatus, Recipient
from digest.render.notice import editor_notice
from digest.store import desk as desk_store
from digest.store import editions as store
from digest.store import editors as editor_store
from digest.timing import SendSpec, edition_period, fmt, next_send_time, send_zones

log = logging.getLogger("digest.schedule")


class Approvals(Desk):
    @property
    def approval_required(self) -> bool:
        return self.settings.schedule.approval == "required"

    def next_send(self, frequency: str, now: datetime) -> tuple[datetime, str]:
        """The next send time of ``frequency`` after ``now`` (the earliest zone's, under
        local-time delivery) and the period it sends."""
        spec = SendSpec.from_settings(self.settings, frequency)
        times = [next_send_time(spec, tz, now) for tz in send_zones(self.settings)]
        first = min(times)
        tz = send_zones(self.settings)[times.index(first)]
        return first, edition_period(self.settings, spec, first.astimezone(tz).date())

    def prepare_due(self, frequency: str) -> Edition | None:
        """With approval required: the draft of the next edition, made once its send time
        is ``prepare_hours_before`` away, the editors emailed a link to review it. None when
        it is not time yet, or the edition already exists."""
        if not self.approval_required:
            return None
        now = self.now()
        due, period = self.next_send(frequency, now)
        ahead = timedelta(hours=self.settings.schedule.prepare_hours_before)
        if now < due - ahead or store.find_edition(self.db, frequency, period) is not None:
            return None
        if next(store.iter_planned_recipients(self.db, frequency, batch=1), None) is None:
            return None  # nobody reads this frequency
        view = self.prepare_edition(frequency, now, editor="scheduler", period=period, due_at=due)
        edition = view.edition
        log.info("%s %s: draft #%d prepared for review", frequency, period, edition.id)
        self.notify_editors(
            edition,
            f"{self.settings.site.name}: the {frequency} edition {period} is ready for review",
            f"The {frequency} edition {period} (#{edition.id}) is prepared. It goes out at "
            f"{fmt(due, self.settings.tz)} once an editor has approved it.\n\n"
            f"Review and approve it:\n{self.links.admin_edition(edition.id)}\n\n"
            f"Or from a terminal: digest editions show {edition.id}, then "
            f"digest editions approve {edition.id}\n",
        )
        return edition

    def hold_edition(self, edition: Edition, due: datetime) -> None:
        """The send time came without an approval: held, and the editors told (once)."""
        if edition.status != EditionStatus.DRAFT:
            return
        held = desk_store.set_status(
            self.db,
            edition.id,
            EditionStatus.HELD,
            allowed_from=(EditionStatus.DRAFT,),
            now=self.now(),
            editor="scheduler",
            action="hold",
            detail=f"due at {fmt(due, self.settings.tz)}, not approved",
        )
        if not held:
            return
        hours = self.settings.schedule.max_delay_hours
        log.warning("%s %s: held, waiting for approval", edition.frequency, edition.period)
        self.notify_editors(
            edition,
            f"{self.settings.site.name}: the {edition.frequency} edition {edition.period} is "
            "held until approved",
            f"The {edition.frequency} edition {edition.period} (#{edition.id}) was due at "
            f"{fmt(due, self.settings.tz)} and has not been approved, so it was not sent.\n"
            f"It goes out as soon as it is approved, if within {hours:g} hours of that time; "
            "later, it is skipped.\n\n"
            f"Review and approve it:\n{self.links.admin_edition(edition.id)}\n",
        )

    def notify_editors(self, edition: Edition, subject: str, text: str) -> int:
        """Email every editor; returns how many the relay accepted. A failure is logged,
        never raised: the send must not depend on the notice."""
        editors = editor_store.list_editors(self.db)
        if not editors:
            log.warning(
                "%s %s: no editors to notify (`digest editors add`)",
                edition.frequency,
                edition.period,
            )
            return 0
        accepted = 0
        transport = self.transports()
        try:
            for editor in editors:
                message = editor_notice(
                    self.renderer.envelope,
                    Recipient(0, editor.email, editor.name),
                    subject,
                    text,
                    message_id=self.message_id(),
                    date=self.now(),
                )
                result = transport.send(message)
                if result.kind == "sent":
                    accepted += 1
                else:
                    log.warning(
                        "notice to %s refused: %s %s", editor.email, result.code, result.reply
                    )
        except Exception as e:  # the relay is down: the scheduler goes on
            log.warning("notice to the editors not sent: %s", e)
        finally:
            transport.close()
        desk_store.record_change(
            self.db, edition.id, self.now(), "scheduler", "notify", f"{accepted} editor(s)"
        )
        return accepted
