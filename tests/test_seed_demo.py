"""seed_demo: a demo clinic whose patients show every state, the same on every run, grown in bulk."""

import datetime
import io
from collections import Counter

import pytest
from django.apps import apps
from django.contrib.auth import get_user_model
from django.core.management import CommandError, call_command
from django.db.models import Count, Q

from patients import demo, services
from patients.clinic_time import clinic_today
from patients.demo import Scenario
from patients.management.commands import seed_demo
from patients.models import Clinic, Membership, Patient, Placement, Product, Reminder, TherapySession, Visit
from patients.records.schedule import CoverageState
from patients.records.selectors import coverage_state
from tests.factories import PatientFactory

pytestmark = pytest.mark.django_db

TODAY = datetime.date(2025, 3, 31)
# Where frozen_today stops the clock: noon of TODAY, UTC (London is on GMT then).
FROZEN_AT = datetime.datetime(2025, 3, 31, 12, tzinfo=datetime.UTC)
EXPECTED_STATE = {
    Scenario.COVERED: CoverageState.COVERED,
    Scenario.SEVERAL_CYCLES: CoverageState.COVERED,
    Scenario.MISSED_VISIT: CoverageState.COVERED,
    Scenario.INJECTION: CoverageState.COVERED,
    Scenario.SIX_MONTH: CoverageState.COVERED,
    Scenario.REINDUCTED: CoverageState.COVERED,
    Scenario.PAUSED: CoverageState.COVERED,
    Scenario.WINDOW_OPEN: CoverageState.RENEWAL_WINDOW_OPEN,
    Scenario.WINDOW_OPEN_BOOKED: CoverageState.RENEWAL_WINDOW_OPEN,
    Scenario.LAPSED: CoverageState.LAPSED,
    Scenario.REINDUCTION_REQUIRED: CoverageState.REINDUCTION_REQUIRED,
    Scenario.LOST_TO_FOLLOW_UP: CoverageState.REINDUCTION_REQUIRED,
    Scenario.NEW_REFERRAL: CoverageState.NONE,
    Scenario.DISCHARGED: CoverageState.NONE,
}


@pytest.fixture(autouse=True)
def fast_passwords(settings):
    settings.PASSWORD_HASHERS = ["django.contrib.auth.hashers.MD5PasswordHasher"]


@pytest.fixture
def frozen_today(time_machine):
    # The last day of a month, so month arithmetic clamps in several of the histories.
    time_machine.move_to(FROZEN_AT, tick=False)
    return TODAY


def seed(*args: str, **options: object) -> str:
    out = io.StringIO()
    call_command("seed_demo", *args, stdout=out, **options)
    return out.getvalue()


def row_counts() -> dict[str, int]:
    return {model._meta.label: model._default_manager.count() for model in apps.get_models(include_auto_created=True)}


def scenario_of(patient: Patient) -> Scenario:
    return demo.scenario_for(int(patient.record_number.removeprefix(demo.RECORD_PREFIX)))[0]


def states(today: datetime.date) -> Counter[tuple[str, str]]:
    return Counter((coverage_state(p, today=today), p.status) for p in Patient.objects.all())


def test_it_changes_nothing_when_run_twice(frozen_today):
    first = seed()
    counts = row_counts()
    second = seed()
    assert row_counts() == counts
    assert "60 added" in first
    assert "already holds 60 patients; nothing to add" in second
    assert "Demo coordinator: coordinator / demo-coordinator" in second


def test_it_makes_the_demo_clinic_and_prints_the_logins(frozen_today):
    out = seed()
    clinic = Clinic.objects.get()
    assert clinic.name == "Riverside Health Centre"
    assert clinic.time_zone == "Europe/London"
    assert Patient.objects.filter(clinic=clinic).count() >= 40
    catalogue = set(Product.objects.values_list("name", "formulation", "coverage_length", "coverage_unit"))
    assert catalogue == {
        ("Three-month implant", "implant", 3, "months"),
        ("Six-month implant", "implant", 6, "months"),
        ("Monthly injection", "injection", 4, "weeks"),
    }
    coordinator = get_user_model().objects.get(username="coordinator")
    assert coordinator.is_staff
    assert not coordinator.is_superuser
    assert coordinator.check_password("demo-coordinator")
    assert Membership.objects.filter(user=coordinator, clinic=clinic, role="coordinator").exists()
    assert Membership.objects.filter(user__username="clinician", role="clinician").exists()
    assert get_user_model().objects.get(username="admin").is_superuser
    assert "Demo coordinator: coordinator / demo-coordinator" in out
    assert "Demo admin: admin / demo-admin" in out


def test_it_keeps_a_changed_password(frozen_today):
    seed()
    coordinator = get_user_model().objects.get(username="coordinator")
    coordinator.set_password("changed by the coordinator")
    coordinator.save()
    seed()
    coordinator.refresh_from_db()
    assert coordinator.check_password("changed by the coordinator")


@pytest.mark.parametrize("moment", ["2025-03-31 12:00Z", "2024-02-29 09:00Z", "2026-07-01 23:30Z"])
def test_it_shows_every_coverage_state_on_any_day(time_machine, moment):
    time_machine.move_to(moment, tick=False)
    seed()
    today = clinic_today(Clinic.objects.get())
    seen = set()
    for patient in Patient.objects.all():
        state = coverage_state(patient, today=today)
        assert state == EXPECTED_STATE[scenario_of(patient)], patient.record_number
        seen.add(state)
    assert seen == set(CoverageState)
    assert set(Patient.objects.values_list("status", flat=True)) == set(Patient.Status.values)


def test_it_leaves_every_visit_as_the_services_would(frozen_today):
    seed()
    assert Visit.objects.filter(status="missed").exists()
    assert Visit.objects.filter(cancel_reason="superseded").exists()
    # The nightly job finds nothing to do: no scheduled visit's window has closed.
    assert services.mark_missed_visits(today=frozen_today) == 0
    assert not Visit.objects.filter(patient__status="discharged", status="scheduled").exists()
    assert Visit.objects.filter(patient__status="discharged", cancel_reason="discharged").exists()
    for visit in Visit.objects.filter(status="completed"):
        assert visit.window_start <= visit.completed_on <= visit.window_end
        assert visit.completed_on < frozen_today
    for visit in Visit.objects.exclude(appointment_at=None).select_related("patient__clinic"):
        assert visit.status == "scheduled"
        day = visit.appointment_at.astimezone(visit.patient.clinic.zone).date()
        assert visit.window_start <= day <= visit.window_end


def test_its_patients_have_been_in_care_for_months(frozen_today):
    """Rows per patient near a clinic's (the benchmark's databases are only as telling as these):
    about three placements, nine visits, thirty therapy sessions and twenty reminders."""
    seed("--patients", str(2 * len(demo.CYCLE)))
    patients = Patient.objects.count()
    per_patient = {
        model.__name__: model.objects.count() / patients for model in (Placement, Visit, TherapySession, Reminder)
    }
    assert 3 <= per_patient["Placement"] <= 4, per_patient
    assert 8 <= per_patient["Visit"] <= 11, per_patient
    assert 25 <= per_patient["TherapySession"] <= 40, per_patient
    assert 18 <= per_patient["Reminder"] <= 30, per_patient
    # Every history starts inside the clinic's first year.
    first_day = datetime.date(Clinic.objects.get().first_year, 1, 1)
    assert Placement.objects.order_by("placed_on").first().placed_on >= first_day


def test_its_reminders_are_the_outbox_as_the_visits_left_it(frozen_today):
    """Sent (or skipped, to phone) while their visit was still to come, withdrawn once it was over,
    a "we missed you" for each missed visit, and pending only for what is still to come."""
    seed()
    now = FROZEN_AT
    reminders = Reminder.objects.select_related("visit", "patient")
    assert not reminders.filter(status__in=["expired", "sending", "failed"]).exists()
    for reminder in reminders:
        visit, patient = reminder.visit, reminder.patient
        reachable = patient.email_consent and bool(patient.email)
        if reminder.status == "pending":
            assert reminder.send_at >= now, reminder.pk
            assert reachable, reminder.pk
        elif reminder.status == "sent":
            assert reminder.sent_at == reminder.send_at < now, reminder.pk
            assert reachable, reminder.pk
        elif reminder.status == "skipped":
            assert reminder.send_at < now or visit.status == "scheduled", reminder.pk
            assert not reachable, reminder.pk
        else:
            assert reminder.status == "cancelled", reminder.pk
            assert visit.status != "scheduled", reminder.pk
            over_on = reminder.send_at.astimezone(patient.clinic.zone).date()
            assert visit.completed_on is None or over_on >= visit.completed_on, reminder.pk
    missed = Visit.objects.filter(status="missed")
    assert missed.exists()
    assert set(missed.values_list("pk", flat=True)) == set(
        reminders.filter(kind="missed_visit").values_list("visit_id", flat=True)
    )
    assert reminders.filter(status="cancelled", cancel_reason="visit_completed").exists()
    assert reminders.filter(status="cancelled", cancel_reason="visit_cancelled").exists()


def test_it_shows_the_safety_flags(frozen_today):
    seed()
    assert Visit.objects.filter(alt_u_per_l__gt=3 * 40).exists()
    assert Visit.objects.filter(phq9_item9__gt=0).exists()
    assert Patient.objects.filter(liver_condition=True).exclude(liver_condition_note="").exists()
    assert Patient.objects.filter(email_consent=False).exists()
    assert not Patient.objects.exclude(email="").exclude(email__endswith="@example.org").exists()


def test_it_logs_regular_and_irregular_therapy(frozen_today):
    seed()
    since = frozen_today - datetime.timedelta(days=90)
    recent = frozen_today - datetime.timedelta(days=30)
    attended, missed = Q(therapy_sessions__status="attended"), Q(therapy_sessions__status="missed")
    rows = Patient.objects.filter(therapy_sessions__held_on__gte=since).annotate(
        attended=Count("therapy_sessions", filter=attended),
        missed=Count("therapy_sessions", filter=missed),
        attended_lately=Count("therapy_sessions", filter=attended & Q(therapy_sessions__held_on__gte=recent)),
    )
    rates = {p.record_number: (p.attended / max(p.attended + p.missed, 1), p.attended_lately) for p in rows}
    assert any(rate >= 0.75 and lately for rate, lately in rates.values()), "no regular attender"
    assert any(rate < 0.75 for rate, _ in rates.values()), "no irregular attender"
    assert any(not lately for _, lately in rates.values()), "nobody who stopped coming"
    assert TherapySession.objects.filter(kind="group").exists()
    assert TherapySession.objects.filter(kind="individual").exists()


def test_it_grows_to_the_number_asked_for_in_the_same_mix(frozen_today):
    seed()
    first_sixty = dict(Patient.objects.values_list("record_number", "uuid"))
    mix = states(frozen_today)
    out = seed("--patients", "120")
    assert Patient.objects.count() == 120
    assert set(Patient.objects.values_list("record_number", flat=True)) == {
        demo.record_number(n) for n in range(1, 121)
    }
    assert dict(Patient.objects.filter(record_number__in=first_sixty).values_list("record_number", "uuid")) == (
        first_sixty
    )
    assert states(frozen_today) == Counter({key: 2 * count for key, count in mix.items()})
    assert "now holds 120 patients (60 added)" in out


def test_it_never_deletes_when_asked_for_fewer(frozen_today):
    seed()
    counts = row_counts()
    out = seed("--patients", "20")
    assert row_counts() == counts
    assert "already holds 60 patients, more than 20" in out


def test_it_reports_progress_in_batches_and_is_quiet_at_verbosity_0(frozen_today, monkeypatch):
    monkeypatch.setattr(seed_demo, "BATCH_SIZE", 20)
    assert seed(verbosity=0) == ""
    out = seed("--patients", "100")
    assert [line for line in out.splitlines() if line.startswith("Patients:")] == [
        "Patients: 80/100",
        "Patients: 100/100",
    ]


def test_it_refuses_in_production(frozen_today, settings):
    settings.PRODUCTION = True
    with pytest.raises(CommandError, match="production"):
        seed()
    assert not Clinic.objects.exists()
    seed("--allow-production", "--patients", "0")
    assert Clinic.objects.exists()


def test_its_visit_plans_are_the_ones_record_placement_makes(frozen_today):
    """Replay one patient of each scenario through the service, with the seeded checklist, and compare."""
    seed("--patients", str(len(demo.CYCLE)))
    clinic = Clinic.objects.get()
    for seeded in Patient.objects.all():
        replayed = PatientFactory(clinic=clinic)
        for placement in seeded.placements.order_by("placed_on"):
            # The seeded checklist as it stands: the service refuses it wherever induction was due.
            services.record_placement(
                patient=replayed,
                product=placement.product,
                placed_on=placement.placed_on,
                opioid_free_days=placement.opioid_free_days,
                urine_screen=placement.urine_screen,
                naloxone_challenge=placement.naloxone_challenge,
            )
        assert plan(replayed) == plan(seeded), seeded.record_number
        placements = ["placed_on", "covers_until"]
        assert list(replayed.placements.values_list(*placements)) == list(seeded.placements.values_list(*placements))


def plan(patient: Patient) -> list[tuple[object, ...]]:
    visits = patient.visits.select_related("placement").order_by("placement__placed_on", "due_on", "kind")
    return [
        (v.placement.placed_on, v.kind, v.due_on, v.window_start, v.window_end, v.cancel_reason == "superseded")
        for v in visits
    ]
