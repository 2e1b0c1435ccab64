"""A patient's change history as the History page tells it, read directly: who changed what, from
what to what, in words, newest first; and the read log beside it. The clock stands at noon on
15 June 2026, London time, whatever day the suite runs."""

import datetime
import zoneinfo

import pytest
from django.test import RequestFactory

from patients import services
from patients.audit import services as audit
from patients.audit.queries import EMPTY, FieldChange, patient_changes
from patients.models import RecordAccess, TherapySession
from tests.factories import INDUCTION, PatientFactory

pytestmark = pytest.mark.django_db

D = datetime.date
LONDON = zoneinfo.ZoneInfo("Europe/London")
NOW = datetime.datetime(2026, 6, 15, 12, tzinfo=LONDON)
MINUTE = datetime.timedelta(minutes=1)


@pytest.fixture(autouse=True)
def frozen_now(time_machine):
    time_machine.move_to(NOW, tick=False)
    return time_machine


@pytest.fixture
def nurse(clinician):
    clinician.first_name, clinician.last_name = "Cleo", "Nurse"
    clinician.save(update_fields=["first_name", "last_name"])
    return clinician


def later(time_machine, minutes: int) -> None:
    time_machine.move_to(NOW + minutes * MINUTE, tick=False)


def fields_of(change) -> list[tuple[str, str, str]]:
    return [(field.label, field.before, field.after) for field in change.fields]


def test_a_new_patient_is_told_as_created_with_the_fields_filled_in(patient):
    [created] = patient_changes(patient)
    assert (created.record, created.action, created.by, created.reason) == (
        "Patient details",
        "Created",
        "the system",
        "",
    )
    assert created.at == NOW
    fields = fields_of(created)
    for expected in [
        ("Clinic", EMPTY, "Riverside Clinic"),
        ("Record number", EMPTY, "R-1"),
        ("First name", EMPTY, "Ada"),
        ("Last name", EMPTY, "Byron"),
        ("Date of birth", EMPTY, "15 Jun 1985"),
        ("Email consent", EMPTY, "Yes"),
        ("Email consent at", EMPTY, "1 Jan 2024 00:00"),
        ("Status", EMPTY, "Active"),
        ("Treats", EMPTY, "Opioids"),
    ]:
        assert expected in fields
    labels = [label for label, _, _ in fields]
    # Identifiers are hidden, and so are fields left empty or false... unless they were set.
    assert not {"Id", "Uuid", "Created at", "Phone", "Discharged on", "Counsellor"} & set(labels)
    assert ("Liver condition", EMPTY, "No") in fields  # False is a value, unlike an empty text


def test_a_change_names_who_made_it_the_record_and_each_field_before_and_after(frozen_now, patient, implant, nurse):
    placement = services.record_placement(
        patient=patient, product=implant, placed_on=D(2026, 6, 15), by=nurse, **INDUCTION
    )
    first_visit = placement.visits.get(due_on=D(2026, 7, 15))
    later(frozen_now, 1)
    services.cancel_visit(visit=first_visit, by=nurse)
    later(frozen_now, 2)
    services.update_patient(patient=patient, phone="0700 900 900")

    changes = patient_changes(patient)
    assert [(change.record, change.action) for change in changes[:2]] == [
        ("Patient details", "Changed"),
        ("Monitoring visit due 15 Jul 2026", "Changed"),
    ]
    assert fields_of(changes[0]) == [("Phone", EMPTY, "0700 900 900")]
    cancelled = changes[1]
    assert (cancelled.by, cancelled.reason, cancelled.at) == ("Cleo Nurse", "Cancelled by the clinic", NOW + MINUTE)
    assert fields_of(cancelled) == [
        ("Status", "Scheduled", "Cancelled"),
        ("Cancel reason", EMPTY, "Cancelled by the clinic"),
    ]
    # Before them, all at the same frozen moment: the patient, the placement and its three visits.
    created = [(change.record, change.action, change.by) for change in changes[2:]]
    assert sorted(created) == [
        ("Monitoring visit due 15 Aug 2026", "Created", "Cleo Nurse"),
        ("Monitoring visit due 15 Jul 2026", "Created", "Cleo Nurse"),
        ("Patient details", "Created", "the system"),
        ("Placement on 15 Jun 2026", "Created", "the system"),
        ("Renewal visit due 15 Sep 2026", "Created", "Cleo Nurse"),
    ]


def test_linked_records_are_named_and_moments_are_given_in_the_clinics_time(frozen_now, patient, implant, nurse):
    placement = services.record_placement(patient=patient, product=implant, placed_on=D(2026, 6, 15), **INDUCTION)
    visit = placement.visits.get(due_on=D(2026, 7, 15))
    later(frozen_now, 1)
    # 10:30 UTC is 11:30 in London in July.
    services.reschedule_visit(visit=visit, appointment_at=datetime.datetime(2026, 7, 14, 10, 30, tzinfo=datetime.UTC))
    later(frozen_now, 2)
    services.log_follow_up_call(patient=patient, visit=visit, outcome="agreed_to_come", called_by=nurse)

    changes = patient_changes(patient)
    call, booking = changes[0], changes[1]
    assert call.record == "Call on 15 Jun 2026"
    assert ("Visit", EMPTY, "Monitoring visit due 15 Jul 2026") in fields_of(call)
    assert ("Called by", EMPTY, "Cleo Nurse") in fields_of(call)
    assert ("Outcome", EMPTY, "Agreed to come in") in fields_of(call)
    assert ("Appointment at", EMPTY, "14 Jul 2026 11:30") in fields_of(booking)
    placed = next(change for change in changes if change.record == "Placement on 15 Jun 2026")
    assert ("Product", EMPTY, "Three-month implant (3 months)") in fields_of(placed)
    assert ("Covers until", EMPTY, "15 Sep 2026") in fields_of(placed)
    visit_created = next(
        change
        for change in changes
        if change.record == "Monitoring visit due 15 Jul 2026" and change.action == "Created"
    )
    assert ("Placement", EMPTY, "Placement on 15 Jun 2026") in fields_of(visit_created)


def test_therapy_sessions_are_named_by_kind_and_day(frozen_now, patient, nurse):
    later(frozen_now, 1)
    services.log_therapy_session(patient=patient, held_on=D(2026, 6, 14), status="attended", counsellor=nurse)
    [session, _patient_created] = patient_changes(patient)
    assert session.record == "Individual therapy session on 14 Jun 2026"
    assert FieldChange("Status", EMPTY, "Attended") in session.fields
    assert FieldChange("Counsellor", EMPTY, "Cleo Nurse") in session.fields


def test_another_patients_changes_are_not_shown(patient, clinic, implant):
    other = PatientFactory(clinic=clinic, record_number="R-2")
    services.record_placement(patient=other, product=implant, placed_on=D(2026, 6, 1), **INDUCTION)
    TherapySession.objects.create(patient=other, kind="individual", held_on=D(2026, 6, 2), status="attended")
    assert [change.record for change in patient_changes(patient)] == ["Patient details"]


def test_the_read_log_keeps_who_opened_which_patients_records(patient, clinic, coordinator, nurse):
    def opened(user, what, on=patient):
        request = RequestFactory().get(f"/patients/{on.uuid}/")
        request.user = user
        return audit.record_access(request, what=what, patient=on)

    opened(coordinator, RecordAccess.What.PATIENT_PAGE)
    opened(nurse, RecordAccess.What.PATIENT_HISTORY)
    opened(nurse, RecordAccess.What.PATIENT_PAGE, on=PatientFactory(clinic=clinic, record_number="R-2"))
    rows = patient.record_accesses.order_by("-at", "-pk").values_list("username", "what", "clinic_id", "path")
    assert list(rows) == [
        ("clinician", "patient_history", clinic.pk, f"/patients/{patient.uuid}/"),
        ("coordinator", "patient_page", clinic.pk, f"/patients/{patient.uuid}/"),
    ]


@pytest.mark.parametrize("placements", [1, 4])
def test_it_costs_the_same_queries_however_long_the_history(
    frozen_now, patient, implant, nurse, placements, django_assert_num_queries
):
    for number in range(placements):
        placed_on = D(2025, 1, 10) + datetime.timedelta(days=95 * number)
        services.record_placement(
            patient=patient, product=implant, placed_on=placed_on, early_renewal_reason="Travel", by=nurse, **INDUCTION
        )
        services.log_therapy_session(patient=patient, held_on=placed_on, status="attended", counsellor=nurse)
        services.log_follow_up_call(
            patient=patient, outcome="reached", called_by=nurse, called_at=NOW - (number + 1) * MINUTE
        )
    patient.refresh_from_db()
    # One query per kind of record (patient, placement, visit, session, call), one per kind of
    # linked record named (user, clinic, product, placement), and the patient's clinic for its zone.
    with django_assert_num_queries(5 + 4 + 1):
        changes = patient_changes(patient)
    # The patient, and per placement: itself, three visits, a session and a call.
    assert len(changes) == 1 + 6 * placements
