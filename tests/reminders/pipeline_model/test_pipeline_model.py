"""A model of the reminder pipeline: the services and the dispatcher driven together by hypothesis.

One ``RuleBasedStateMachine`` plays a clinic in Europe/London with three patients who consent to
email and a three-month implant. Its rules record placements (backdated; renewals early or late),
book and move appointments (inside the window, outside it with a reason, a missed visit again),
complete and cancel visits, mark missed ones, unsubscribe and resubscribe, discharge and readmit,
move the clock (seconds to days, at most four months from the start; beat running meanwhile or
not), run the dispatcher, and kill it: a run claims its batch and dies after sending none, some,
or one more that went out but was never stamped, while the plan changes under the rows it holds.
Refusals (``ValidationError``) are fine; a refusal must save nothing.

The machine keeps its own record of the visits and the patients (checked against the database
after every step) and notes, at each dispatcher run, what was true of every visit and patient.
Every email Django's locmem outbox captures is read back (mail.py beside this file) and held to:

- it was true when it went out: nothing about a visit cancelled, completed, missed or moved, or to
  a patient who did not consent or was discharged (a cancellation notice is about a cancelled visit
  and may reach a discharged patient; "we missed you" is about a missed visit), nothing before its
  time, after its visit, or at night;
- each visit, rule and planned appointment goes out once; a second copy only of what a killed
  worker had in flight, with the same Message-ID;
- one calendar UID per visit, and a SEQUENCE that never falls and rises when DTSTART or METHOD changes;
- every row stamped sent went out, and a run in daytime leaves nothing due or abandoned behind;
- the reminders the app promises exist: ``every_open_visit_has_its_reminders`` says which.

Every run is seeded, and a failure ends with the line that replays it, for instance:

    PIPELINE_MODEL_SEED=1234 .venv/bin/pytest tests/reminders/pipeline_model

``PIPELINE_MODEL_SHRINK=1`` also shrinks the failure to its shortest steps (minutes), and
``PIPELINE_MODEL_EXAMPLES`` / ``PIPELINE_MODEL_STEPS`` (default 25 and 30) make a longer search.
"""

import datetime
import os
import random
from collections.abc import Callable
from typing import Any
from unittest import mock

import hypothesis
import pytest
import time_machine
from django.conf import settings as django_settings
from django.core import mail
from django.core.exceptions import ValidationError
from django.core.mail import get_connection
from django.db import transaction
from hypothesis import HealthCheck
from hypothesis import strategies as st
from hypothesis.stateful import (
    RuleBasedStateMachine,
    initialize,
    invariant,
    precondition,
    rule,
    run_state_machine_as_test,
)

from patients import services
from patients.emails import site_domain
from patients.models import Patient, Reminder, Visit
from patients.reminders import dispatcher, sending
from tests.factories import INDUCTION, ClinicFactory, PatientFactory, ProductFactory
from tests.reminders.pipeline_model.mail import (
    SentEmail,
    calendar_going_backwards,
    capture,
    repeated_reminders,
    why_untrue,
)
from tests.reminders.pipeline_model.promises import ROW_FIELDS, missing_reminders
from tests.reminders.pipeline_model.records import (
    DAYTIME,
    LONDON,
    Moment,
    PatientRecord,
    VisitRecord,
    fingerprint,
    is_daytime,
    local,
    moment_of,
)

STARTS = tuple(
    datetime.datetime(*moment, tzinfo=LONDON)
    for moment in ((2026, 3, 2, 8, 30), (2026, 6, 1, 12, 0), (2026, 9, 14, 18, 45))  # spring and autumn DST inside
)
HORIZON = datetime.timedelta(days=120)
LEASE_SECONDS = 30
PATIENTS = 3
SCHEDULED, MISSED = Visit.Status.SCHEDULED, Visit.Status.MISSED
# How long ago each patient's first implant went in; about one in seven has none yet.
FIRST_PLACED_DAYS_AGO = st.integers(-15, 90).map(lambda days: None if days < 0 else days)
PICK = st.integers(0, 4)  # which of the visits in play
BRIEFLY = st.one_of(
    st.integers(5, 50).map(lambda seconds: datetime.timedelta(seconds=seconds)),  # either side of a lease
    st.integers(1, 180).map(lambda minutes: datetime.timedelta(minutes=minutes)),
)


class WorkerKilled(BaseException):
    """The dispatcher's process died: nothing after this point of the run happens."""


def having_visits(*statuses: str) -> Callable[["PipelineModel"], bool]:
    return lambda machine: any(visit.status in statuses for visit in machine.visits.values())


class PipelineModel(RuleBasedStateMachine):
    def __init__(self) -> None:
        super().__init__()
        # Each example runs in a savepoint of the test's transaction, rolled back in teardown.
        self._atomic = transaction.atomic()
        self._atomic.__enter__()
        # Timestamps, not zoned datetimes: time-machine would also set the process's TZ to the zone.
        self._travel = time_machine.travel(STARTS[0].timestamp(), tick=False)
        self._clock = self._travel.start()
        self.now = STARTS[0]
        self.horizon = STARTS[0] + HORIZON
        mail.outbox = []
        self.patients: dict[int, PatientRecord] = {}
        self.visits: dict[int, VisitRecord] = {}
        self.ledger: list[SentEmail] = []

    def teardown(self) -> None:
        self._travel.stop()
        transaction.set_rollback(True)
        self._atomic.__exit__(None, None, None)

    # The cast and the clock

    @initialize(
        start=st.sampled_from(STARTS),
        first_placed_days_ago=st.lists(FIRST_PLACED_DAYS_AGO, min_size=PATIENTS, max_size=PATIENTS),
    )
    def open_the_clinic(self, start: datetime.datetime, first_placed_days_ago: list[int | None]) -> None:
        self._move(start)
        self.horizon = start + HORIZON
        self.clinic = ClinicFactory(name="Riverside Clinic", time_zone="Europe/London")
        self.product = ProductFactory(clinic=self.clinic, name="Three-month implant", coverage_length=3)
        for number, days_ago in enumerate(first_placed_days_ago):
            patient = PatientFactory(
                clinic=self.clinic, record_number=f"R-{number}", first_name="Pat", last_name=f"Number {number}"
            )
            self.patients[patient.pk] = PatientRecord(pk=patient.pk, email=patient.email)
            if days_ago is not None:
                self.record_placement(number, days_ago, early_reason=False, induction=True)

    def _move(self, moment: datetime.datetime) -> None:
        self._clock.move_to(moment.timestamp())
        self.now = moment

    @property
    def today(self) -> datetime.date:
        return self.now.astimezone(LONDON).date()

    # Swarm testing leaves out some rules in each example: time moves by several, so that it rarely stands still.

    @precondition(lambda self: self.now < self.horizon)
    @rule(step=BRIEFLY, beat_running=st.booleans())
    def wait_briefly(self, step: datetime.timedelta, beat_running: bool) -> None:
        self._advance(self.now + step, beat_running=beat_running)

    @precondition(lambda self: self.now < self.horizon)
    @rule(hours=st.integers(1, 36), beat_running=st.booleans())
    def wait_hours(self, hours: int, beat_running: bool) -> None:
        self._advance(self.now + datetime.timedelta(hours=hours), beat_running=beat_running)

    @precondition(lambda self: self.now < self.horizon)
    @rule(days=st.integers(1, 9), beat_running=st.booleans())
    def wait_days(self, days: int, beat_running: bool) -> None:
        self._advance(self.now + datetime.timedelta(days=days), beat_running=beat_running)

    @precondition(lambda self: self.now < self.horizon)
    @rule(hour=st.sampled_from([10, 9, 12, 19, 0]), beat_running=st.booleans())
    def wait_until_clinic_hour(self, hour: int, beat_running: bool) -> None:
        """To the next time the clinic's clock shows ``hour``: reminders fall due at 10:00."""
        moment = local(self.today, hour)
        if moment <= self.now:
            moment = local(self.today + datetime.timedelta(days=1), hour)
        self._advance(moment, beat_running=beat_running)

    def _advance(self, destination: datetime.datetime, *, beat_running: bool) -> None:
        """Move the clock. While beat runs, it marks missed visits after each midnight and runs the
        dispatcher at each 10:00 on the way (when reminders fall due) and on arrival; otherwise the
        pipeline was down meanwhile."""
        destination = min(destination, self.horizon)
        day = self.today
        while beat_running and (morning := local(day, 0, 15)) < destination:
            for stop, job in ((morning, self.mark_missed_visits), (local(day, 10), self.run_the_dispatcher)):
                if self.now < stop < destination:
                    self._move(stop)
                    job()
            day += datetime.timedelta(days=1)
        self._move(destination)
        if beat_running:
            self.run_the_dispatcher()

    # Services

    def _attempt(self, service: Callable[..., Any], **arguments: Any) -> Any:
        """Call a service; None when it refused, after checking that the refusal saved nothing."""
        before = fingerprint()
        try:
            return service(**arguments)
        except ValidationError:
            assert fingerprint() == before, f"{service.__name__} refused but saved something"
            return None

    def _held(self, field: str) -> set[int]:
        """The visits or patients of rows a dispatcher holds (``sending``): changes there race it."""
        return set(Reminder.objects.filter(status=Reminder.Status.SENDING).values_list(field, flat=True))

    def _patient(self, index: int) -> PatientRecord:
        """A patient; those whose reminders a dispatcher holds come first."""
        held = self._held("patient_id")
        return sorted(self.patients.values(), key=lambda record: (record.pk not in held, record.pk))[index]

    def _visit(self, pick: int, statuses: tuple[str, ...]) -> VisitRecord:
        """One of the visits in play: those whose reminders a dispatcher holds, then by their day."""
        held = self._held("visit_id")
        eligible = sorted(
            (visit for visit in self.visits.values() if visit.status in statuses),
            key=lambda visit: (visit.pk not in held, visit.day, visit.pk),
        )
        return eligible[pick % len(eligible)]

    @rule(
        index=st.integers(0, PATIENTS - 1),
        days_ago=st.integers(0, 80),
        early_reason=st.booleans(),
        induction=st.booleans(),
    )
    def record_placement(self, index: int, days_ago: int, early_reason: bool, induction: bool) -> None:
        record = self._patient(index)
        first = record.placed_on is None
        # A first implant may be recorded late; a renewal is recorded within the week.
        placed_on = self.today - datetime.timedelta(days=days_ago if first else days_ago % 8)
        placement = self._attempt(
            services.record_placement,
            patient=Patient.objects.get(pk=record.pk),
            product=self.product,
            placed_on=placed_on,
            early_renewal_reason="Travelling for work" if early_reason else "",
            **(INDUCTION if first or induction else {}),
        )
        if placement is None:
            return
        record.placed_on = placed_on
        for visit in self.visits.values():
            if visit.patient_pk == record.pk and visit.status == SCHEDULED and visit.due_on >= placed_on:
                visit.status = Visit.Status.CANCELLED  # superseded
        for visit in placement.visits.all():
            self.visits[visit.pk] = VisitRecord(
                pk=visit.pk,
                uuid=str(visit.uuid),
                patient_pk=record.pk,
                kind=visit.kind,
                due_on=visit.due_on,
                window_start=visit.window_start,
                window_end=visit.window_end,
            )

    @precondition(having_visits(SCHEDULED, MISSED))
    @rule(
        pick=PICK,
        where=st.sampled_from(["inside", "after", "before", "soon"]),
        offset=st.integers(0, 30),
        hour=st.sampled_from([8, 9, 10, 11, 14, 17, 18]),
        minute=st.sampled_from([0, 30]),
        give_reason=st.booleans(),
    )
    def book_appointment(self, pick: int, where: str, offset: int, hour: int, minute: int, give_reason: bool) -> None:
        visit = self._visit(pick, (SCHEDULED, MISSED))
        window_days = (visit.window_end - visit.window_start).days + 1
        day = {
            "inside": visit.window_start + datetime.timedelta(days=offset % window_days),
            "after": visit.window_end + datetime.timedelta(days=1 + offset % 5),
            "before": visit.window_start - datetime.timedelta(days=1 + offset % 5),
            "soon": self.today + datetime.timedelta(days=offset % 4),
        }[where]
        appointment_at = local(day, hour, minute)
        booked = self._attempt(
            services.reschedule_visit,
            visit=Visit.objects.get(pk=visit.pk),
            appointment_at=appointment_at,
            override_reason="The patient works that week" if give_reason else "",
        )
        if booked is None:
            return
        if visit.status != SCHEDULED or visit.appointment_at != appointment_at:
            visit.booked_at = self.now
        visit.status, visit.appointment_at = SCHEDULED, appointment_at

    @precondition(having_visits(SCHEDULED, MISSED))
    @rule(pick=PICK, how=st.sampled_from(["complete", "cancel"]))
    def close_visit(self, pick: int, how: str) -> None:
        """The visit took place (a missed one may, late), or the clinic cancelled it (not a missed one)."""
        visit = self._visit(pick, (SCHEDULED, MISSED))
        if how == "complete":
            closed = self._attempt(
                services.complete_visit, visit=Visit.objects.get(pk=visit.pk), completed_on=self.today
            )
        else:
            closed = self._attempt(services.cancel_visit, visit=Visit.objects.get(pk=visit.pk))
        if closed:
            visit.status = closed.status

    @rule()
    def mark_missed_visits(self) -> None:
        """A visit is over once its window has closed and its appointment, if any, was on an earlier day."""
        day_starts_at = local(self.today, 0)
        over = [
            visit
            for visit in self.visits.values()
            if visit.status == SCHEDULED
            and visit.window_end < self.today
            and (visit.appointment_at is None or visit.appointment_at < day_starts_at)
        ]
        assert services.mark_missed_visits(today=self.today, now=self.now) == len(over)
        for visit in over:
            visit.status = MISSED

    @rule(index=st.integers(0, PATIENTS - 1), consents=st.booleans())
    def set_consent(self, index: int, consents: bool) -> None:
        """The one-click unsubscribe, or the coordinator recording consent again."""
        record = self._patient(index)
        patient = Patient.objects.get(pk=record.pk)
        if not consents:
            services.withdraw_email_consent(patient=patient)
        else:
            services.update_patient(patient=patient, email_consent=True)
            if not record.consents:
                record.consent_given_at = self.now
        record.consents = consents

    @rule(index=st.integers(0, PATIENTS - 1))
    def discharge_or_readmit(self, index: int) -> None:
        record = self._patient(index)
        patient = Patient.objects.get(pk=record.pk)
        if record.discharged:
            services.change_patient_status(patient=patient, status=Patient.Status.ACTIVE)
            record.discharged, record.readmitted_at = False, self.now
            return
        services.discharge_patient(patient=patient)
        record.discharged = True
        for visit in self.visits.values():
            if visit.patient_pk == record.pk and visit.status == SCHEDULED:
                visit.status = Visit.Status.CANCELLED

    # The dispatcher

    def _wait_for_work(self) -> None:
        due = Reminder.objects.filter(status=Reminder.Status.PENDING).order_by("next_attempt_at").first()
        if due is None or due.next_attempt_at <= self.now:
            return
        moment = due.next_attempt_at.astimezone(LONDON)
        if moment.time() < DAYTIME[0]:
            moment = local(moment.date(), DAYTIME[0].hour)
        elif moment.time() >= DAYTIME[1]:
            moment = local(moment.date() + datetime.timedelta(days=1), DAYTIME[0].hour)
        if moment - self.now <= datetime.timedelta(days=7):
            self._move(min(moment, self.horizon))

    def _moments(self) -> dict[int, Moment]:
        return {visit.pk: moment_of(visit, self.patients[visit.patient_pk]) for visit in self.visits.values()}

    def _capture(self, moments: dict[int, Moment], in_flight: tuple[int, ...] = ()) -> None:
        new = mail.outbox[self._captured :]
        first = self._captured
        self.ledger += capture(
            new, at=self.now, moments=moments, in_flight=[position - first for position in in_flight]
        )

    @property
    def _captured(self) -> int:
        return len(self.ledger)

    @rule()
    def run_the_dispatcher(self) -> None:
        moments = self._moments()
        report = dispatcher.dispatch(now=self.now)
        assert report.clinics_failed == 0
        self._capture(moments)
        if is_daytime(self.now):
            left = Reminder.objects.filter(status=Reminder.Status.PENDING, next_attempt_at__lte=self.now)
            stuck = Reminder.objects.filter(status=Reminder.Status.SENDING, lease_expires_at__lt=self.now)
            assert not left.exists(), f"a run in daytime left due rows behind: {list(left.values())}"
            assert not stuck.exists(), f"a run left abandoned rows sending: {list(stuck.values())}"

    @rule(
        sent_first=st.integers(0, 2),
        unstamped=st.integers(0, 2),
        change=st.sampled_from([None, "cancel", "complete", "move", "unsubscribe", "discharge"]),
        change_while_held=st.booleans(),
    )
    def kill_the_dispatcher(
        self, sent_first: int, unstamped: int, change: str | None, change_while_held: bool
    ) -> None:
        """Beat was down until the next row fell due (in daytime, within a week); that run claims
        its batch and dies, after sending ``sent_first`` rows through the real path up to a
        checkpoint that stamped them, then ``unstamped`` more that went out but were never stamped.

        Plans change while rows are in flight: ``change`` is made to a visit or patient whose rows
        the run holds, while it holds them (before it sends any) or after it died.
        """
        self._wait_for_work()
        moments = self._moments()
        in_flight: list[int] = []

        def dying_batch(claimed: list[Reminder], *, clock: dispatcher.RunClock) -> None:
            if change_while_held:
                self._change_held(change)
                moments.update(self._moments())
            batch = sending.Batch(claimed, clock=clock, mail=get_connection())
            ready = batch.check(claimed)
            for reminder in ready[:sent_first]:
                batch.send(reminder)
            batch.stamp_decided()  # a checkpoint
            for reminder in ready[sent_first : sent_first + unstamped]:
                in_flight.append(len(mail.outbox))
                batch.send(reminder)
            raise WorkerKilled

        sent_before, killed = len(mail.outbox), False
        with mock.patch.object(sending, "send_batch", dying_batch):
            try:
                dispatcher.dispatch(now=self.now)  # runs whole when nothing was due
            except WorkerKilled:
                killed = True
        # Only the dying batch sends here: a run that lived yet sent mail ran the real batch, so
        # the patch missed where the dispatcher looks the batch up and this rule tested nothing.
        assert killed or len(mail.outbox) == sent_before, "the dispatcher ran a batch other than the dying one"
        self._capture(moments, in_flight=tuple(position for position in in_flight if position < len(mail.outbox)))
        if not change_while_held:
            self._change_held(change)

    def _change_held(self, change: str | None) -> None:
        """The rules' own changes, aimed at what a dispatcher holds: they pick it first."""
        if change in ("cancel", "complete") and having_visits(SCHEDULED, MISSED)(self):
            self.close_visit(pick=0, how=change)
        elif change == "move" and having_visits(SCHEDULED, MISSED)(self):
            self.book_appointment(pick=0, where="soon", offset=2, hour=14, minute=0, give_reason=True)
        elif change == "unsubscribe":
            self.set_consent(index=0, consents=False)
        elif change == "discharge":
            self.discharge_or_readmit(index=0)

    # Invariants

    @invariant()
    def records_match_the_model(self) -> None:
        visits = {row["pk"]: row for row in Visit.objects.values("pk", "status", "appointment_at")}
        assert set(visits) == set(self.visits)
        for visit in self.visits.values():
            assert (visits[visit.pk]["status"], visits[visit.pk]["appointment_at"]) == (
                visit.status,
                visit.appointment_at,
            ), f"visit {visit.pk}"
        patients = {row["pk"]: row for row in Patient.objects.values("pk", "email_consent", "status")}
        for record in self.patients.values():
            found = patients[record.pk]
            assert (found["email_consent"], found["status"] == Patient.Status.DISCHARGED) == (
                record.consents,
                record.discharged,
            ), f"patient {record.pk}"
        assert len(mail.outbox) == self._captured, "an email went out other than from the dispatcher"

    @invariant()
    def every_email_was_true_when_sent(self) -> None:
        domain = site_domain()
        for sent in self.ledger:
            problems = why_untrue(sent, domain=domain)
            assert not problems, f"{sent.kind} {sent.message_id} at {sent.at}: {'; '.join(problems)}"

    @invariant()
    def each_reminder_went_out_once(self) -> None:
        problems = repeated_reminders(self.ledger)
        assert not problems, "; ".join(problems)

    @invariant()
    def calendar_files_only_move_forward(self) -> None:
        problems = calendar_going_backwards(self.ledger)
        assert not problems, "; ".join(problems)

    @invariant()
    def every_sent_row_was_captured(self) -> None:
        captured = {sent.message_id for sent in self.ledger}
        stamped = set(Reminder.objects.filter(status=Reminder.Status.SENT).values_list("message_id", flat=True))
        assert stamped <= captured, f"rows stamped sent that never went out: {stamped - captured}"

    @invariant()
    def every_open_visit_has_its_reminders(self) -> None:
        """The rows the app promises for visits still to come: see ``missing_reminders``."""
        problems = missing_reminders(
            visits=self.visits.values(),
            patients=self.patients,
            rows=Reminder.objects.values(*ROW_FIELDS),
            now=self.now,
            max_attempts=django_settings.REMINDER_MAX_ATTEMPTS,
        )
        assert not problems, "\n".join(problems)


MODEL_SETTINGS = hypothesis.settings(
    max_examples=int(os.environ.get("PIPELINE_MODEL_EXAMPLES", "25")),
    stateful_step_count=int(os.environ.get("PIPELINE_MODEL_STEPS", "30")),
    deadline=None,
    database=None,  # a failure is reproduced from its seed
    print_blob=True,
    suppress_health_check=[HealthCheck.too_slow, HealthCheck.data_too_large],
)


@pytest.mark.django_db
def test_the_reminder_pipeline_keeps_its_promises(settings: Any) -> None:
    settings.EMAIL_BACKEND = "django.core.mail.backends.locmem.EmailBackend"
    settings.REMINDER_LEASE_SECONDS = LEASE_SECONDS
    settings.REMINDER_RETRY_BASE_SECONDS = 5
    chosen = os.environ.get("PIPELINE_MODEL_SEED")
    # Seeded either way, so that every failure names the seed that replays it; the seed of an
    # ordinary run comes from the operating system, never the clock.
    run_seed = int(chosen) if chosen else random.SystemRandom().randrange(2**32)
    phases = list(hypothesis.Phase)
    if os.environ.get("PIPELINE_MODEL_SHRINK") != "1":
        # Shrinking a failure to its shortest steps takes minutes: asked for, not by default.
        phases.remove(hypothesis.Phase.shrink)

    def new_machine() -> PipelineModel:
        return PipelineModel()

    try:
        run_state_machine_as_test(
            hypothesis.seed(run_seed)(new_machine), settings=hypothesis.settings(MODEL_SETTINGS, phases=phases)
        )
    except BaseException as failure:
        failure.add_note(
            f"Replay with PIPELINE_MODEL_SEED={run_seed}; add PIPELINE_MODEL_SHRINK=1 for the shortest steps."
        )
        raise
