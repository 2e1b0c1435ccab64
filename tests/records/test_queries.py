"""The Patients list and the patient page read directly: search, sorts, the coverage filter, paging,
what the page gathers for a patient, and a fixed number of queries whatever the history.

The clock stands at noon on 15 June 2026, London time (the clinic's zone), whatever day the suite
runs. Three-month implants cover to the same day three months on, their renewal window opens 14 days
before, and a lapse of more than 7 days needs re-induction.
"""

import datetime
import zoneinfo

import pytest

from patients import services
from patients.models import Patient, Reminder, TherapySession
from patients.records import queries
from patients.records.schedule import CoverageState
from tests.factories import INDUCTION, PatientFactory

pytestmark = pytest.mark.django_db

D = datetime.date
DAY = datetime.timedelta(days=1)
LONDON = zoneinfo.ZoneInfo("Europe/London")
TODAY = D(2026, 6, 15)
NOW = datetime.datetime(2026, 6, 15, 12, tzinfo=LONDON)


@pytest.fixture(autouse=True)
def frozen_now(time_machine):
    time_machine.move_to(NOW, tick=False)


def place(patient, product, placed_on, **extra):
    return services.record_placement(patient=patient, product=product, placed_on=placed_on, **(INDUCTION | extra))


def listed(clinic, *, sort="name", state=None, page=1, search=""):
    patients = queries.search(Patient.objects.filter(clinic=clinic), search)
    return queries.patient_list_page(patients, sort=sort, state=state, page_number=page)


def record_numbers(rows) -> list[str]:
    return [row.record_number for row in rows]


@pytest.fixture
def cast(clinic, implant, clinician):
    """One patient in each coverage state, and one discharged."""
    people = {
        "COVERED": ("Cora", "Covered", D(2026, 5, 15)),  # covers until 15 August
        "WINDOW": ("Wendy", "Window", D(2026, 3, 20)),  # ends 20 June, window open since 6 June
        "LAPSED": ("Larry", "Lapsed", D(2026, 3, 12)),  # ended 12 June: 3 days
        "REINDUCT": ("Rita", "Reinduction", D(2026, 2, 16)),  # ended 16 May
        "NEVER": ("Nina", "Never", None),
        "GONE": ("Gus", "Gone", D(2026, 5, 10)),
    }
    for number, (first, last, placed_on) in people.items():
        patient = PatientFactory(clinic=clinic, record_number=number, first_name=first, last_name=last)
        if placed_on:
            place(patient, implant, placed_on)
    services.discharge_patient(patient=Patient.objects.get(record_number="GONE"))
    Patient.objects.filter(record_number="COVERED").update(counsellor=clinician)


# Search


def test_every_word_must_match_a_name_or_the_record_number(cast, clinic, stranger):
    assert record_numbers(listed(clinic, search="cora")[1]) == ["COVERED"]
    assert record_numbers(listed(clinic, search="  LAPSED  ")[1]) == ["LAPSED"]
    assert record_numbers(listed(clinic, search="ri reinduct")[1]) == ["REINDUCT"]
    assert record_numbers(listed(clinic, search="cora window")[1]) == []
    assert sorted(record_numbers(listed(clinic, search="in")[1])) == ["NEVER", "REINDUCT", "WINDOW"]
    assert record_numbers(listed(clinic, search="hidden")[1]) == []  # the other clinic's patient


# Sorts


def test_it_sorts_by_name_either_way(cast, clinic):
    by_name = ["COVERED", "GONE", "LAPSED", "NEVER", "REINDUCT", "WINDOW"]
    assert record_numbers(listed(clinic)[1]) == by_name
    assert record_numbers(listed(clinic, sort="-name")[1]) == by_name[::-1]
    assert record_numbers(listed(clinic, sort="nonsense")[1]) == by_name


def test_it_sorts_by_record_number_either_way(cast, clinic):
    by_record = ["COVERED", "GONE", "LAPSED", "NEVER", "REINDUCT", "WINDOW"]
    assert record_numbers(listed(clinic, sort="record")[1]) == by_record
    assert record_numbers(listed(clinic, sort="-record")[1]) == by_record[::-1]


def test_it_sorts_by_coverage_end_with_patients_never_placed_last_either_way(cast, clinic):
    # Ends: REINDUCT 16 May, LAPSED 12 June, WINDOW 20 June, GONE 10 August, COVERED 15 August.
    assert record_numbers(listed(clinic, sort="covers_until")[1]) == [
        "REINDUCT",
        "LAPSED",
        "WINDOW",
        "GONE",
        "COVERED",
        "NEVER",
    ]
    assert record_numbers(listed(clinic, sort="-covers_until")[1]) == [
        "COVERED",
        "GONE",
        "WINDOW",
        "LAPSED",
        "REINDUCT",
        "NEVER",
    ]


def test_a_removal_brings_the_coverage_end_forward_in_the_sort(cast, clinic):
    covered = Patient.objects.get(record_number="COVERED").placements.get()
    services.record_removal(placement=covered, removed_on=D(2026, 6, 1), reason="Site infection")
    assert record_numbers(listed(clinic, sort="covers_until")[1])[:2] == ["REINDUCT", "COVERED"]


# The coverage filter and the rows


@pytest.mark.parametrize(
    ("state", "expected"),
    [
        (CoverageState.COVERED, ["COVERED"]),
        (CoverageState.RENEWAL_WINDOW_OPEN, ["WINDOW"]),
        (CoverageState.LAPSED, ["LAPSED"]),
        (CoverageState.REINDUCTION_REQUIRED, ["REINDUCT"]),
        (CoverageState.NONE, ["GONE", "NEVER"]),
    ],
)
def test_it_filters_by_coverage_state(cast, clinic, state, expected):
    page, rows = listed(clinic, state=state)
    assert record_numbers(rows) == expected
    assert page.paginator.count == len(expected)
    assert all(row.state is state for row in rows)


def test_each_row_carries_its_coverage_next_visit_and_counsellor(cast, clinic):
    rows = {row.record_number: row for row in listed(clinic)[1]}
    covered = rows["COVERED"]
    assert (covered.full_name, covered.status_label, covered.clinic_name, covered.counsellor_name) == (
        "Cora Covered",
        "Active",
        "Riverside Clinic",
        "clinician",
    )
    assert (covered.state, covered.coverage_ends_on, covered.today) == (CoverageState.COVERED, D(2026, 8, 15), TODAY)
    assert (covered.next_visit_due, covered.next_visit_kind, covered.next_visit_overdue) == (
        D(2026, 6, 15),
        "Monitoring",
        False,
    )
    window = rows["WINDOW"]
    assert (window.next_visit_due, window.next_visit_kind) == (D(2026, 4, 20), "Monitoring")
    assert window.next_visit_overdue  # 20 April was never marked missed
    never, gone = rows["NEVER"], rows["GONE"]
    assert (never.state, never.coverage_ends_on, never.next_visit_due, never.next_visit_kind) == (
        CoverageState.NONE,
        None,
        None,
        "",
    )
    # Discharge cancels the open visits and ends the clinic's following of coverage.
    assert (gone.state, gone.status_label, gone.coverage_ends_on, gone.next_visit_due) == (
        CoverageState.NONE,
        "Discharged",
        D(2026, 8, 10),
        None,
    )


# Paging


@pytest.fixture
def crowd(clinic):
    for number in range(queries.PAGE_SIZE + 5):
        PatientFactory(
            clinic=clinic, record_number=f"C-{number:03d}", first_name="Pat", last_name=f"Crowd {number:03d}"
        )


def test_it_pages_fifty_at_a_time_and_a_bad_page_gives_the_first_or_the_last(crowd, clinic):
    page, rows = listed(clinic)
    assert (page.number, page.paginator.num_pages, len(rows)) == (1, 2, 50)
    assert (rows[0].record_number, rows[-1].record_number) == ("C-000", "C-049")
    page, rows = listed(clinic, page=2)
    assert record_numbers(rows) == ["C-050", "C-051", "C-052", "C-053", "C-054"]
    assert listed(clinic, page="x")[0].number == 1
    assert listed(clinic, page=99)[0].number == 2


def test_the_filtered_list_pages_too(crowd, clinic):
    page, rows = listed(clinic, state=CoverageState.NONE, page=2, sort="-name")
    assert (page.paginator.count, page.number) == (55, 2)
    assert record_numbers(rows) == ["C-004", "C-003", "C-002", "C-001", "C-000"]


@pytest.mark.parametrize("state", [None, CoverageState.NONE, CoverageState.COVERED])
@pytest.mark.parametrize("sort", ["name", "covers_until"])
def test_a_page_of_the_list_costs_four_queries_at_any_size(clinic, implant, state, sort, django_assert_num_queries):
    for size in (3, 60):
        for number in range(Patient.objects.count(), size):
            patient = PatientFactory(clinic=clinic, record_number=f"S-{number:03d}")
            if number % 2:
                place(patient, implant, D(2026, 5, 1) + (number % 30) * DAY)
        with django_assert_num_queries(4):
            page, rows = listed(clinic, sort=sort, state=state)
            assert len(rows) == min(len(page.object_list), queries.PAGE_SIZE)


# The patient page


@pytest.fixture
def history(clinic, implant, coordinator, clinician):
    """Two placements (the first with a visit completed and one missed), sessions, a call."""
    patient = PatientFactory(clinic=clinic, record_number="H-1", first_name="Hal", last_name="History")
    first = place(patient, implant, D(2026, 2, 1))  # visits due 1 March, 1 April, renewal 1 May
    services.complete_visit(
        visit=first.visits.get(due_on=D(2026, 3, 1)), completed_on=D(2026, 3, 2), alt_u_per_l=30, phq9_item9=2
    )
    services.mark_missed_visits(today=D(2026, 4, 10), clinic=clinic)  # 1 April's window closed on 8 April
    second = place(patient, implant, D(2026, 5, 1))  # visits due 1 June, 1 July, renewal 1 August
    services.complete_visit(visit=second.visits.get(due_on=D(2026, 6, 1)), completed_on=D(2026, 6, 1))
    for held_on, status in [(D(2026, 6, 1), "attended"), (D(2026, 6, 8), "missed"), (D(2026, 6, 10), "excused")]:
        services.log_therapy_session(patient=patient, held_on=held_on, status=status, counsellor=clinician)
    services.log_follow_up_call(
        patient=patient, outcome="no_answer", called_by=coordinator, called_at=NOW - datetime.timedelta(hours=2)
    )
    services.log_follow_up_call(patient=patient, outcome="reached", called_by=coordinator)
    return patient


def page_of(patient: Patient) -> queries.PatientPage:
    return queries.patient_page(Patient.objects.select_related("clinic", "counsellor").get(pk=patient.pk))


def test_the_patient_page_gathers_the_whole_history(history):
    page = page_of(history)
    assert page.today == TODAY
    assert [placement.placed_on for placement in page.placements] == [D(2026, 5, 1), D(2026, 2, 1)]
    assert page.newest_placement.placed_on == D(2026, 5, 1)
    assert page.state is CoverageState.COVERED
    current = [(row.visit.kind, row.visit.due_on, row.visit.status) for row in page.current_visits]
    assert current == [
        ("monitoring", D(2026, 6, 1), "completed"),
        ("monitoring", D(2026, 7, 1), "scheduled"),
        ("renewal", D(2026, 8, 1), "scheduled"),
    ]
    assert [row.is_open for row in page.current_visits] == [False, True, True]
    earlier = [(row.visit.due_on, row.visit.status) for row in page.earlier_visits]
    # Newest first; the renewal due 1 May was superseded by the placement that day.
    assert earlier == [(D(2026, 5, 1), "cancelled"), (D(2026, 4, 1), "missed"), (D(2026, 3, 1), "completed")]
    assert [row.can_record_findings for row in page.earlier_visits] == [False, True, False]
    assert page.earlier_visits[-1].findings == ["ALT 30", "PHQ-9 item 9: 2"]
    assert [(s.held_on, s.status) for s in page.sessions] == [
        (D(2026, 6, 10), "excused"),
        (D(2026, 6, 8), "missed"),
        (D(2026, 6, 1), "attended"),
    ]
    assert (page.attendance.attended, page.attendance.missed, page.attendance.not_counted) == (1, 1, 1)
    assert [call.outcome for call in page.calls] == ["reached", "no_answer"]
    # 2 March is more than 90 days ago: item 9 is history, not a flag.
    assert page.flags == []
    assert len(page.timeline.bars) == 2
    assert page.timeline.lapses == []


def test_the_page_lists_reminders_newest_first_and_marks_those_needing_a_call(history):
    page = page_of(history)
    moments = [row.reminder.send_at for row in page.reminders]
    assert moments == sorted(moments, reverse=True)
    # The second placement's 1 June visit was announced on 29 and 31 May; those rows were past when
    # it was placed (1 May is in the past of the frozen clock), so they expired. The visit then took
    # place: they are history, and no call is asked for.
    expired = {(row.reminder.visit.due_on, row.reminder.kind): row for row in page.reminders}
    assert expired[D(2026, 6, 1), "monitoring_3_days"].reminder.status == "expired"
    assert not expired[D(2026, 6, 1), "monitoring_3_days"].needs_call
    assert all(row.reminder.status in ("failed", "skipped", "expired") for row in page.reminders if row.needs_call)
    assert not any(row.needs_call for row in page.reminders if row.reminder.status == "pending")
    # The page and the worklists ask the same question: the property and its SQL twin agree.
    for row in page.reminders:
        in_sql = Reminder.objects.filter(Reminder.needing_a_call(), pk=row.reminder.pk).exists()
        assert row.needs_call == in_sql, row.reminder


def test_a_reminder_that_did_not_reach_the_patient_needs_a_call_while_its_visit_is_to_come(patient, implant):
    placement = services.record_placement(patient=patient, product=implant, placed_on=D(2026, 6, 1), **INDUCTION)
    visit = placement.visits.order_by("due_on").first()
    reminder = visit.reminders.filter(kind="monitoring_3_days").get()
    Reminder.objects.filter(pk=reminder.pk).update(status="failed")
    reminder.refresh_from_db()
    assert reminder.needs_a_call
    services.complete_visit(visit=visit, completed_on=TODAY)
    reminder.refresh_from_db()
    assert reminder.status == "failed"
    assert not reminder.needs_a_call
    assert not Reminder.objects.filter(Reminder.needing_a_call(), pk=reminder.pk).exists()
    # A message about a visit that is over ("we missed you") needs a call whatever became of it.
    missed_note = Reminder.objects.create(
        patient=patient,
        visit=visit,
        kind="missed_visit",
        send_at=reminder.send_at,
        next_attempt_at=reminder.send_at,
        status="failed",
    )
    assert missed_note.needs_a_call
    assert Reminder.objects.filter(Reminder.needing_a_call(), pk=missed_note.pk).exists()


def test_a_patient_never_placed_has_an_empty_page(patient):
    page = page_of(patient)
    assert (page.placements, page.current_visits, page.earlier_visits, page.sessions, page.reminders, page.calls) == (
        [],
        [],
        [],
        [],
        [],
        [],
    )
    assert page.newest_placement is None
    assert page.state is CoverageState.NONE
    assert page.timeline.bars == []
    assert page.attendance.is_low  # nothing attended lately


def test_a_lapse_shows_on_the_timeline_until_today_and_stops_at_discharge(clinic, implant):
    patient = PatientFactory(clinic=clinic)
    place(patient, implant, D(2026, 3, 12))  # ended 12 June
    page = page_of(patient)
    assert page.state is CoverageState.LAPSED
    assert [lapse.label for lapse in page.timeline.lapses] == ["No coverage: 13 Jun 2026 to 15 Jun 2026"]
    services.discharge_patient(patient=patient, discharged_on=D(2026, 6, 13))
    page = page_of(patient)
    assert page.state is CoverageState.NONE
    assert [lapse.label for lapse in page.timeline.lapses] == ["No coverage: 13 Jun 2026 to 13 Jun 2026"]


def test_recent_results_raise_flags_on_the_page(clinic, implant):
    patient = PatientFactory(clinic=clinic)
    visit = place(patient, implant, D(2026, 5, 1)).visits.get(due_on=D(2026, 6, 1))
    services.complete_visit(visit=visit, completed_on=D(2026, 6, 2), phq9_item9=1, alt_u_per_l=121)
    flags = page_of(patient).flags
    assert [flag.title for flag in flags] == ["PHQ-9 item 9 positive", "Liver tests above 3 times normal"]


@pytest.mark.parametrize("cycles", [1, 4])
def test_the_patient_page_costs_five_queries_however_long_the_history(
    clinic, implant, coordinator, cycles, django_assert_num_queries
):
    patient = PatientFactory(clinic=clinic)
    for cycle in range(cycles):
        placed_on = D(2025, 3, 1) + datetime.timedelta(days=90 * cycle)
        placement = place(patient, implant, placed_on, early_renewal_reason="Travel")
        services.complete_visit(visit=placement.visits.order_by("due_on").first(), completed_on=placed_on + 30 * DAY)
        TherapySession.objects.create(patient=patient, kind="individual", held_on=placed_on, status="attended")
        services.log_follow_up_call(
            patient=patient, outcome="reached", called_by=coordinator, called_at=NOW - (cycle + 1) * DAY
        )
    loaded = Patient.objects.select_related("clinic", "counsellor").get(pk=patient.pk)
    with django_assert_num_queries(5):
        page = queries.patient_page(loaded)
    assert len(page.placements) == cycles
    assert len(page.calls) == cycles
    assert len(page.sessions) == cycles
