"""The change history: every write to a clinical record leaves a history row, the services' bulk
writes included, and rows past keeping are pruned."""

import datetime
from decimal import Decimal

import pytest
from django.apps import apps
from django.core.management import call_command
from django.db import connection
from django.test.utils import CaptureQueriesContext
from django.urls import reverse
from django.utils import timezone

from patients import services
from patients.audit import services as audit
from patients.clinic_time import clinic_today
from patients.models import (
    Clinic,
    FollowUpCall,
    Membership,
    Patient,
    Placement,
    Product,
    RecordAccess,
    TherapyGroup,
    TherapySession,
    Visit,
)
from patients.tasks import prune_audit_trail
from tests.factories import INDUCTION, MembershipFactory, PatientFactory, TherapyGroupFactory
from tests.pinned_day import suite_noon

pytestmark = pytest.mark.django_db

DAY = datetime.timedelta(days=1)
HistoricalVisit = Visit.history.model


def place(patient, product, placed_on, **options):
    return services.record_placement(patient=patient, product=product, placed_on=placed_on, **INDUCTION, **options)


def visit_history(patient, **filters):
    return HistoricalVisit.objects.filter(patient_id=patient.pk, **filters)


# Bulk writes


def test_it_keeps_a_history_row_for_every_visit_of_a_placement_and_every_cancellation(clinic, implant, patient):
    today = clinic_today(clinic)
    place(patient, implant, today - 80 * DAY)
    place(patient, implant, today - 2 * DAY, early_renewal_reason="Travelling abroad")

    visits = Visit.objects.filter(patient=patient)
    cancelled = visits.filter(status=Visit.Status.CANCELLED)
    assert cancelled.exists()
    assert visit_history(patient).values("id").distinct().count() == visits.count()
    assert visit_history(patient, status=Visit.Status.CANCELLED).count() == cancelled.count()
    # One row for each change, with the reason in words and the calendar entry's new sequence.
    for row in visit_history(patient, status=Visit.Status.CANCELLED):
        assert row.history_type == "~"
        assert row.history_change_reason == "Superseded by a new placement"
        assert row.calendar_sequence == 1


def test_it_keeps_a_history_row_for_every_visit_marked_missed(clinic, implant, patient):
    today = clinic_today(clinic)
    place(patient, implant, today - 80 * DAY)

    marked = services.mark_missed_visits(today=today, clinic=clinic)

    missed = visit_history(patient, status=Visit.Status.MISSED)
    assert marked >= 1
    assert missed.count() == marked == Visit.objects.filter(patient=patient, status=Visit.Status.MISSED).count()
    assert set(missed.values_list("history_type", "calendar_sequence")) == {("~", 1)}
    services.mark_missed_visits(today=today, clinic=clinic)
    assert visit_history(patient, status=Visit.Status.MISSED).count() == marked  # nothing new the second time


def test_it_keeps_the_cancellations_of_a_discharge_and_a_removal(clinic, implant, patient):
    today = clinic_today(clinic)
    placement = place(patient, implant, today - 10 * DAY)
    other = PatientFactory(clinic=clinic)
    place(other, implant, today - 10 * DAY)

    services.record_removal(placement=placement, removed_on=today, reason="Site infection")
    services.discharge_patient(patient=other)

    assert visit_history(patient, status=Visit.Status.CANCELLED, history_change_reason="Implant removed").exists()
    assert visit_history(other, status=Visit.Status.CANCELLED).count() == other.visits.count()
    assert placement.history.filter(removal_reason="Site infection").count() == 1


def test_it_writes_a_bulk_writes_history_in_one_insert(clinic, implant, long_implant):
    """The queries of a placement do not grow with the number of visits it plans."""
    today = clinic_today(clinic)
    short, long = PatientFactory(clinic=clinic), PatientFactory(clinic=clinic)

    with CaptureQueriesContext(connection) as short_queries:
        place(short, implant, today)
    with CaptureQueriesContext(connection) as long_queries:
        place(long, long_implant, today)

    assert long.visits.count() > short.visits.count()
    assert len(long_queries) == len(short_queries)
    assert visit_history(long).count() == long.visits.count()


def test_a_bulk_writes_history_rows_hold_what_a_save_would_have_written(
    request, still_clock, clinic, injection, patient, clinician
):
    """The database copies the rows (audit.copy_into_history): each field as simple-history's own
    row of a save() has it, with the type, reason and user of the write."""
    placement = place(patient, injection, clinic_today(clinic) - 3 * DAY, dose_mg=Decimal("380.0"))
    visit = patient.visits.get()
    tracked = [field.attname for field in HistoricalVisit.tracked_fields]
    visit.save()  # simple-history's own row
    created, saved = visit_history(patient, id=visit.pk).order_by("history_id")
    assert {name: getattr(created, name) for name in tracked} == {name: getattr(saved, name) for name in tracked}
    assert (created.history_type, saved.history_type) == ("+", "~")

    audit.update_with_history(Visit.objects.filter(pk=visit.pk), user=clinician, reason="Checked", notes="Checked")
    changed = visit_history(patient, id=visit.pk).latest("history_id")
    assert (changed.history_type, changed.history_user, changed.history_change_reason) == ("~", clinician, "Checked")
    assert changed.notes == "Checked"
    assert changed.history_date == suite_noon(request.config)  # where still_clock stands
    placement_row = Placement.history.model.objects.get(id=placement.pk)
    assert placement_row.dose_mg == placement.dose_mg


def test_it_records_who_made_a_bulk_change_from_the_signed_in_request(client, coordinator, clinic, implant, patient):
    today = clinic_today(clinic)
    place(patient, implant, today - 10 * DAY)
    visit = patient.visits.filter(status=Visit.Status.SCHEDULED).latest("due_on")
    client.force_login(coordinator)

    client.post(
        reverse("admin:patients_visit_changelist"), {"action": "cancel_visits", "_selected_action": [visit.pk]}
    )

    row = visit_history(patient, id=visit.pk).order_by("history_id").last()
    assert (row.status, row.history_user) == (Visit.Status.CANCELLED, coordinator)
    assert row.history_change_reason == "Cancelled by the clinic"


def test_it_names_the_user_given_to_a_bulk_write_over_the_request(clinic, implant, patient, clinician):
    place(patient, implant, clinic_today(clinic))

    audit.update_with_history(patient.visits.all(), user=clinician, reason="Checked", notes="Checked")

    assert set(visit_history(patient, history_change_reason="Checked").values_list("history_user", flat=True)) == {
        clinician.pk
    }


# Single writes, and the records that had no history before


def test_it_keeps_a_visit_move_and_its_findings(clinic, implant, patient, clinician):
    today = clinic_today(clinic)
    place(patient, implant, today - 28 * DAY)
    visit = patient.visits.filter(status=Visit.Status.SCHEDULED).earliest("due_on")
    moved_to = timezone.make_aware(datetime.datetime.combine(visit.due_on, datetime.time(15)), clinic.zone)

    services.reschedule_visit(visit=visit, appointment_at=moved_to, override_reason="Only time free")
    services.complete_visit(visit=visit, completed_on=today, seen_by=clinician, cravings=3)

    moves = visit_history(patient, id=visit.pk).order_by("history_date", "history_id")
    assert [(row.history_type, row.status) for row in moves] == [
        ("+", "scheduled"),
        ("~", "scheduled"),
        ("~", "completed"),
    ]
    assert moves[1].appointment_at == moved_to
    assert moves[2].cravings == 3


def test_it_keeps_group_attendance_and_its_corrections(clinic, patient):
    ben = PatientFactory(clinic=clinic)
    group = TherapyGroupFactory(clinic=clinic)
    held_on = clinic_today(clinic) - DAY

    services.log_group_attendance(group=group, held_on=held_on, attendance={patient: "attended", ben: "missed"})
    services.log_group_attendance(group=group, held_on=held_on, attendance={patient: "attended", ben: "excused"})

    history = TherapySession.history.filter(group_id=group.pk)
    assert history.filter(history_type="+").count() == 2
    assert list(history.filter(history_type="~", patient_id=ben.pk).values_list("status", flat=True)) == ["excused"]


def test_it_keeps_who_joined_and_left_a_group(clinic, patient):
    ben = PatientFactory(clinic=clinic)
    group = services.create_therapy_group(clinic=clinic, name="Thursday mornings")

    services.set_group_members(group=group, patients=[patient, ben])
    services.set_group_members(group=group, patients=[ben])

    rosters = [
        {member.patient_id for member in version.members.all()}
        for version in group.history.order_by("history_date", "history_id")
    ]
    assert {patient.pk, ben.pk} in rosters
    assert rosters[-1] == {ben.pk}


@pytest.mark.parametrize("model", [Clinic, Membership, Product, TherapyGroup, FollowUpCall, TherapySession])
def test_every_clinical_record_keeps_its_history(clinic, patient, model):
    services.log_follow_up_call(patient=patient, outcome=FollowUpCall.Outcome.NO_ANSWER)
    services.log_therapy_session(patient=patient, held_on=clinic_today(clinic), status="attended")
    MembershipFactory(clinic=clinic)
    Product.objects.create(clinic=clinic, name="Injection", coverage_length=4)
    group = TherapyGroupFactory(clinic=clinic)
    services.update_therapy_group(group=group, name="Renamed group")

    assert model.history.exists()
    assert group.history.count() == 2
    assert group.history.first().name == "Renamed group"


def test_reminders_keep_no_history_of_their_own():
    """The outbox rows record their own life (status, reason, attempts); history is for the records."""
    from patients.models import Reminder

    assert not hasattr(Reminder, "history")


def test_a_patient_changed_outside_the_services_is_still_recorded(patient):
    patient.phone = "0700 000000"
    patient.save()

    assert Patient.history.filter(id=patient.pk, phone="0700 000000").exists()


def test_placements_keep_their_history(clinic, implant, patient):
    placement = place(patient, implant, clinic_today(clinic))

    assert Placement.history.filter(id=placement.pk, history_type="+").count() == 1


# Keeping and pruning


@pytest.fixture
def old_and_new_rows(time_machine, clinic, implant, coordinator, rf):
    """A placement, its visits and a page read six and a half years ago, and the same this week."""
    now = datetime.datetime(2028, 11, 5, 12, tzinfo=datetime.UTC)
    patients = []
    for moment in (now - 2375 * DAY, now - 3 * DAY):
        time_machine.move_to(moment, tick=False)
        patient = PatientFactory(clinic=clinic)
        place(patient, implant, clinic_today(clinic) - DAY)
        patients.append(patient)
        request = rf.get(patient.get_absolute_url())
        request.user = coordinator
        audit.record_access(request, what=RecordAccess.What.PATIENT_PAGE, patient=patient)
    time_machine.move_to(now, tick=False)
    return patients


def _kept(patient):
    return (
        Patient.history.filter(id=patient.pk).count(),
        visit_history(patient).count(),
        RecordAccess.objects.filter(patient=patient).count(),
    )


def test_it_prunes_history_and_reads_older_than_the_retention_period(old_and_new_rows, capsys):
    old, new = old_and_new_rows
    kept_before = _kept(new)

    call_command("prune_audit")

    assert _kept(old) == (0, 0, 0)
    assert _kept(new) == kept_before
    output = capsys.readouterr().out
    assert "Keeping 2190 days" in output
    assert f"patients_historicalvisit: {old.visits.count()} deleted" in output


def test_a_dry_run_counts_and_deletes_nothing(old_and_new_rows, capsys):
    old, _ = old_and_new_rows
    kept_before = _kept(old)

    call_command("prune_audit", "--dry-run")

    assert _kept(old) == kept_before
    assert "patients_recordaccess: 1 to delete" in capsys.readouterr().out


def test_it_prunes_in_batches_and_reports_progress(old_and_new_rows, capsys):
    old, _ = old_and_new_rows

    call_command("prune_audit", "--batch-size", "1")

    output = capsys.readouterr().out
    visits = old.visits.count()
    assert f"patients_historicalvisit: {visits} of {visits}" in output
    assert _kept(old) == (0, 0, 0)


def test_a_second_prune_finds_nothing(old_and_new_rows):
    assert prune_audit_trail() > 0
    assert prune_audit_trail() == 0


def test_it_keeps_everything_within_a_longer_retention_period(old_and_new_rows, settings):
    old, _ = old_and_new_rows
    settings.AUDIT_RETENTION_DAYS = 2400

    assert prune_audit_trail() == 0
    assert _kept(old)[1] == old.visits.count()


def test_it_prunes_the_roster_snapshots_with_their_group_versions(time_machine, clinic, patient):
    roster_snapshots = apps.get_model("patients", "HistoricalTherapyGroup_members").objects
    time_machine.move_to(datetime.datetime(2020, 1, 1, 12, tzinfo=datetime.UTC), tick=False)
    group = services.create_therapy_group(clinic=clinic, name="Old group")
    services.set_group_members(group=group, patients=[patient])
    assert roster_snapshots.filter(patient_id=patient.pk).exists()
    time_machine.move_to(datetime.datetime(2028, 11, 5, 12, tzinfo=datetime.UTC), tick=False)

    prune_audit_trail()

    assert not group.history.exists()
    assert not roster_snapshots.exists()
