"""The coordinators' morning digest: what needs a phone call or a booking today, once per clinic per day.

Beat runs ``send_coordinator_digests`` every few minutes. A clinic is due once its local clock has
passed ``DIGEST_SEND_TIME``; the first run that day writes the clinic's ``DigestRun`` row, and the
unique constraint on (clinic, day) lets exactly one worker win, however many run at once. The row is
committed before anything is sent, so a second worker never sends too. If no email could go out the
claim is dropped and the next run tries again; once one has gone, the day is done.

It goes to staff, but through mail servers outside the clinic: it carries counts and a link to the
dashboard, never a patient's name, record number or state.
"""

import datetime
import logging
from dataclasses import dataclass

from django.conf import settings
from django.db import IntegrityError, transaction

from patients.clinic_time import clinic_midnight, clinic_today
from patients.emails import build_email
from patients.models import Clinic, DigestRun, Membership
from patients.records.schedule import CoverageState
from patients.worklists import queries

logger = logging.getLogger(__name__)


@dataclass(frozen=True)
class Section:
    title: str
    count: int


def digest_sections(clinic: Clinic, *, today: datetime.date) -> list[Section]:
    """How many patients each of the dashboard's calling and booking lists holds for one clinic,
    most urgent first: the same queries as the dashboard.

    Counts only: an email leaves the clinic's systems, so it names no patient and no record
    number; the dashboard, behind a sign-in, has the names.
    """
    lapses = queries.lapses(clinic, today=today)
    # Yesterday's failures and expiries, and today's skipped rows (known in advance: phone instead).
    calls = queries.reminders_needing_a_call(
        clinic,
        since=clinic_midnight(today - datetime.timedelta(days=1), clinic),
        until=clinic_midnight(today + datetime.timedelta(days=1), clinic),
    )
    stopped = queries.visits_to_phone_about(clinic, today=today, now=clinic_midnight(today, clinic))
    return [
        Section(CoverageState.LAPSED.label, lapses[CoverageState.LAPSED].count()),
        Section(CoverageState.REINDUCTION_REQUIRED.label, lapses[CoverageState.REINDUCTION_REQUIRED].count()),
        Section("Renewal window open, no appointment", queries.open_renewal_windows(clinic, today=today).count()),
        Section(
            f"Missed visits (last {queries.MISSED_VISIT_DAYS} days)",
            queries.missed_awaiting_call(clinic, today=today).count(),
        ),
        Section("Reminders that did not go out (phone instead)", calls.count() + stopped.count()),
    ]


def coordinators(clinic: Clinic) -> list[str]:
    """Addresses of the clinic's active coordinators, each once."""
    emails = (
        Membership.objects.filter(clinic=clinic, role=Membership.Role.COORDINATOR, user__is_active=True)
        .exclude(user__email="")
        .order_by("user__email")
        .values_list("user__email", flat=True)
    )
    return list(dict.fromkeys(emails))


def _claim(clinic: Clinic, day: datetime.date, *, now: datetime.datetime) -> DigestRun | None:
    """The day's run for the clinic if this worker may send it, else None.

    The first worker creates the day's row; the unique constraint turns away the others. A row
    claimed but never stamped sent (its worker died before sending) is taken over once
    DIGEST_CLAIM_MINUTES have passed, by a conditional update only one worker can win.
    """
    if DigestRun.objects.filter(clinic=clinic, day=day, sent_at__isnull=False).exists():
        return None
    try:
        # Durable: the claim is committed before any email goes, so a rival worker sees it.
        with transaction.atomic(durable=True):
            return DigestRun.objects.create(clinic=clinic, day=day, claimed_at=now)
    except IntegrityError:
        pass
    stale = now - datetime.timedelta(minutes=settings.DIGEST_CLAIM_MINUTES)
    abandoned = DigestRun.objects.filter(clinic=clinic, day=day, sent_at__isnull=True, claimed_at__lt=stale)
    if abandoned.update(claimed_at=now) != 1:
        return None
    return DigestRun.objects.get(clinic=clinic, day=day)


def send_clinic_digest(clinic: Clinic, *, now: datetime.datetime) -> int:
    """Send the clinic's digest for its local today if not done yet; returns emails sent."""
    today = clinic_today(clinic, now=now)
    run = _claim(clinic, today, now=now)
    if run is None:
        return 0
    recipients = coordinators(clinic)
    sections = digest_sections(clinic, today=today) if recipients else []
    context = {
        "clinic": clinic,
        "today": today,
        "sections": sections,
        "total": sum(section.count for section in sections),
        "dashboard_url": settings.SITE_URL + "/",
    }
    sent = 0
    try:
        for address in recipients:
            build_email("digest", context, to=[address], from_email=settings.DEFAULT_FROM_EMAIL).send()
            sent += 1
    except Exception:
        if sent == 0:
            # Nobody has it yet: let the next run try again rather than lose the day.
            run.delete()
            raise
        # Some have it: sending again would give them a second copy, so the day stays done.
        logger.exception("The digest for %s reached %d of %d coordinators", clinic.name, sent, len(recipients))
    run.sent_at = now
    run.save(update_fields=["sent_at"])
    return sent


def send_coordinator_digests(*, now: datetime.datetime) -> int:
    """Each clinic whose local time has reached DIGEST_SEND_TIME gets today's digest, once."""
    sent = 0
    for clinic in Clinic.objects.order_by("pk"):
        if now.astimezone(clinic.zone).time() < settings.DIGEST_SEND_TIME:
            continue
        try:
            sent += send_clinic_digest(clinic, now=now)
        except Exception:
            # One clinic's broken mail server or bad row must not hold back every other clinic.
            logger.exception("The digest for %s could not be sent", clinic.name)
    return sent
