"""``manage.py seed_demo [--patients N]``: a demo clinic to click through, or to benchmark.

The clinic, its catalogue, therapy groups and three logins are made once with ``get_or_create``.
Patients come from ``patients.demo`` and are only ever added: a rerun with the same N changes
nothing, a larger N adds the missing ones in the same mix, a smaller one says so and deletes nothing.
Each batch of patients is written in bulk in one transaction of its own, so an interrupted run
leaves whole patients behind and the next run carries on from there. Each patient, placement, visit
and session gets the "created" history row a service's save would have left (``patients.audit.services``);
group rosters are written without one, so a group's history starts at its first change. Reminders
are the outbox as the services and the dispatcher would have left it (``reminders_of``).
"""

import datetime
import itertools
import zoneinfo
from collections.abc import Callable, Iterator
from typing import Any

from django.conf import settings
from django.contrib.auth import get_user_model
from django.contrib.auth.models import User
from django.core.management.base import BaseCommand, CommandError, CommandParser
from django.db import transaction
from django.utils import timezone

from patients import demo
from patients.audit import services as audit
from patients.clinic_time import clinic_today
from patients.models import (
    Clinic,
    Membership,
    Patient,
    Placement,
    Product,
    Reminder,
    TherapyGroup,
    TherapySession,
    Visit,
)
from patients.records import latest_results, newest
from patients.records.selectors import schedule_rules
from patients.reminders import outbox
from patients.therapy import counts as attendance_counts

DEFAULT_PATIENTS = 60
# About 12,000 rows a transaction at the demo mix; 10,000 patients report progress every 5 %.
BATCH_SIZE = 500
HISTORY_REASON = "Demo data (seed_demo)"

CLINIC_NAME = "Riverside Health Centre"
# Neutral on purpose: the clinic's name and details appear in every reminder email.
CLINIC_DETAILS = {
    "time_zone": "Europe/London",
    "phone": "020 7946 0321",
    "address": "14 Mill Lane\nLondon SE1 7QT",
    "reply_to_email": "appointments@riverside-health.example",
}
THREE_MONTH, SIX_MONTH, INJECTION = "Three-month implant", "Six-month implant", "Monthly injection"
# Name, formulation, coverage length and unit, and days before coverage ends that renewal opens.
CATALOGUE = (
    (THREE_MONTH, "implant", 3, "months", 14),
    (SIX_MONTH, "implant", 6, "months", 14),
    (INJECTION, "injection", 4, "weeks", 7),
)
# Name, facilitator, when it meets in words, and that weekday (Monday 0) for the session dates.
GROUPS = (
    ("Tuesday evening group", "Sam Whitfield", "Tuesdays 18:00", 1),
    ("Thursday morning group", "Ruth Okoro", "Thursdays 10:30", 3),
    ("Saturday group", "Dev Sharma", "Saturdays 11:00", 5),
)
# Title, username, password, and the role in the demo clinic (none for the superuser, who sees all).
LOGINS = (
    ("Demo coordinator", "coordinator", "demo-coordinator", Membership.Role.COORDINATOR),
    ("Demo clinician", "clinician", "demo-clinician", Membership.Role.CLINICIAN),
    ("Demo manager", "manager", "demo-manager", Membership.Role.MANAGER),
    ("Demo admin", "admin", "demo-admin", None),
)


class Command(BaseCommand):
    help = (
        "Create the demo clinic (catalogue, therapy groups, demo logins) and demo patients whose histories "
        "show every coverage state. Safe to run again: it only ever adds what is missing."
    )

    def add_arguments(self, parser: CommandParser) -> None:
        parser.add_argument(
            "--patients",
            type=int,
            default=DEFAULT_PATIENTS,
            metavar="N",
            help="How many patients the demo clinic should hold in all (default %(default)s). "
            "Existing patients are kept; only the missing ones are added, in the same mix.",
        )
        parser.add_argument(
            "--allow-production",
            action="store_true",
            help="Seed even though DJANGO_ENV is production, e.g. on a staging copy. Never on real records.",
        )

    def handle(self, *args: Any, patients: int, allow_production: bool, verbosity: int, **options: Any) -> None:
        if settings.PRODUCTION and not allow_production:
            raise CommandError(
                "This is a production database, and seed_demo adds invented patients. "
                "Pass --allow-production only on a copy that holds no real records."
            )
        if patients < 0:
            raise CommandError("--patients must be 0 or more.")
        demo_clinic = set_up_clinic()
        held = Patient.objects.filter(clinic=demo_clinic.clinic).count()
        # One batch is over as soon as it starts: only a longer run needs to show how far it has got.
        long_run = patients - held > BATCH_SIZE
        progress = self._progress if verbosity and long_run else None
        added = add_patients(demo_clinic, held=held, total=patients, progress=progress)
        if not verbosity:
            return
        name = demo_clinic.clinic.name
        if added:
            self.stdout.write(f"{name} now holds {held + added} patients ({added} added).")
        elif held > patients:
            self.stdout.write(
                f"{name} already holds {held} patients, more than {patients}. "
                "seed_demo never deletes patients, so nothing changed."
            )
        else:
            self.stdout.write(f"{name} already holds {held} patients; nothing to add.")
        for title, username, password, _role in LOGINS:
            self.stdout.write(f"{title}: {username} / {password}")

    def _progress(self, done: int, total: int) -> None:
        self.stdout.write(f"Patients: {done}/{total}")
        self.stdout.flush()  # a long run piped to a file or a log still shows where it is


def set_up_clinic() -> demo.DemoClinic:
    """The clinic, its catalogue, groups and staff: created on the first run, left alone after."""
    with transaction.atomic(durable=True):
        today = timezone.localdate(timezone=zoneinfo.ZoneInfo(CLINIC_DETAILS["time_zone"]))
        clinic, _ = Clinic.objects.get_or_create(
            name=CLINIC_NAME, defaults={**CLINIC_DETAILS, "first_year": demo.first_year(today)}
        )
        products = {
            name: Product.objects.get_or_create(
                clinic=clinic,
                name=name,
                defaults={
                    "formulation": formulation,
                    "coverage_length": length,
                    "coverage_unit": unit,
                    "renewal_window_lead_days": lead,
                },
            )[0]
            for name, formulation, length, unit, lead in CATALOGUE
        }
        groups = [
            (
                TherapyGroup.objects.get_or_create(
                    clinic=clinic, name=name, defaults={"facilitator": facilitator, "meets": meets}
                )[0],
                weekday,
            )
            for name, facilitator, meets, weekday in GROUPS
        ]
        users = {username: _user(username, password, role, clinic) for _title, username, password, role in LOGINS}
    return demo.DemoClinic(
        clinic=clinic,
        three_month_implant=products[THREE_MONTH],
        six_month_implant=products[SIX_MONTH],
        injection=products[INJECTION],
        groups=groups,
        clinician=users["clinician"],
        today=clinic_today(clinic),
    )


def _user(username: str, password: str, role: str | None, clinic: Clinic) -> User:
    user, created = get_user_model().objects.get_or_create(
        username=username,
        defaults={"email": f"{username}@riverside-health.example", "is_staff": True, "is_superuser": role is None},
    )
    if created:
        # Only a new account gets the demo password, so a rerun never undoes a changed one.
        user.set_password(password)
        user.save(update_fields=["password"])
    if role is not None:
        Membership.objects.get_or_create(user=user, clinic=clinic, defaults={"role": role})
    return user


def add_patients(
    demo_clinic: demo.DemoClinic, *, held: int, total: int, progress: Callable[[int, int], None] | None = None
) -> int:
    """Add demo patients until the clinic holds ``total``; return how many were added."""
    if total <= held:
        return 0
    taken = set(
        Patient.objects.filter(clinic=demo_clinic.clinic, record_number__startswith=demo.RECORD_PREFIX).values_list(
            "record_number", flat=True
        )
    )
    # The lowest free numbers: after an earlier run of N patients, N + 1 onwards.
    free = (number for number in itertools.count(1) if demo.record_number(number) not in taken)
    numbers = list(itertools.islice(free, total - held))
    rules = schedule_rules()
    for start in range(0, len(numbers), BATCH_SIZE):
        batch = [demo.build_patient(demo_clinic, number, rules) for number in numbers[start : start + BATCH_SIZE]]
        write(batch)
        if progress is not None:
            progress(held + start + len(batch), total)
    return len(numbers)


def write(batch: list[demo.PatientRows]) -> None:
    """Save a batch in one transaction, so that an interrupted run leaves whole patients only."""
    patients = [rows.patient for rows in batch]
    placements = [placement for rows in batch for placement in rows.placements]
    members = TherapyGroup.members.through
    with transaction.atomic(durable=True):
        # The services' saves leave a "created" history row; bulk writes must add theirs.
        audit.create_with_history(Patient, patients, reason=HISTORY_REASON)
        audit.create_with_history(Placement, placements, reason=HISTORY_REASON)
        audit.create_with_history(Visit, (visit for rows in batch for visit in rows.visits), reason=HISTORY_REASON)
        now = timezone.now()
        Reminder.objects.bulk_create(reminder for rows in batch for reminder in reminders_of(rows, now=now))
        audit.create_with_history(
            TherapySession, (session for rows in batch for session in rows.sessions), reason=HISTORY_REASON
        )
        members.objects.bulk_create(
            members(therapygroup_id=rows.member_of.pk, patient_id=rows.patient.pk)
            for rows in batch
            if rows.member_of is not None
        )
        # As the services would have: each patient's newest placement, latest safety results and
        # attendance counts kept.
        newest.keep(patient.pk for patient in patients)
        latest_results.keep(patient.pk for patient in patients)
        attendance_counts.count_patients(patients)


# Why the reminders still to go out when a visit was over were withdrawn, by how it ended.
WITHDRAWN_WHEN: dict[str, str] = {
    Visit.Status.COMPLETED: Reminder.CancelReason.VISIT_COMPLETED,
    Visit.Status.MISSED: Reminder.CancelReason.VISIT_MISSED,
    Visit.Status.CANCELLED: Reminder.CancelReason.VISIT_CANCELLED,
}


def reminders_of(rows: demo.PatientRows, *, now: datetime.datetime) -> Iterator[Reminder]:
    """The outbox rows one demo patient's visits would have by now: the reminders record_placement
    wrote for each visit, sent when their time came before the visit was over (or skipped, to
    phone) and withdrawn after, and the "we missed you" the nightly job wrote for a missed visit."""
    renewed_on = {id(placement): later.placed_on for placement, later in itertools.pairwise(rows.placements)}
    for visit in rows.visits:
        over_at = _over_at(visit, renewed_on=renewed_on.get(id(visit.placement)), patient=rows.patient)
        for reminder in outbox.plan_visit_reminders(visit, now=now):
            if over_at is not None and reminder.send_at >= over_at:
                reminder.status, reminder.skip_reason = Reminder.Status.CANCELLED, ""
                reminder.cancel_reason = WITHDRAWN_WHEN[visit.status]
            yield as_already_sent(reminder, now=now)
        if visit.status == Visit.Status.MISSED and over_at is not None:
            yield as_already_sent(outbox.new_missed_visit_reminder(visit, now=over_at), now=now)


def _over_at(visit: Visit, *, renewed_on: datetime.date | None, patient: Patient) -> datetime.datetime | None:
    """When a demo visit was over: the day it took place, the day after its window closed
    unattended, or the day a renewal or the discharge cancelled it; None while it is to come."""
    if visit.status == Visit.Status.COMPLETED:
        day = visit.completed_on
    elif visit.status == Visit.Status.MISSED:
        day = visit.window_end + datetime.timedelta(days=1)
    elif visit.status == Visit.Status.CANCELLED:
        day = renewed_on or patient.discharged_on
    else:
        return None
    return None if day is None else datetime.datetime.combine(day, datetime.time(), tzinfo=patient.clinic.zone)


def as_already_sent(reminder: Reminder, *, now: datetime.datetime) -> Reminder:
    """A reminder whose time came before ``now`` in a demo history: sent on time, or skipped for a
    phone call. One withdrawn, or still to come, stays as it is."""
    if reminder.status == Reminder.Status.CANCELLED or reminder.send_at >= now:
        return reminder
    patient = reminder.patient
    if patient.email_consent and patient.email:
        reminder.status, reminder.sent_at, reminder.attempts = Reminder.Status.SENT, reminder.send_at, 1
        reminder.skip_reason = ""
    else:
        reminder.status = Reminder.Status.SKIPPED
        reminder.skip_reason = (
            Reminder.SkipReason.NO_CONSENT if not patient.email_consent else Reminder.SkipReason.NO_EMAIL
        )
    return reminder
