"""The write path: placements and their plans, refusals that save nothing, and the renewal handover."""

import datetime

import pytest
from django.core.exceptions import ValidationError

from patients import services
from patients.models import Patient, Placement, TherapySession, Visit
from patients.records.schedule import CoverageState
from patients.records.selectors import coverage_state
from tests.factories import INDUCTION, PatientFactory, ProductFactory, TherapyGroupFactory

pytestmark = pytest.mark.django_db

D = datetime.date
TODAY = D(2026, 6, 15)


@pytest.fixture(autouse=True)
def frozen_today(time_machine):
    time_machine.move_to("2026-06-15 12:00Z", tick=False)


def place(patient, product, placed_on, **extra):
    return services.record_placement(patient=patient, product=product, placed_on=placed_on, **(INDUCTION | extra))


def plan_of(placement):
    return list(
        placement.visits.order_by("due_on").values_list("kind", "due_on", "window_start", "window_end", "status")
    )


def refused(call, field=None, contains=""):
    """Run a service call that must be refused; return the message shown for ``field``."""
    with pytest.raises(ValidationError) as caught:
        call()
    error = caught.value
    if field is None:
        message = " ".join(error.messages)
    else:
        assert field in error.message_dict, error.message_dict
        message = " ".join(error.message_dict[field])
    assert contains in message
    return message


# Registering patients


def test_it_registers_a_patient_with_the_moment_of_consent(clinic):
    patient = services.register_patient(
        clinic=clinic,
        record_number=" A-100 ",
        first_name="Ada",
        last_name="Byron",
        date_of_birth=D(1990, 2, 3),
        email="ada@example.org",
        email_consent=True,
    )
    patient.refresh_from_db()
    assert patient.record_number == "A-100"
    assert patient.email_consent_at == datetime.datetime(2026, 6, 15, 12, tzinfo=datetime.UTC)


def test_it_refuses_a_second_patient_with_the_same_record_number(clinic, other_clinic):
    PatientFactory(clinic=clinic, record_number="A-100")
    register = {"record_number": "A-100", "first_name": "B", "last_name": "C", "date_of_birth": D(1990, 1, 1)}
    refused(lambda: services.register_patient(clinic=clinic, **register), contains="already has this record number")
    assert Patient.objects.filter(record_number="A-100").count() == 1
    # Another clinic keeps its own numbering.
    services.register_patient(clinic=other_clinic, **register)


def test_it_refuses_consent_without_an_email_address(clinic):
    call = lambda: services.register_patient(  # noqa: E731
        clinic=clinic,
        record_number="X",
        first_name="A",
        last_name="B",
        date_of_birth=D(1990, 1, 1),
        email_consent=True,
    )
    refused(call, field="email", contains="Add an email address")
    assert not Patient.objects.exists()


def test_it_refuses_a_date_of_birth_in_the_future(clinic):
    call = lambda: services.register_patient(  # noqa: E731
        clinic=clinic, record_number="X", first_name="A", last_name="B", date_of_birth=D(2027, 1, 1)
    )
    refused(call, field="date_of_birth", contains="future")


def test_it_clears_the_consent_time_when_consent_is_withdrawn(patient):
    services.update_patient(patient=patient, email_consent=False, phone="0700 900 123")
    patient.refresh_from_db()
    assert (patient.email_consent, patient.email_consent_at, patient.phone) == (False, None, "0700 900 123")


# Placements and their plans


def test_it_plans_the_visits_of_a_three_month_implant(patient, implant):
    placement = place(patient, implant, D(2026, 1, 31))
    assert placement.covers_until == D(2026, 4, 30)
    assert plan_of(placement) == [
        ("monitoring", D(2026, 2, 28), D(2026, 2, 21), D(2026, 3, 7), "scheduled"),
        ("monitoring", D(2026, 3, 31), D(2026, 3, 24), D(2026, 4, 7), "scheduled"),
        ("renewal", D(2026, 4, 30), D(2026, 4, 16), D(2026, 4, 30), "scheduled"),
    ]
    assert set(placement.visits.values_list("patient", flat=True)) == {patient.pk}


def test_it_plans_one_visit_per_dose_of_a_four_week_injection(patient, injection):
    placement = place(patient, injection, D(2026, 6, 1))
    assert placement.covers_until == D(2026, 6, 29)
    assert plan_of(placement) == [("renewal", D(2026, 6, 29), D(2026, 6, 22), D(2026, 6, 29), "scheduled")]


def test_it_plans_to_an_overridden_end_with_its_reason(patient, implant):
    placement = place(
        patient, implant, D(2026, 5, 1), covers_until=D(2026, 7, 15), covers_until_override_reason="Lower dose"
    )
    assert (placement.covers_until, placement.covers_until_override_reason) == (D(2026, 7, 15), "Lower dose")
    assert plan_of(placement)[-1][:2] == ("renewal", D(2026, 7, 15))


def test_it_refuses_an_overridden_end_without_a_reason(patient, implant):
    refused(
        lambda: place(patient, implant, D(2026, 5, 1), covers_until=D(2026, 7, 15)), "covers_until_override_reason"
    )
    assert not Placement.objects.exists()


def test_it_refuses_a_placement_dated_in_the_future(patient, implant):
    refused(lambda: place(patient, implant, D(2026, 6, 16)), field="placed_on", contains="future")
    assert not Placement.objects.exists()
    assert not Visit.objects.exists()


def test_it_judges_the_future_by_the_clinic_calendar(patient, implant, other_clinic):
    # 12:00 UTC on 15 June is already 15 June in London; in Auckland it is the 16th.
    patient.clinic.time_zone = "Pacific/Auckland"
    patient.clinic.save()
    assert place(patient, implant, D(2026, 6, 16)).placed_on == D(2026, 6, 16)


def test_it_refuses_a_placement_before_the_previous_one(patient, implant):
    place(patient, implant, D(2026, 5, 1))
    refused(lambda: place(patient, implant, D(2026, 4, 1)), field="placed_on", contains="1 May 2026")
    refused(lambda: place(patient, implant, D(2026, 5, 1)), field="placed_on", contains="must come after")
    assert Placement.objects.count() == 1


def test_it_refuses_a_placement_for_a_discharged_patient(patient, implant):
    services.discharge_patient(patient=patient)
    refused(lambda: place(patient, implant, D(2026, 6, 1)), contains="discharged")
    assert not Placement.objects.exists()


def test_it_refuses_another_clinics_product(patient, other_clinic):
    foreign = ProductFactory(clinic=other_clinic)
    refused(lambda: place(patient, foreign, D(2026, 6, 1)), field="product", contains="catalogue")


@pytest.mark.parametrize(
    ("checklist", "field"),
    [
        ({"opioid_free_days": None}, "opioid_free_days"),
        ({"opioid_free_days": 5}, "opioid_free_days"),
        ({"urine_screen": "positive"}, "urine_screen"),
        ({"naloxone_challenge": "not_done"}, "naloxone_challenge"),
        ({"naloxone_challenge": "waived"}, "naloxone_waiver_reason"),
    ],
)
def test_it_refuses_a_first_placement_without_the_induction_checklist(patient, implant, checklist, field):
    message = refused(lambda: place(patient, implant, D(2026, 6, 1), **checklist), field=field)
    assert message
    assert not Placement.objects.exists()
    assert not Visit.objects.exists()


def test_it_accepts_a_waived_challenge_with_its_reason(patient, implant):
    placement = place(patient, implant, D(2026, 6, 1), naloxone_challenge="waived", naloxone_waiver_reason="Inpatient")
    assert placement.naloxone_waiver_reason == "Inpatient"


def test_it_renews_inside_coverage_without_the_checklist(patient, implant):
    first = place(patient, implant, D(2026, 3, 1))
    renewal = services.record_placement(patient=patient, product=implant, placed_on=D(2026, 5, 25))
    assert renewal.covers_until == D(2026, 8, 25)
    assert first.covers_until == D(2026, 6, 1)


def test_it_renews_after_a_short_lapse_without_the_checklist(patient, implant):
    place(patient, implant, D(2026, 2, 1))  # covers until 1 May
    renewal = services.record_placement(patient=patient, product=implant, placed_on=D(2026, 5, 8))
    assert renewal.pk


def test_it_requires_the_checklist_again_after_a_long_lapse(patient, implant):
    place(patient, implant, D(2026, 1, 1))  # covers until 1 April
    assert coverage_state(patient, today=D(2026, 4, 9)) is CoverageState.REINDUCTION_REQUIRED
    refused(
        lambda: services.record_placement(patient=patient, product=implant, placed_on=D(2026, 6, 1)),
        field="__all__",
        contains="re-induction",
    )
    assert Placement.objects.count() == 1
    assert place(patient, implant, D(2026, 6, 1)).pk


def test_it_refuses_a_renewal_before_its_window_without_a_reason(patient, implant):
    place(patient, implant, D(2026, 3, 1))  # renewal window opens 18 May
    message = refused(
        lambda: services.record_placement(patient=patient, product=implant, placed_on=D(2026, 5, 17)),
        field="early_renewal_reason",
    )
    assert "18 May 2026" in message
    assert Placement.objects.count() == 1
    early = services.record_placement(
        patient=patient, product=implant, placed_on=D(2026, 5, 17), early_renewal_reason="Travelling abroad"
    )
    assert early.early_renewal_reason == "Travelling abroad"


def test_a_renewal_closes_the_previous_cycle(patient, implant):
    first = place(patient, implant, D(2026, 1, 31))  # visits 28 Feb, 31 Mar, renewal 30 Apr (window from 16 Apr)
    services.mark_missed_visits(today=D(2026, 3, 8))  # the February visit was never attended
    services.complete_visit(visit=first.visits.get(due_on=D(2026, 3, 31)), completed_on=D(2026, 3, 30))
    renewal = services.record_placement(patient=patient, product=implant, placed_on=D(2026, 4, 20))
    assert [(kind, due, status) for kind, due, _, _, status in plan_of(first)] == [
        ("monitoring", D(2026, 2, 28), "missed"),
        ("monitoring", D(2026, 3, 31), "completed"),
        ("renewal", D(2026, 4, 30), "cancelled"),
    ]
    assert first.visits.get(kind="renewal").cancel_reason == "superseded"
    assert [(kind, due, status) for kind, due, _, _, status in plan_of(renewal)] == [
        ("monitoring", D(2026, 5, 20), "scheduled"),
        ("monitoring", D(2026, 6, 20), "scheduled"),
        ("renewal", D(2026, 7, 20), "scheduled"),
    ]
    assert coverage_state(patient, today=TODAY) is CoverageState.COVERED


def test_a_renewal_leaves_earlier_open_visits_for_the_missed_sweep(patient, implant):
    first = place(patient, implant, D(2026, 3, 10))  # visits 10 Apr, 10 May, renewal 10 Jun (window from 27 May)
    services.record_placement(patient=patient, product=implant, placed_on=D(2026, 6, 5))
    assert first.visits.get(due_on=D(2026, 5, 10)).status == "scheduled"
    assert services.mark_missed_visits(today=TODAY) == 2
    assert first.visits.get(due_on=D(2026, 6, 10)).status == "cancelled"


# Removal


def test_a_removal_ends_coverage_and_cancels_later_visits(patient, implant):
    placement = place(patient, implant, D(2026, 4, 1))
    services.record_removal(placement=placement, removed_on=D(2026, 6, 10), reason="Infection at the site")
    assert coverage_state(patient, today=TODAY) is CoverageState.LAPSED
    assert placement.visits.get(kind="renewal").cancel_reason == "removed"


def test_it_refuses_a_removal_without_a_reason(patient, implant):
    placement = place(patient, implant, D(2026, 4, 1))
    refused(
        lambda: services.record_removal(placement=placement, removed_on=D(2026, 6, 1), reason=""), "removal_reason"
    )
    placement.refresh_from_db()
    assert placement.removed_on is None


# Visits


@pytest.fixture
def visit(patient, implant):
    return place(patient, implant, D(2026, 5, 1)).visits.get(due_on=D(2026, 6, 1))


def test_it_completes_a_visit_with_its_findings(visit, clinician):
    services.complete_visit(
        visit=visit,
        completed_on=D(2026, 6, 2),
        seen_by=clinician,
        site_check="normal",
        alt_u_per_l=35,
        ast_u_per_l=30,
        phq9_total=6,
        phq9_item9=0,
        gad7_total=4,
        cravings=2,
        substance_use="none",
    )
    visit.refresh_from_db()
    assert (visit.status, visit.completed_on, visit.phq9_total, visit.seen_by) == (
        "completed",
        D(2026, 6, 2),
        6,
        clinician,
    )


@pytest.mark.parametrize(
    ("findings", "field", "contains"),
    [
        ({"phq9_total": 28}, "phq9_total", "0 to 27"),
        ({"phq9_item9": 4}, "phq9_item9", "0 to 3"),
        ({"phq9_total": 2, "phq9_item9": 3}, "phq9_item9", "cannot be larger"),
        ({"gad7_total": 22}, "gad7_total", "0 to 21"),
        ({"cravings": 11}, "cravings", "0 to 10"),
        ({"alt_u_per_l": 20000}, "alt_u_per_l", "units"),
        ({"ast_u_per_l": -1}, "ast_u_per_l", "greater than or equal to 0"),
        ({"site_check": "fine"}, "site_check", "not a valid choice"),
    ],
)
def test_it_refuses_findings_out_of_range(visit, findings, field, contains):
    refused(lambda: services.complete_visit(visit=visit, completed_on=D(2026, 6, 2), **findings), field, contains)
    visit.refresh_from_db()
    assert (visit.status, visit.completed_on, visit.phq9_total) == ("scheduled", None, None)


def test_it_refuses_a_visit_completed_before_its_placement(visit):
    refused(lambda: services.complete_visit(visit=visit, completed_on=D(2026, 4, 30)), "completed_on", "1 May 2026")
    refused(lambda: services.complete_visit(visit=visit, completed_on=D(2026, 6, 16)), "completed_on", "future")
    visit.refresh_from_db()
    assert visit.status == "scheduled"


def test_it_lets_a_missed_visit_be_completed_late_but_never_a_cancelled_one(visit):
    services.mark_missed_visits(today=D(2026, 6, 9))
    assert services.complete_visit(visit=visit, completed_on=D(2026, 6, 12)).status == "completed"
    cancelled = services.cancel_visit(visit=visit.placement.visits.get(kind="renewal"))
    refused(lambda: services.complete_visit(visit=cancelled, completed_on=TODAY), contains="cannot become completed")


def test_it_books_an_appointment_inside_the_window(visit):
    at = datetime.datetime(2026, 6, 3, 9, 30, tzinfo=datetime.UTC)
    assert services.reschedule_visit(visit=visit, appointment_at=at).appointment_at == at


def test_it_refuses_an_appointment_outside_the_window_unless_overridden(visit):
    late = datetime.datetime(2026, 6, 20, 9, 30, tzinfo=datetime.UTC)
    refused(lambda: services.reschedule_visit(visit=visit, appointment_at=late), "appointment_at", "25 May 2026")
    visit.refresh_from_db()
    assert visit.appointment_at is None
    booked = services.reschedule_visit(visit=visit, appointment_at=late, override_reason="Patient in hospital")
    assert booked.appointment_override_reason == "Patient in hospital"


def test_it_refuses_to_book_a_renewal_before_its_window(patient, implant):
    renewal = place(patient, implant, D(2026, 5, 1)).visits.get(kind="renewal")  # window 18 Jul to 1 Aug
    early = datetime.datetime(2026, 7, 10, 10, tzinfo=datetime.UTC)
    refused(lambda: services.reschedule_visit(visit=renewal, appointment_at=early), "appointment_at", "renewal window")


def test_it_judges_the_window_by_the_clinic_calendar(visit):
    # 23:30 UTC on 1 June is 00:30 on 2 June in London; the last day of the window is 8 June.
    edge = datetime.datetime(2026, 6, 8, 23, 30, tzinfo=datetime.UTC)
    refused(lambda: services.reschedule_visit(visit=visit, appointment_at=edge), "appointment_at")


def test_marking_missed_visits_twice_changes_nothing_more(patient, implant):
    place(patient, implant, D(2026, 2, 1))
    assert services.mark_missed_visits(today=TODAY) == 3
    assert services.mark_missed_visits(today=TODAY) == 0
    assert set(Visit.objects.values_list("status", flat=True)) == {"missed"}


def test_marking_missed_visits_keeps_to_one_clinic(patient, implant, other_clinic):
    place(patient, implant, D(2026, 2, 1))
    assert services.mark_missed_visits(today=TODAY, clinic=other_clinic) == 0
    assert services.mark_missed_visits(today=TODAY, clinic=patient.clinic) == 3


def test_a_visit_stays_scheduled_on_the_last_day_of_its_window(visit):
    assert services.mark_missed_visits(today=D(2026, 6, 8)) == 0
    assert services.mark_missed_visits(today=D(2026, 6, 9)) == 1


# Discharge and status


def test_discharge_cancels_every_open_visit(patient, implant):
    place(patient, implant, D(2026, 5, 1))
    services.discharge_patient(patient=patient, discharged_on=D(2026, 6, 10))
    patient.refresh_from_db()
    assert (patient.status, patient.discharged_on) == ("discharged", D(2026, 6, 10))
    assert set(Visit.objects.values_list("status", "cancel_reason")) == {("cancelled", "discharged")}
    assert coverage_state(patient, today=TODAY) is CoverageState.NONE


def test_a_readmitted_patient_keeps_the_computed_state(patient, implant):
    place(patient, implant, D(2026, 1, 1))
    services.discharge_patient(patient=patient)
    services.change_patient_status(patient=patient, status="active")
    patient.refresh_from_db()
    assert patient.discharged_on is None
    assert coverage_state(patient, today=TODAY) is CoverageState.REINDUCTION_REQUIRED


@pytest.mark.parametrize("status", ["paused", "lost_to_follow_up"])
def test_paused_and_lost_patients_keep_their_lapse(patient, implant, status):
    place(patient, implant, D(2026, 3, 1))
    services.change_patient_status(patient=patient, status=status)
    assert coverage_state(patient, today=D(2026, 6, 5)) is CoverageState.LAPSED


def test_it_refuses_moves_the_status_map_does_not_allow(patient):
    services.discharge_patient(patient=patient)
    refused(lambda: services.change_patient_status(patient=patient, status="paused"), contains="cannot become paused")
    refused(lambda: services.discharge_patient(patient=patient), contains="already discharged")


# Therapy


def test_it_logs_an_individual_session(patient, clinician):
    session = services.log_therapy_session(
        patient=patient, held_on=D(2026, 6, 12), status="attended", counsellor=clinician
    )
    assert (session.kind, session.group) == ("individual", None)


def test_it_refuses_attendance_for_a_session_still_to_come(patient):
    refused(
        lambda: services.log_therapy_session(patient=patient, held_on=D(2026, 6, 16), status="attended"), "held_on"
    )
    assert not TherapySession.objects.exists()


def test_it_logs_a_whole_group_roster_and_corrects_it_on_a_second_entry(clinic):
    group = TherapyGroupFactory(clinic=clinic)
    ana, ben, cai = PatientFactory.create_batch(3, clinic=clinic)
    services.log_group_attendance(
        group=group, held_on=D(2026, 6, 9), attendance={ana: "attended", ben: "missed", cai: "excused"}
    )
    services.log_group_attendance(group=group, held_on=D(2026, 6, 9), attendance={ben: "attended"})
    assert dict(TherapySession.objects.values_list("patient", "status")) == {
        ana.pk: "attended",
        ben.pk: "attended",
        cai.pk: "excused",
    }


def test_it_refuses_a_roster_with_another_clinics_patient(clinic, other_clinic):
    group = TherapyGroupFactory(clinic=clinic)
    stranger = PatientFactory(clinic=other_clinic)
    mine = PatientFactory(clinic=clinic)
    call = lambda: services.log_group_attendance(  # noqa: E731
        group=group, held_on=D(2026, 6, 9), attendance={mine: "attended", stranger: "attended"}
    )
    refused(call, contains="not a patient of this group's clinic")
    assert not TherapySession.objects.exists()


def test_the_database_counts_the_last_protected_day_as_the_model_does(patient, implant):
    kept = place(patient, implant, D(2026, 1, 10))
    removed = place(patient, implant, D(2026, 4, 1))
    services.record_removal(placement=removed, removed_on=D(2026, 5, 2), reason="Site infection")
    rows = Placement.objects.with_ends_on().order_by("placed_on")
    assert [(row.ends_on, row.coverage_ends_on) for row in rows] == [
        (D(2026, 4, 10), kept.covers_until),
        (D(2026, 5, 2), D(2026, 5, 2)),
    ]
