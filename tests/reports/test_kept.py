"""Kept report figures (``patients.reports.kept``): a month's figures are worked out once and then
read from one row, and every kind of change to the records the reports read, through a service, a
plain save, a delete or a bulk write, drops exactly the months it can touch, so the page always
shows what the records say now."""

import datetime
import zoneinfo

import pytest
from django.contrib.auth import get_user_model
from django.db import connection
from django.test.utils import CaptureQueriesContext

from patients import services
from patients.audit import services as audit
from patients.clinic_time import clinic_today
from patients.models import Clinic, Patient, ReportFigures, TherapySession, Visit
from patients.reports import kept
from patients.reports.figures import MonthFigures, months_between
from patients.reports.queries import clinic_report, month_figures
from tests.factories import INDUCTION, ClinicFactory, PatientFactory

pytestmark = pytest.mark.django_db

D = datetime.date
LONDON = zoneinfo.ZoneInfo("Europe/London")
NOW = datetime.datetime(2026, 6, 15, 12, tzinfo=LONDON)
JANUARY, JUNE = D(2026, 1, 1), D(2026, 6, 1)
RECORD_TABLES = ("patients_placement", "patients_visit", "patients_therapysession", "patients_historicalpatient")


def place(patient, product, placed_on, **extra):
    return services.record_placement(patient=patient, product=product, placed_on=placed_on, **(INDUCTION | extra))


@pytest.fixture
def records(time_machine, clinic, implant):
    """Three patients with six months of placements, a lapse, visits and sessions."""
    time_machine.move_to(NOW, tick=False)
    covered = PatientFactory(clinic=clinic, record_number="RN-1")
    first = place(covered, implant, D(2026, 1, 5))
    place(covered, implant, D(2026, 4, 2))
    lapsing = PatientFactory(clinic=clinic, record_number="RN-2")
    place(lapsing, implant, D(2026, 2, 10))  # covered until 10 May, then a lapse
    late = PatientFactory(clinic=clinic, record_number="RN-3")
    for held_on, status in [(D(2026, 2, 3), "attended"), (D(2026, 3, 3), "missed"), (D(2026, 4, 7), "attended")]:
        services.log_therapy_session(patient=covered, held_on=held_on, status=status)
    visit = covered.visits.get(kind="monitoring", placement=first, due_on=D(2026, 2, 5))
    services.complete_visit(visit=visit, completed_on=D(2026, 2, 6))
    return {"covered": covered, "lapsing": lapsing, "late": late, "first": first}


def as_shown(months: list[MonthFigures]) -> list[tuple[D, D, dict]]:
    return [(month.month.first, month.month.last, month.as_json()) for month in months]


def report(clinic: Clinic, first=JANUARY, last=JUNE):
    """What the page shows: the clinic read as the view reads it, kept figures and all."""
    clinic = Clinic.objects.select_related("report_figures").get(pk=clinic.pk)
    return as_shown(clinic_report(clinic, first_month=first, last_month=last).months)


def worked_out(clinic: Clinic, first=JANUARY, last=JUNE):
    """The same months from the records alone, nothing kept."""
    today = clinic_today(clinic)
    return as_shown(month_figures(clinic, months_between(first, last, today=today), today=today))


def test_a_new_clinic_has_its_row_and_the_first_report_keeps_its_months(records, clinic):
    assert ReportFigures.objects.get(clinic=ClinicFactory()).months == {}
    first = report(clinic)
    row = ReportFigures.objects.get(clinic=clinic)
    assert sorted(row.months) == [f"2026-0{month}-01" for month in range(1, 7)]
    assert row.as_of == D(2026, 6, 15)
    assert first == worked_out(clinic)


def test_a_second_report_reads_no_record_at_all(records, clinic):
    first = report(clinic)
    with CaptureQueriesContext(connection) as queries:
        second = report(clinic)
    assert second == first
    assert [q["sql"] for q in queries if any(table in q["sql"] for table in RECORD_TABLES)] == []
    assert len(queries) == 1  # the clinic with its kept figures


def test_each_month_alone_has_the_figures_it_has_in_a_longer_range(records, clinic):
    # What keeping months one by one rests on: a month's figures do not depend on the range asked.
    whole = worked_out(clinic)
    alone = [worked_out(clinic, first=month_first, last=month_first)[0] for month_first, _, _ in whole]
    assert alone == whole


def _backdated_placement(records, implant):
    place(records["late"], implant, D(2026, 2, 20))


def _removal(records, implant):
    services.record_removal(placement=records["first"], removed_on=D(2026, 3, 1), reason="Site infection.")


def _backdated_session(records, implant):
    services.log_therapy_session(patient=records["lapsing"], held_on=D(2026, 2, 17), status="missed")


def _backdated_discharge(records, implant):
    services.discharge_patient(patient=records["lapsing"], discharged_on=D(2026, 5, 1))


def _discharge_today(records, implant):
    services.discharge_patient(patient=records["covered"])


def _placement_moved_later(records, implant):
    # A correction through a plain save (as the admin saves): January and February lose their cover.
    placement = type(records["first"]).objects.get(pk=records["first"].pk)
    placement.placed_on, placement.covers_until = D(2026, 3, 5), D(2026, 6, 5)
    placement.save()


def _visit_cancelled(records, implant):
    visit = Visit.objects.get(patient=records["covered"], kind="monitoring", due_on=D(2026, 3, 5))
    visit.status, visit.cancel_reason = Visit.Status.CANCELLED, Visit.CancelReason.CLINIC
    visit.save()


def _session_deleted(records, implant):
    TherapySession.objects.get(patient=records["covered"], held_on=D(2026, 3, 3)).delete()


def _sessions_moved_in_bulk(records, implant):
    audit.update_with_history(TherapySession.objects.filter(held_on=D(2026, 2, 3)), held_on=D(2026, 6, 2))


def _placements_created_in_bulk(records, implant):
    placement = type(records["first"])(
        patient=records["late"], product=implant, placed_on=D(2026, 1, 20), covers_until=D(2026, 4, 20)
    )
    audit.create_with_history(type(placement), [placement])


CHANGES = [
    _backdated_placement,
    _removal,
    _backdated_session,
    _backdated_discharge,
    _discharge_today,
    _placement_moved_later,
    _visit_cancelled,
    _session_deleted,
    _sessions_moved_in_bulk,
    _placements_created_in_bulk,
]


@pytest.mark.parametrize("change", CHANGES, ids=[change.__name__.strip("_") for change in CHANGES])
def test_every_kind_of_change_shows_on_the_next_report(records, clinic, implant, change):
    before = report(clinic)
    change(records, implant)
    after = report(clinic)
    assert after == worked_out(clinic)
    assert after != before  # the change touched a figure: the report did not just repeat itself


def test_a_change_drops_only_the_months_from_its_own_on(records, clinic):
    report(clinic)
    services.log_therapy_session(patient=records["covered"], held_on=D(2026, 4, 20), status="attended")
    row = ReportFigures.objects.get(clinic=clinic)
    assert row.changed_from == D(2026, 4, 1)
    assert sorted(kept.usable(row, today=D(2026, 6, 15))) == [D(2026, 1, 1), D(2026, 2, 1), D(2026, 3, 1)]


def test_a_save_that_changes_nothing_the_figures_read_drops_nothing(records, clinic):
    report(clinic)
    version = ReportFigures.objects.get(clinic=clinic).version
    patient = Patient.objects.get(pk=records["covered"].pk)
    patient.phone = "01632 960000"
    patient.save()
    assert ReportFigures.objects.get(clinic=clinic).version == version


def test_a_change_to_another_clinic_drops_nothing_here(records, clinic, other_clinic):
    report(clinic)
    services.log_therapy_session(
        patient=PatientFactory(clinic=other_clinic, record_number="RN-9"), held_on=D(2026, 2, 2), status="missed"
    )
    assert ReportFigures.objects.get(clinic=clinic).changed_from is None


def test_figures_worked_out_while_a_change_was_saved_are_not_kept(records, clinic):
    row = kept.kept_row(Clinic.objects.get(pk=clinic.pk))  # read before the records, as a request does
    today = clinic_today(clinic)
    figures = month_figures(clinic, months_between(JANUARY, JUNE, today=today), today=today)
    services.log_therapy_session(patient=records["covered"], held_on=D(2026, 2, 24), status="missed")
    assert kept.keep(clinic, row, {month.month.first: month for month in figures}, today=today) is False
    assert ReportFigures.objects.get(clinic=clinic).months == {}
    assert report(clinic) == worked_out(clinic)


def test_the_current_month_is_kept_for_its_day_only(records, clinic, time_machine):
    june_today = report(clinic)[-1]
    time_machine.move_to(NOW + datetime.timedelta(days=1), tick=False)
    row = ReportFigures.objects.get(clinic=clinic)
    assert sorted(kept.usable(row, today=D(2026, 6, 16))) == [D(2026, month, 1) for month in range(1, 6)]
    tomorrow = report(clinic)
    assert tomorrow == worked_out(clinic)
    assert tomorrow[-1][1] == D(2026, 6, 16) != june_today[1]


def test_a_month_that_ends_today_is_worked_out_again_tomorrow(time_machine, clinic, implant):
    time_machine.move_to(datetime.datetime(2026, 4, 30, 12, tzinfo=LONDON), tick=False)
    placement = place(PatientFactory(clinic=clinic), implant, D(2026, 1, 31))
    assert placement.covers_until == D(2026, 4, 30)  # its renewal is judged on 1 May
    april = {"first": D(2026, 4, 1), "last": D(2026, 4, 1)}
    on_its_last_day = report(clinic, **april)
    time_machine.move_to(datetime.datetime(2026, 5, 1, 12, tzinfo=LONDON), tick=False)
    assert report(clinic, **april) == worked_out(clinic, **april) != on_its_last_day


def test_figures_of_other_definitions_are_not_used(records, clinic):
    report(clinic)
    ReportFigures.objects.filter(clinic=clinic).update(definitions="an older version")
    assert kept.usable(ReportFigures.objects.get(clinic=clinic), today=D(2026, 6, 15)) == {}


def test_a_change_to_the_clinic_drops_every_month(records, clinic):
    report(clinic)
    clinic.time_zone = "America/New_York"
    clinic.save()
    assert kept.usable(ReportFigures.objects.get(clinic=clinic), today=D(2026, 6, 15)) == {}


def test_the_reports_page_reads_no_record_the_second_time(records, clinic, client):
    user = get_user_model().objects.create_user("reader")
    clinic.memberships.create(user=user, role="coordinator")
    client.force_login(user)
    assert client.get("/reports/").status_code == 200
    with CaptureQueriesContext(connection) as queries:
        assert client.get("/reports/").status_code == 200
    assert [q["sql"] for q in queries if any(table in q["sql"] for table in RECORD_TABLES)] == []
