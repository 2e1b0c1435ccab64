"""The reports page: monthly figures with known answers, their definitions at month boundaries,
the CSV downloads, scoping to the user's clinics, and a query count that does not grow with patients."""

import csv
import datetime
import io
import zoneinfo

import pytest
from django.contrib.auth import get_user_model
from django.core.management import call_command
from django.db import connection
from django.test.utils import CaptureQueriesContext

from patients import services
from patients.models import Patient
from patients.reports import figures
from patients.reports.exports import MONTHLY_COLUMNS, PATIENT_COLUMNS
from patients.reports.figures import Dose, PatientHistory, StatusChange, months_between, status_timeline, tally
from patients.reports.queries import clinic_report
from tests.factories import INDUCTION, PatientFactory, TherapyGroupFactory

D = datetime.date
LONDON = zoneinfo.ZoneInfo("Europe/London")
TODAY = D(2026, 6, 15)
NOW = datetime.datetime(2026, 6, 15, 12, tzinfo=LONDON)
ACTIVE = [StatusChange(datetime.date.min, "active")]
# Sessions, user, heartbeat banner, the clinic list and the report's five: never more, at any size.
PAGE_QUERY_LIMIT = 10


def history(*doses: tuple[D, D, D | None], statuses=ACTIVE, registered_on=None) -> PatientHistory:
    """A patient from (placed on, last covered day, next placement) triples, renewals due at the end."""
    placed = sorted(dose[0] for dose in doses)
    return PatientHistory(
        registered_on=registered_on or (placed[0] if placed else D(2026, 1, 1)),
        first_placed_on=placed[0] if placed else None,
        doses=[Dose(placed_on=on, ends_on=end, renewal_due_on=end, next_placed_on=after) for on, end, after in doses],
        statuses=statuses,
    )


APRIL, JUNE = D(2026, 4, 1), D(2026, 6, 1)


def figures_for(*histories: PatientHistory, first=APRIL, last=JUNE, today=TODAY):
    months = months_between(first, last, today=today)
    return {f"{month.month.first:%Y-%m}": month for month in tally(histories, months, today=today)}


# The arithmetic, on plain dates.


def test_it_counts_a_patient_covered_all_month_as_fully_covered():
    april = figures_for(history((D(2026, 3, 20), D(2026, 6, 20), None)))["2026-04"]
    assert (april.days_covered.part, april.days_covered.whole) == (30, 30)
    assert april.days_covered.rate == 1.0
    assert april.active_patients == 1
    assert april.lapses == 0
    assert april.lapses_per_100_patient_months == 0.0


def test_it_counts_a_ten_day_lapse_in_days_covered_lapses_and_renewals():
    # Covered until 5 April; nothing from 6 to 15 April; placed again on 16 April.
    patient = history((D(2026, 1, 5), D(2026, 4, 5), D(2026, 4, 16)), (D(2026, 4, 16), D(2026, 7, 16), None))
    april = figures_for(patient)["2026-04"]
    assert (april.days_covered.part, april.days_covered.whole) == (20, 30)
    assert april.lapses == 1
    assert april.lapses_per_100_patient_months == 100.0  # one lapse in one patient-month
    assert (april.renewals_on_time.part, april.renewals_on_time.whole) == (0, 1)


def test_it_does_not_double_count_overlapping_placements():
    # An early renewal on 1 April while the first implant still covers until 20 April.
    patient = history((D(2026, 1, 20), D(2026, 4, 20), D(2026, 4, 1)), (D(2026, 4, 1), D(2026, 7, 1), None))
    april = figures_for(patient)["2026-04"]
    assert (april.days_covered.part, april.days_covered.whole) == (30, 30)
    assert (april.renewals_on_time.part, april.renewals_on_time.whole) == (1, 1)


def test_it_counts_a_renewal_the_day_after_coverage_ends_as_on_time_across_a_month_end():
    patient = history((D(2026, 1, 31), D(2026, 4, 30), D(2026, 5, 1)), (D(2026, 5, 1), D(2026, 8, 1), None))
    months = figures_for(patient)
    assert (months["2026-04"].renewals_on_time.part, months["2026-04"].renewals_on_time.whole) == (1, 1)
    assert months["2026-04"].lapses == months["2026-05"].lapses == 0
    assert months["2026-05"].days_covered.rate == 1.0


def test_it_counts_a_lapse_in_the_month_of_the_first_uncovered_day():
    # Covered until 30 April, placed again on 2 May: 1 May went uncovered.
    patient = history((D(2026, 1, 31), D(2026, 4, 30), D(2026, 5, 2)), (D(2026, 5, 2), D(2026, 8, 2), None))
    months = figures_for(patient)
    assert months["2026-04"].lapses == 0
    assert months["2026-04"].days_covered.rate == 1.0
    assert (months["2026-04"].renewals_on_time.part, months["2026-04"].renewals_on_time.whole) == (0, 1)
    assert months["2026-05"].lapses == 1
    assert (months["2026-05"].days_covered.part, months["2026-05"].days_covered.whole) == (30, 31)


def test_it_judges_a_renewal_only_once_its_coverage_end_has_passed():
    # Due today, 15 June: it may still be renewed today, so June has no renewal to judge yet.
    june = figures_for(history((D(2026, 3, 15), D(2026, 6, 15), None)))["2026-06"]
    assert june.renewals_on_time.whole == 0
    assert june.lapses == 0
    yesterday = figures_for(history((D(2026, 3, 14), D(2026, 6, 14), None)))["2026-06"]
    assert (yesterday.renewals_on_time.part, yesterday.renewals_on_time.whole) == (0, 1)
    assert yesterday.lapses == 1  # today, 15 June, is the first uncovered day


def test_it_counts_the_current_month_up_to_today():
    june = figures_for(history((D(2026, 3, 20), D(2026, 6, 20), None)))["2026-06"]
    assert not june.month.is_complete
    assert (june.days_covered.part, june.days_covered.whole) == (15, 15)
    first_of_july = figures_for(
        history((D(2026, 3, 20), D(2026, 6, 20), None)), today=D(2026, 7, 1), last=D(2026, 7, 1)
    )
    assert first_of_july["2026-07"].days_covered.whole == 1
    assert first_of_july["2026-07"].lapses == 0  # the lapse began on 21 June


def test_it_leaves_out_days_and_lapses_after_discharge():
    discharged = [StatusChange(datetime.date.min, "active"), StatusChange(D(2026, 4, 10), "discharged")]
    patient = history((D(2026, 1, 5), D(2026, 4, 5), None), statuses=discharged)
    months = figures_for(patient)
    # In care 1 to 9 April, covered 1 to 5: the lapse from 6 April counts, nothing after the 10th.
    assert (months["2026-04"].days_covered.part, months["2026-04"].days_covered.whole) == (5, 9)
    assert months["2026-04"].lapses == 1
    assert months["2026-05"].active_patients == 0
    assert months["2026-05"].days_covered.whole == 0
    assert months["2026-05"].lapses_per_100_patient_months is None
    discharged_first = [StatusChange(datetime.date.min, "active"), StatusChange(D(2026, 4, 5), "discharged")]
    left_when_it_ended = figures_for(history((D(2026, 1, 5), D(2026, 4, 5), None), statuses=discharged_first))
    assert left_when_it_ended["2026-04"].lapses == 0
    assert left_when_it_ended["2026-04"].renewals_on_time.whole == 0


def test_it_counts_patients_active_by_coverage_or_by_status():
    paused_uncovered = history(
        (D(2025, 12, 1), D(2026, 3, 1), None),
        statuses=[StatusChange(datetime.date.min, "active"), StatusChange(D(2026, 5, 3), "paused")],
    )
    awaiting_induction = history(registered_on=D(2026, 5, 20))
    months = figures_for(paused_uncovered, awaiting_induction)
    assert months["2026-04"].active_patients == 1  # uncovered, but active in April
    assert months["2026-05"].active_patients == 2  # active until 2 May; registered on 20 May
    assert months["2026-06"].active_patients == 1  # paused and uncovered all June
    # Only those with a placement are on treatment: the newcomer adds no uncovered days.
    assert months["2026-06"].days_covered.whole == 15


def test_it_measures_retention_on_the_90th_and_180th_day():
    # First placed 1 January: the 90th day is 1 April, the 180th 30 June (after today).
    retained = history((D(2026, 1, 1), D(2026, 4, 1), D(2026, 3, 28)), (D(2026, 3, 28), D(2026, 6, 28), None))
    lapsed = history((D(2026, 1, 1), D(2026, 3, 31), None))
    months = figures_for(retained, lapsed, first=D(2026, 1, 1))
    april = months["2026-04"]
    assert (april.retention[90].part, april.retention[90].whole) == (1, 2)
    assert all(month.retention[180].whole == 0 for month in months.values())
    assert sum(month.retention[90].whole for month in months.values()) == 2


def test_it_reads_the_status_on_each_day_from_the_record_versions():
    timeline = status_timeline(
        [
            (D(2026, 1, 10), "active", None),
            (D(2026, 3, 5), "paused", None),
            (D(2026, 4, 1), "active", None),  # an edit while active
            (D(2026, 4, 20), "discharged", D(2026, 3, 25)),  # recorded late, from 25 March
            (D(2026, 5, 2), "active", None),  # readmitted
        ]
    )
    assert timeline == [
        StatusChange(datetime.date.min, "active"),
        StatusChange(D(2026, 3, 5), "paused"),
        StatusChange(D(2026, 3, 25), "discharged"),
        StatusChange(D(2026, 5, 2), "active"),
    ]
    assert status_timeline([(D(2026, 6, 1), "discharged", D(2026, 5, 1))]) == [
        StatusChange(datetime.date.min, "active"),
        StatusChange(D(2026, 5, 1), "discharged"),
    ]


def test_it_never_reports_months_after_today():
    assert [month.first for month in months_between(D(2026, 5, 1), D(2026, 9, 1), today=TODAY)] == [
        D(2026, 5, 1),
        D(2026, 6, 1),
    ]
    assert months_between(D(2026, 7, 1), D(2026, 9, 1), today=TODAY) == []


# The figures from the clinic's records, and the pages.


@pytest.fixture
def frozen_now(time_machine):
    time_machine.move_to(NOW, tick=False)


def place(patient, product, placed_on, **extra):
    return services.record_placement(patient=patient, product=product, placed_on=placed_on, **(INDUCTION | extra))


@pytest.fixture
def histories(frozen_now, clinic, implant, other_clinic):
    """Two patients of the clinic with known Aprils, and one of another clinic who must never show."""
    covered = PatientFactory(clinic=clinic, record_number="RN-COVERED", first_name="Cora", last_name="Covered")
    place(covered, implant, D(2026, 3, 20))  # covered until 20 June
    lapsing = PatientFactory(clinic=clinic, record_number="RN-LAPSE", first_name="Lee", last_name="Lapse")
    place(lapsing, implant, D(2026, 1, 5))  # covered until 5 April
    place(lapsing, implant, D(2026, 4, 16))  # ten days without cover
    services.log_therapy_session(patient=covered, held_on=D(2026, 4, 7), status="attended")
    services.log_therapy_session(patient=covered, held_on=D(2026, 4, 14), status="missed")
    services.log_therapy_session(patient=covered, held_on=D(2026, 4, 21), status="excused")
    services.log_therapy_session(patient=covered, held_on=D(2026, 4, 28), status="attended", note="Talked about work.")
    # Cora's first monitoring visit, due 20 April (window 13 to 27 April), kept on 22 April.
    visit = covered.visits.get(kind="monitoring", due_on=D(2026, 4, 20))
    services.complete_visit(visit=visit, completed_on=D(2026, 4, 22), notes="Private clinical note.")
    stranger = PatientFactory(clinic=other_clinic, record_number="RN-OTHER", first_name="Olga", last_name="Other")
    other_implant = other_clinic.products.create(name="Implant", coverage_length=3, renewal_window_lead_days=14)
    place(stranger, other_implant, D(2026, 1, 5))
    return {"covered": covered, "lapsing": lapsing, "stranger": stranger}


@pytest.mark.django_db
def test_it_computes_the_clinics_figures_from_its_records(histories, clinic):
    report = clinic_report(clinic, first_month=D(2026, 4, 1), last_month=D(2026, 6, 1))
    april = report.months[0]
    assert (april.days_covered.part, april.days_covered.whole) == (50, 60)
    assert april.active_patients == 2
    assert april.lapses == 1
    assert (april.renewals_on_time.part, april.renewals_on_time.whole) == (0, 1)
    assert (april.therapy_attendance.part, april.therapy_attendance.whole) == (2, 3)
    # Lee's visit due 5 February has its window in February; Cora's closed on 27 April, kept.
    assert (april.monitoring_in_window.part, april.monitoring_in_window.whole) == (1, 1)
    # The windows of Lee's visit due 16 May and Cora's due 20 May closed unattended.
    may = report.months[1]
    assert (may.monitoring_in_window.part, may.monitoring_in_window.whole) == (0, 2)


@pytest.mark.django_db
def test_it_reads_active_months_from_the_status_history(time_machine, clinic):
    time_machine.move_to(datetime.datetime(2026, 1, 10, 12, tzinfo=LONDON), tick=False)
    patient = PatientFactory(clinic=clinic)  # registered, awaiting induction
    time_machine.move_to(datetime.datetime(2026, 3, 5, 12, tzinfo=LONDON), tick=False)
    services.change_patient_status(patient=patient, status="paused")
    time_machine.move_to(NOW, tick=False)
    report = clinic_report(clinic, first_month=D(2025, 12, 1), last_month=D(2026, 6, 1))
    assert [month.active_patients for month in report.months] == [0, 1, 1, 1, 0, 0, 0]


@pytest.mark.django_db
def test_it_ends_coverage_on_the_removal_day_and_expects_no_renewal(frozen_now, clinic, implant):
    patient = PatientFactory(clinic=clinic)
    placement = place(patient, implant, D(2026, 1, 5))  # planned to cover until 5 April
    services.record_removal(placement=placement, removed_on=D(2026, 3, 10), reason="Site infection.")
    march, april = clinic_report(clinic, first_month=D(2026, 3, 1), last_month=D(2026, 4, 1)).months
    assert (march.days_covered.part, march.days_covered.whole) == (10, 31)
    assert march.lapses == 1
    assert april.renewals_on_time.whole == 0


@pytest.fixture
def signed_in(client, coordinator):
    client.force_login(coordinator)
    return client


@pytest.mark.django_db
@pytest.mark.parametrize("url", ["/reports/", "/reports/monthly.csv", "/reports/patients.csv"])
def test_it_sends_anonymous_visitors_to_sign_in(client, url):
    response = client.get(url)
    assert response.status_code == 302
    assert response["Location"] == f"/accounts/login/?next={url}"


@pytest.mark.django_db
def test_it_shows_the_figures_charts_and_definitions(histories, signed_in):
    response = signed_in.get("/reports/", {"start": "2026-04", "end": "2026-06"})
    assert response.status_code == 200
    page = response.content.decode()
    assert "Riverside Clinic" in page
    assert page.count('role="img"') == 8  # one chart per figure
    assert "Proportion of days covered by month. Apr 2026: 83 %; May 2026: 100 %; Jun 2026 (to 15 Jun): 100 %." in page
    assert "How these are counted" in page
    assert "Jun 2026 (to 15 Jun)" in page
    assert "Olga" not in page


@pytest.mark.django_db
def test_it_defaults_to_the_last_twelve_full_months_and_this_one(histories, signed_in):
    response = signed_in.get("/reports/")
    assert [row.label for row in response.context["rows"]][0::12] == ["Jun 2025", "Jun 2026 (to 15 Jun)"]
    assert len(response.context["rows"]) == 13


@pytest.mark.django_db
@pytest.mark.parametrize(
    ("months", "message"),
    [
        ({"start": "2026-05", "end": "2026-03"}, "The first month must come before the last."),
        ({"start": "2026-07", "end": "2026-08"}, "The first month cannot be in the future."),
        ({"start": "2023-06"}, "Choose at most 36 months."),
        ({"start": "2026-13"}, "Enter a valid date."),
    ],
)
def test_it_refuses_months_it_cannot_report(histories, signed_in, months, message):
    response = signed_in.get("/reports/", months)
    assert response.status_code == 200
    assert message in response.content.decode()
    assert "report" not in response.context
    assert signed_in.get("/reports/monthly.csv", months).status_code == 400


@pytest.mark.django_db
def test_it_reports_up_to_36_months(histories, signed_in):
    response = signed_in.get("/reports/", {"start": "2023-07"})
    assert len(response.context["rows"]) == 36


@pytest.mark.django_db
def test_it_takes_this_month_and_the_files_day_from_the_clinics_calendar(time_machine, settings, signed_in, clinic):
    settings.TIME_ZONE = "UTC"  # still 30 June there
    time_machine.move_to(datetime.datetime(2026, 7, 1, 0, 30, tzinfo=LONDON), tick=False)
    response = signed_in.get("/reports/", {"clinic": str(clinic.uuid), "start": "2026-07"})
    assert [row.label for row in response.context["rows"]] == ["Jul 2026 (to 1 Jul)"]
    download = signed_in.get("/reports/patients.csv", {"clinic": str(clinic.uuid)})
    assert download["Content-Disposition"] == 'attachment; filename="patients-2026-07-01.csv"'


def test_it_reports_no_months_for_a_month_not_yet_begun_in_the_clinics_zone(db, other_clinic, frozen_now):
    # 07:00 in New York on 15 June: July has begun nowhere, so nothing is counted.
    assert clinic_report(other_clinic, first_month=D(2026, 7, 1), last_month=D(2026, 7, 1)).months == []


def rows_of(response):
    assert response["Content-Type"] == "text/csv; charset=utf-8"
    assert response["Cache-Control"] == "private, no-store"
    return list(csv.reader(io.StringIO(b"".join(response.streaming_content).decode())))


@pytest.mark.django_db
def test_it_downloads_the_monthly_table(histories, signed_in, clinic):
    response = signed_in.get(
        "/reports/monthly.csv", {"clinic": str(clinic.uuid), "start": "2026-04", "end": "2026-06"}
    )
    assert response["Content-Disposition"] == 'attachment; filename="monthly-figures-2026-04-to-2026-06.csv"'
    header, *rows = rows_of(response)
    assert header == list(MONTHLY_COLUMNS)
    assert [row[:2] for row in rows] == [["Riverside Clinic", f"2026-0{n}"] for n in (4, 5, 6)]
    april = dict(zip(header, rows[0], strict=True))
    assert april["days_counted"] == "30"
    assert (april["patient_days_on_treatment"], april["covered_patient_days"]) == ("60", "50")
    assert april["proportion_of_days_covered"] == "0.8333"
    assert (april["lapses"], april["lapses_per_100_patient_months"]) == ("1", "50.0")
    assert april["renewals_on_time_rate"] == "0.0"
    assert rows[2][header.index("days_counted")] == "15"
    assert rows[2][header.index("renewals_on_time_rate")] == ""  # nothing to count is not zero


@pytest.mark.django_db
def test_it_downloads_the_patient_list_without_clinical_notes(histories, signed_in, clinic):
    response = signed_in.get("/reports/patients.csv", {"clinic": str(clinic.uuid)})
    assert response["Content-Disposition"] == 'attachment; filename="patients-2026-06-15.csv"'
    content = rows_of(response)
    assert content[0] == list(PATIENT_COLUMNS)
    assert content[1:] == [
        ["Riverside Clinic", "RN-COVERED", "Cora Covered", "Active", "Renewal window open", "2026-06-20",
         "2026-03-20", "2026-06-20", "0.6667"],
        ["Riverside Clinic", "RN-LAPSE", "Lee Lapse", "Active", "Covered", "2026-07-16", "2026-04-16",
         "2026-06-16", ""],
    ]  # fmt: skip
    assert "note" not in str(content).lower()


@pytest.mark.django_db
def test_it_gives_the_patient_lists_attendance_over_90_days(frozen_now, signed_in, clinic, implant):
    patient = PatientFactory(clinic=clinic, record_number="RN-GROUP")
    group = TherapyGroupFactory(clinic=clinic)
    for held_on, status in [(D(2026, 3, 1), "missed"), (D(2026, 5, 5), "attended"), (D(2026, 6, 2), "missed")]:
        services.log_group_attendance(group=group, held_on=held_on, attendance={patient: status})
    services.log_group_attendance(group=group, held_on=D(2026, 6, 9), attendance={patient: "cancelled"})
    _, row = rows_of(signed_in.get("/reports/patients.csv"))
    assert row[PATIENT_COLUMNS.index("therapy_attendance_rate_90_days")] == "0.5"
    assert row[PATIENT_COLUMNS.index("coverage_state_today")] == "No coverage"


@pytest.mark.django_db
def test_it_writes_formula_like_text_as_plain_text(frozen_now, signed_in, clinic):
    PatientFactory(clinic=clinic, record_number="RN-1", first_name="=HYPERLINK(1)", last_name="X")
    _, row = rows_of(signed_in.get("/reports/patients.csv"))
    assert row[2] == "'=HYPERLINK(1) X"


@pytest.mark.django_db
def test_it_shows_another_clinics_coordinator_nothing_of_this_clinic(histories, client, other_coordinator, clinic):
    client.force_login(other_coordinator)
    page = client.get("/reports/").content.decode()
    assert "Hillside Clinic" in page
    assert "Riverside" not in page
    _, *rows = rows_of(client.get("/reports/patients.csv"))
    assert [row[1] for row in rows] == ["RN-OTHER"]
    _, *months = rows_of(client.get("/reports/monthly.csv"))
    assert {row[0] for row in months} == {"Hillside Clinic"}
    # Asking for this clinic by its identifier is refused as if it did not exist.
    assert client.get("/reports/patients.csv", {"clinic": str(clinic.uuid)}).status_code == 400
    assert client.get("/reports/monthly.csv", {"clinic": str(clinic.uuid)}).status_code == 400
    assert "Select a valid choice" in client.get("/reports/", {"clinic": str(clinic.uuid)}).content.decode()


@pytest.mark.django_db
def test_it_lets_a_member_of_several_clinics_choose_one_or_download_all(
    histories, signed_in, coordinator, other_clinic
):
    coordinator.memberships.create(clinic=other_clinic)
    page = signed_in.get("/reports/", {"clinic": str(other_clinic.uuid)})
    assert page.context["clinic"] == other_clinic
    assert f'<option value="{other_clinic.uuid}" selected>Hillside Clinic</option>' in page.content.decode()
    assert "Monthly figures, all your clinics (CSV)" in page.content.decode()
    _, *rows = rows_of(signed_in.get("/reports/monthly.csv", {"start": "2026-06", "end": "2026-06"}))
    assert [row[0] for row in rows] == ["Hillside Clinic", "Riverside Clinic"]


def page_queries(client) -> int:
    with CaptureQueriesContext(connection) as queries:
        assert client.get("/reports/").status_code == 200
    return len(queries)


@pytest.mark.django_db
def test_it_runs_the_same_queries_for_50_and_500_patients(frozen_now, client, django_assert_max_num_queries):
    call_command("seed_demo", patients=50, verbosity=0)
    client.force_login(get_user_model().objects.get(username="coordinator"))
    with django_assert_max_num_queries(PAGE_QUERY_LIMIT):
        at_50 = page_queries(client)
    call_command("seed_demo", patients=500, verbosity=0)
    with django_assert_max_num_queries(PAGE_QUERY_LIMIT):
        at_500 = page_queries(client)
    assert at_50 == at_500
    for url in ("/reports/monthly.csv", "/reports/patients.csv"):
        with django_assert_max_num_queries(PAGE_QUERY_LIMIT):
            b"".join(client.get(url).streaming_content)


def test_the_figures_statuses_are_the_models():
    assert figures.ACTIVE == Patient.Status.ACTIVE
    assert figures.DISCHARGED == Patient.Status.DISCHARGED
    assert set(Patient.Status.values) - {Patient.Status.DISCHARGED} == figures.IN_CARE
