"""Each worklist query called directly on a small cast made for it: exactly who is on the list, who
is not, in what order, and a query count that does not grow with the clinic.

The clock stands at noon on 15 June 2026, London time (the clinic's zone), whatever day the suite
runs. Three-month implants cover to the same day three months on; the renewal window opens 14 days
before, and coverage lapsed for more than 7 days needs re-induction.
"""

import datetime
import zoneinfo

import pytest

from patients import services
from patients.models import Patient, Reminder, TherapySession, Visit
from patients.records.schedule import CoverageState
from patients.worklists import queries
from tests.factories import INDUCTION, PatientFactory, ProductFactory

pytestmark = pytest.mark.django_db

D = datetime.date
DAY = datetime.timedelta(days=1)
LONDON = zoneinfo.ZoneInfo("Europe/London")
TODAY = D(2026, 6, 15)
NOW = datetime.datetime(2026, 6, 15, 12, tzinfo=LONDON)


@pytest.fixture(autouse=True)
def frozen_now(time_machine):
    time_machine.move_to(NOW, tick=False)


def london(day: D, hour: int, minute: int = 0) -> datetime.datetime:
    return datetime.datetime(day.year, day.month, day.day, hour, minute, tzinfo=LONDON)


def place(patient, product, placed_on, **extra):
    return services.record_placement(patient=patient, product=product, placed_on=placed_on, **(INDUCTION | extra))


def someone(clinic, record_number: str, **details) -> Patient:
    return PatientFactory(clinic=clinic, record_number=record_number, last_name=record_number, **details)


def numbers(rows) -> list[str]:
    return [row.patient.record_number for row in rows]


@pytest.fixture
def stranger_product(other_clinic):
    return ProductFactory(clinic=other_clinic, name="Three-month implant", coverage_length=3)


# Lapses


@pytest.fixture
def lapse_cast(clinic, implant, coordinator, stranger, stranger_product):
    place(someone(clinic, "COVERED"), implant, D(2026, 5, 15))  # covered until 15 August
    place(someone(clinic, "ENDS-TODAY"), implant, D(2026, 3, 15))  # 15 June is still covered
    place(someone(clinic, "LAPSED-3"), implant, D(2026, 3, 12))  # ended 12 June: 3 days
    place(someone(clinic, "LAPSED-7"), implant, D(2026, 3, 8))  # ended 8 June: 7 days, still a lapse
    place(someone(clinic, "REINDUCT-8"), implant, D(2026, 3, 7))  # ended 7 June: 8 days
    removed = place(someone(clinic, "REMOVED"), implant, D(2026, 5, 15))
    services.record_removal(placement=removed, removed_on=D(2026, 6, 1), reason="Site infection")  # 14 days
    renewed = someone(clinic, "RENEWED")
    place(renewed, implant, D(2026, 3, 12))
    place(renewed, implant, D(2026, 6, 12))  # renewed the day its cover ended
    discharged = someone(clinic, "DISCHARGED")
    place(discharged, implant, D(2026, 3, 12))
    services.discharge_patient(patient=discharged)
    someone(clinic, "NEVER-PLACED")
    # Called: settled today, settled before the lapse began, and told to try again tomorrow or today.
    reached = someone(clinic, "CALLED-REACHED")
    place(reached, implant, D(2026, 3, 12))
    services.log_follow_up_call(patient=reached, outcome="reached", called_by=coordinator)
    reached_early = someone(clinic, "CALLED-BEFORE")
    place(reached_early, implant, D(2026, 3, 12))
    services.log_follow_up_call(
        patient=reached_early, outcome="reached", called_by=coordinator, called_at=london(D(2026, 6, 11), 10)
    )
    later = someone(clinic, "TRY-TOMORROW")
    place(later, implant, D(2026, 3, 12))
    services.log_follow_up_call(patient=later, outcome="no_answer", called_by=coordinator, try_again_on=TODAY + DAY)
    place(stranger, stranger_product, D(2026, 3, 12))


def test_lapses_lists_each_lapse_by_days_without_cover_and_leaves_out_the_rest(lapse_cast, clinic):
    found = queries.lapses(clinic, today=TODAY)
    assert numbers(found[CoverageState.LAPSED]) == ["LAPSED-7", "CALLED-BEFORE", "LAPSED-3"]
    assert numbers(found[CoverageState.REINDUCTION_REQUIRED]) == ["REMOVED", "REINDUCT-8"]
    assert [placement.ends_on for placement in found[CoverageState.REINDUCTION_REQUIRED]] == [
        D(2026, 6, 1),
        D(2026, 6, 7),
    ]


def test_a_lapse_told_to_try_again_comes_back_on_that_day(lapse_cast, clinic):
    tomorrow = queries.lapses(clinic, today=TODAY + DAY)
    # A day later LAPSED-7 has been without cover for 8 days, and ENDS-TODAY for one.
    assert numbers(tomorrow[CoverageState.LAPSED]) == ["CALLED-BEFORE", "LAPSED-3", "TRY-TOMORROW", "ENDS-TODAY"]
    assert numbers(tomorrow[CoverageState.REINDUCTION_REQUIRED]) == ["REMOVED", "REINDUCT-8", "LAPSED-7"]


def test_the_latest_call_carries_the_try_again_day(lapse_cast, clinic):
    [row] = [
        placement
        for placement in queries.lapses(clinic, today=TODAY + DAY)[CoverageState.LAPSED]
        if placement.patient.record_number == "TRY-TOMORROW"
    ]
    assert (row.call_outcome, row.call_try_again_on) == ("no_answer", TODAY + DAY)


# Renewals


@pytest.fixture
def renewal_cast(clinic, implant, stranger, stranger_product):
    place(someone(clinic, "CLOSES-TODAY"), implant, D(2026, 3, 15))  # due 15 June, window 1 to 15 June
    place(someone(clinic, "OPEN"), implant, D(2026, 3, 20))  # due 20 June, window from 6 June
    place(someone(clinic, "OPENS-TODAY"), implant, D(2026, 3, 29))  # due 29 June, window from 15 June
    place(someone(clinic, "OPENS-TOMORROW"), implant, D(2026, 3, 30))  # due 30 June, window from 16 June
    place(someone(clinic, "CLOSED"), implant, D(2026, 3, 14))  # due 14 June: the window closed yesterday
    booked = place(someone(clinic, "BOOKED"), implant, D(2026, 3, 21)).visits.get(kind="renewal")
    services.reschedule_visit(visit=booked, appointment_at=london(D(2026, 6, 19), 11))
    done = place(someone(clinic, "RENEWED"), implant, D(2026, 3, 22)).visits.get(kind="renewal")
    services.complete_visit(visit=done, completed_on=TODAY)
    place(stranger, stranger_product, D(2026, 3, 20))


def test_open_renewal_windows_lists_unbooked_renewals_open_today_closing_soonest_first(renewal_cast, clinic):
    assert numbers(queries.open_renewal_windows(clinic, today=TODAY)) == ["CLOSES-TODAY", "OPEN", "OPENS-TODAY"]


def test_renewals_due_lists_the_next_fourteen_days_booked_or_not(renewal_cast, clinic):
    found = queries.renewals_due(clinic, today=TODAY)
    assert numbers(found) == ["CLOSES-TODAY", "OPEN", "BOOKED", "OPENS-TODAY"]
    assert [visit.due_on for visit in found] == [
        D(2026, 6, 15),
        D(2026, 6, 20),
        D(2026, 6, 21),
        TODAY + 14 * DAY,
    ]


# Visits in a stretch of days


@pytest.fixture
def visit_cast(clinic, implant, stranger, stranger_product):
    place(someone(clinic, "DUE-TODAY"), implant, D(2026, 5, 15))  # monitoring due 15 June
    place(someone(clinic, "DUE-TOMORROW"), implant, D(2026, 5, 16))
    midnight = place(someone(clinic, "JUST-AFTER-MIDNIGHT"), implant, D(2026, 5, 20)).visits.get(due_on=D(2026, 6, 20))
    # 00:30 on 16 June in London is still 15 June in UTC.
    services.reschedule_visit(visit=midnight, appointment_at=london(D(2026, 6, 16), 0, 30))
    late = place(someone(clinic, "LATE-TONIGHT"), implant, D(2026, 5, 19)).visits.get(due_on=D(2026, 6, 19))
    services.reschedule_visit(visit=late, appointment_at=london(D(2026, 6, 15), 18, 30))
    # Due today, but booked for Friday.
    moved = place(someone(clinic, "MOVED-AWAY"), implant, D(2026, 5, 15)).visits.get(due_on=D(2026, 6, 15))
    services.reschedule_visit(visit=moved, appointment_at=london(D(2026, 6, 19), 10))
    place(someone(clinic, "NEXT-WEEK"), implant, D(2026, 5, 22))  # due 22 June
    place(stranger, stranger_product, D(2026, 5, 15))


def test_visits_between_takes_bookings_on_the_clinics_calendar_and_unbooked_visits_by_due_day(visit_cast, clinic):
    today = queries.visits_between(clinic, TODAY, TODAY + DAY)
    assert sorted(numbers(today)) == ["DUE-TODAY", "LATE-TONIGHT"]
    tomorrow = queries.visits_between(clinic, TODAY + DAY, TODAY + 2 * DAY)
    assert sorted(numbers(tomorrow)) == ["DUE-TOMORROW", "JUST-AFTER-MIDNIGHT"]
    week = queries.visits_between(clinic, TODAY, TODAY + 7 * DAY)
    # By due day, then by the order they were planned.
    assert numbers(week) == ["DUE-TODAY", "MOVED-AWAY", "DUE-TOMORROW", "LATE-TONIGHT", "JUST-AFTER-MIDNIGHT"]
    friday = queries.visits_between(clinic, D(2026, 6, 19), D(2026, 6, 20))
    assert numbers(friday) == ["MOVED-AWAY"]  # LATE-TONIGHT, due that day, is booked for tonight
    eight_days = queries.visits_between(clinic, TODAY, TODAY + 8 * DAY)
    assert numbers(eight_days) == [*numbers(week), "NEXT-WEEK"]


# Missed visits


@pytest.fixture
def missed_cast(clinic, implant, coordinator, stranger, stranger_product):
    place(someone(clinic, "MISSED-JUNE"), implant, D(2026, 5, 1))  # due 1 June, window to 8 June
    place(someone(clinic, "MISSED-MAY"), implant, D(2026, 4, 16))  # due 16 May: 30 days ago
    place(someone(clinic, "TOO-OLD"), implant, D(2026, 4, 15))  # due 15 May: 31 days ago
    settled = someone(clinic, "SETTLED")
    settled_visit = place(settled, implant, D(2026, 5, 2)).visits.get(due_on=D(2026, 6, 2))
    early = someone(clinic, "CALLED-EARLY")
    early_visit = place(early, implant, D(2026, 5, 3)).visits.get(due_on=D(2026, 6, 3))  # window to 10 June
    waiting = someone(clinic, "TRY-AGAIN")
    waiting_visit = place(waiting, implant, D(2026, 5, 4)).visits.get(due_on=D(2026, 6, 4))
    place(stranger, stranger_product, D(2026, 5, 1))
    services.mark_missed_visits(today=TODAY)
    services.log_follow_up_call(patient=settled, visit=settled_visit, outcome="agreed_to_come", called_by=coordinator)
    # Reached while the window was still open: the miss came after the call, which settles nothing.
    services.log_follow_up_call(
        patient=early, visit=early_visit, outcome="reached", called_by=coordinator, called_at=london(D(2026, 6, 9), 10)
    )
    services.log_follow_up_call(
        patient=waiting, visit=waiting_visit, outcome="no_answer", called_by=coordinator, try_again_on=D(2026, 6, 17)
    )


def test_missed_awaiting_call_lists_the_last_thirty_days_misses_newest_first(missed_cast, clinic):
    assert set(Visit.objects.filter(status="missed").values_list("patient__record_number", flat=True)) == {
        "MISSED-JUNE",
        "MISSED-MAY",
        "TOO-OLD",
        "SETTLED",
        "CALLED-EARLY",
        "TRY-AGAIN",
        "H-1",
    }
    assert numbers(queries.missed_awaiting_call(clinic, today=TODAY)) == ["CALLED-EARLY", "MISSED-JUNE", "MISSED-MAY"]


def test_a_missed_visit_comes_back_on_its_try_again_day(missed_cast, clinic):
    on_the_day = queries.missed_awaiting_call(clinic, today=D(2026, 6, 17))
    # Two days on, 16 May is more than 30 days ago.
    assert numbers(on_the_day) == ["TRY-AGAIN", "CALLED-EARLY", "MISSED-JUNE"]


# Reminders


@pytest.fixture
def reminder_cast(clinic, implant, stranger, stranger_product):
    # Placed today for visits due 14 and 17 June: the reminders of 11 and 13 June are past, so expired.
    place(someone(clinic, "EXPIRED"), implant, D(2026, 5, 14))
    failed = someone(clinic, "FAILED")
    place(failed, implant, D(2026, 5, 17))  # reminders at 10:00 on 14 and 16 June
    Reminder.objects.filter(patient=failed, visit__due_on=D(2026, 6, 17), kind="monitoring_3_days").update(
        status="failed", last_error="550"
    )
    place(someone(clinic, "NO-CONSENT", email_consent=False, email_consent_at=None), implant, TODAY)
    place(stranger, stranger_product, D(2026, 5, 14))


def test_reminders_needing_a_call_lists_the_ones_that_did_not_go_out_in_the_stretch(reminder_cast, clinic):
    week = queries.reminders_needing_a_call(clinic, since=NOW - 7 * DAY, until=NOW)
    assert [(row.patient.record_number, row.kind, row.status) for row in week] == [
        ("EXPIRED", "monitoring_3_days", "expired"),
        ("EXPIRED", "monitoring_1_day", "expired"),
        ("FAILED", "monitoring_3_days", "failed"),
    ]
    # From the first moment, and up to (not including) the last.
    edges = queries.reminders_needing_a_call(
        clinic, since=london(D(2026, 6, 11), 10), until=london(D(2026, 6, 14), 10)
    )
    assert [row.send_at for row in edges] == [london(D(2026, 6, 11), 10), london(D(2026, 6, 13), 10)]


def test_reminders_skipped_for_want_of_consent_wait_for_their_moment(reminder_cast, clinic):
    ahead = queries.reminders_needing_a_call(clinic, since=NOW, until=NOW + 30 * DAY)
    assert [(row.patient.record_number, row.kind, row.send_at) for row in ahead] == [
        ("NO-CONSENT", "monitoring_3_days", london(D(2026, 7, 12), 10)),
        ("NO-CONSENT", "monitoring_1_day", london(D(2026, 7, 14), 10)),
    ]
    assert all(row.status == "skipped" for row in ahead)


def test_waiting_reminders_counts_pending_rows_whose_moment_has_passed(clinic, implant, stranger, stranger_product):
    place(someone(clinic, "PENDING"), implant, D(2026, 5, 20))  # reminders at 10:00 on 17 and 19 June
    place(stranger, stranger_product, D(2026, 5, 20))
    assert queries.waiting_reminders(clinic, now=NOW) == 0
    assert queries.waiting_reminders(clinic, now=london(D(2026, 6, 17), 10)) == 0
    assert queries.waiting_reminders(clinic, now=london(D(2026, 6, 17), 10, 1)) == 1
    assert queries.waiting_reminders(clinic, now=london(D(2026, 6, 19), 10, 1)) == 2
    Reminder.objects.filter(patient__record_number="PENDING", kind="monitoring_1_day").update(
        status="sent", sent_at=NOW
    )
    assert queries.waiting_reminders(clinic, now=london(D(2026, 6, 19), 10, 1)) == 1


def test_visits_to_phone_about_lists_coming_visits_of_patients_who_stopped_email(clinic, implant):
    stopped = someone(clinic, "STOPPED")
    place(stopped, implant, D(2026, 5, 20))  # visits due 20 June, 20 July, renewal 20 August
    services.withdraw_email_consent(patient=stopped)
    booked = someone(clinic, "BOOKED-EARLIER")
    visit = place(booked, implant, D(2026, 5, 21)).visits.get(due_on=D(2026, 6, 21))
    services.reschedule_visit(visit=visit, appointment_at=london(D(2026, 6, 17), 11, 30))
    services.withdraw_email_consent(patient=booked)
    place(someone(clinic, "NEVER-CONSENTED", email_consent=False, email_consent_at=None), implant, D(2026, 5, 22))
    place(someone(clinic, "CONSENTING"), implant, D(2026, 5, 23))
    found = queries.visits_to_phone_about(clinic, today=TODAY, now=NOW)
    assert [(visit.patient.record_number, visit.due_on) for visit in found] == [
        ("STOPPED", D(2026, 6, 20)),
        ("BOOKED-EARLIER", D(2026, 6, 21)),
        ("STOPPED", D(2026, 7, 20)),
        ("BOOKED-EARLIER", D(2026, 7, 21)),
        ("STOPPED", D(2026, 8, 20)),
        ("BOOKED-EARLIER", D(2026, 8, 21)),
    ]
    # The booked visit stays on the list until its appointment at 11:30 on 17 June.
    before = queries.visits_to_phone_about(clinic, today=D(2026, 6, 17), now=london(D(2026, 6, 17), 11, 29))
    after = queries.visits_to_phone_about(clinic, today=D(2026, 6, 17), now=london(D(2026, 6, 17), 11, 31))
    assert D(2026, 6, 21) in [visit.due_on for visit in before]
    assert D(2026, 6, 21) not in [visit.due_on for visit in after]
    # A visit no longer open leaves the list: cancelled by the clinic, it is not coming.
    services.cancel_visit(visit=stopped.visits.get(due_on=D(2026, 7, 20)))
    assert D(2026, 7, 20) not in [
        visit.due_on for visit in queries.visits_to_phone_about(clinic, today=TODAY, now=NOW)
    ]


# Patients


def sessions(patient: Patient, *days_ago_and_status: tuple[int, str]) -> None:
    TherapySession.objects.bulk_create(
        TherapySession(patient=patient, kind="individual", held_on=TODAY - days * DAY, status=status)
        for days, status in days_ago_and_status
    )


def test_low_attendance_lists_patients_in_care_with_a_placement_by_name(clinic, implant, stranger, stranger_product):
    poor = [(1, "attended"), (2, "missed"), (3, "missed")]
    for number, status in [("A-LOW", None), ("B-LOST", "lost_to_follow_up"), ("C-PAUSED", "paused")]:
        patient = someone(clinic, number)
        place(patient, implant, D(2026, 5, 1))
        sessions(patient, *poor)
        if status:
            services.change_patient_status(patient=patient, status=status)
    unplaced = someone(clinic, "D-UNPLACED")
    sessions(unplaced, *poor)
    good = someone(clinic, "E-GOOD")
    place(good, implant, D(2026, 5, 1))
    sessions(good, (1, "attended"), (2, "attended"), (3, "attended"), (4, "missed"))
    stopped = someone(clinic, "F-STOPPED")
    place(stopped, implant, D(2026, 5, 1))
    sessions(stopped, (31, "attended"), (32, "attended"))
    gone = someone(clinic, "G-DISCHARGED")
    place(gone, implant, D(2026, 5, 1))
    sessions(gone, *poor)
    services.discharge_patient(patient=gone)
    place(stranger, stranger_product, D(2026, 5, 1))
    sessions(stranger, *poor)
    found = queries.low_attendance(clinic, today=TODAY)
    assert [patient.record_number for patient in found] == ["A-LOW", "B-LOST", "F-STOPPED"]
    assert [(p.attended, p.missed, p.attended_recently) for p in found] == [(1, 2, 1), (1, 2, 1), (2, 0, 0)]


def test_safety_flagged_lists_patients_not_discharged_with_a_flag_to_act_on(
    clinic, implant, stranger, stranger_product
):
    def seen(number: str, placed_on: D, completed_on: D, **findings) -> Patient:
        patient = someone(clinic, number)
        visit = place(patient, implant, placed_on).visits.order_by("due_on").first()
        services.complete_visit(visit=visit, completed_on=completed_on, **findings)
        return patient

    seen("A-MOOD", D(2026, 5, 1), D(2026, 6, 1), phq9_total=12, phq9_item9=1)
    seen("B-ALT", D(2026, 5, 1), D(2026, 6, 1), alt_u_per_l=121)
    seen("C-AT-LIMIT", D(2026, 5, 1), D(2026, 6, 1), alt_u_per_l=120, ast_u_per_l=120, phq9_item9=0)
    seen("D-OLD", D(2026, 1, 10), D(2026, 2, 10), phq9_item9=3)  # 125 days ago: history
    seen("E-BETTER", D(2026, 5, 1), D(2026, 6, 1), phq9_item9=2)
    better = Patient.objects.get(record_number="E-BETTER")
    services.complete_visit(visit=better.visits.get(due_on=D(2026, 7, 1)), completed_on=TODAY, phq9_item9=0)
    tested = seen("F-LIVER-TESTED", D(2026, 5, 1), D(2026, 6, 1), ast_u_per_l=40)
    services.update_patient(patient=tested, liver_condition=True)
    services.update_patient(patient=someone(clinic, "G-LIVER-UNTESTED"), liver_condition=True)
    gone = seen("H-DISCHARGED", D(2026, 5, 1), D(2026, 6, 1), phq9_item9=3)
    services.discharge_patient(patient=gone)
    place(stranger, stranger_product, D(2026, 5, 1))
    services.complete_visit(visit=stranger.visits.order_by("due_on").first(), completed_on=D(2026, 6, 1), phq9_item9=3)
    found = queries.safety_flagged(clinic, today=TODAY)
    assert [patient.record_number for patient in found] == ["A-MOOD", "B-ALT", "G-LIVER-UNTESTED"]


# What it costs


def cast_of(clinic, implant, coordinator, copies: int) -> None:
    """Every list's kind of row, ``copies`` times over."""
    for copy in range(copies):
        place(someone(clinic, f"LAPSED-{copy}"), implant, D(2026, 3, 12))
        place(someone(clinic, f"REINDUCT-{copy}"), implant, D(2026, 2, 12))
        called = someone(clinic, f"CALLED-{copy}")
        place(called, implant, D(2026, 3, 12))
        services.log_follow_up_call(patient=called, outcome="no_answer", called_by=coordinator)
        place(someone(clinic, f"WINDOW-{copy}"), implant, D(2026, 3, 20))
        place(someone(clinic, f"TODAY-{copy}"), implant, D(2026, 5, 15))
        place(someone(clinic, f"MISSED-{copy}"), implant, D(2026, 5, 1))
        place(someone(clinic, f"EXPIRED-{copy}"), implant, D(2026, 5, 14))
        stopped = someone(clinic, f"STOPPED-{copy}")
        place(stopped, implant, D(2026, 5, 20))
        services.withdraw_email_consent(patient=stopped)
        sessions(stopped, (1, "missed"))
        flagged = someone(clinic, f"FLAGGED-{copy}")
        services.complete_visit(
            visit=place(flagged, implant, D(2026, 5, 2)).visits.get(due_on=D(2026, 6, 2)),
            completed_on=D(2026, 6, 2),
            phq9_item9=1,
        )
    services.mark_missed_visits(today=TODAY)


def every_list(clinic) -> dict[str, int]:
    lapsed = queries.lapses(clinic, today=TODAY)
    found = {
        "lapsed": numbers(lapsed[CoverageState.LAPSED]),
        "reinduction": numbers(lapsed[CoverageState.REINDUCTION_REQUIRED]),
        "open_windows": numbers(queries.open_renewal_windows(clinic, today=TODAY)),
        "renewals_due": numbers(queries.renewals_due(clinic, today=TODAY)),
        "today": numbers(queries.visits_between(clinic, TODAY, TODAY + DAY)),
        "missed": numbers(queries.missed_awaiting_call(clinic, today=TODAY)),
        "reminders": numbers(queries.reminders_needing_a_call(clinic, since=NOW - 7 * DAY, until=NOW)),
        "phone": numbers(queries.visits_to_phone_about(clinic, today=TODAY, now=NOW)),
        "attendance": [patient.record_number for patient in queries.low_attendance(clinic, today=TODAY)],
        "safety": [patient.record_number for patient in queries.safety_flagged(clinic, today=TODAY)],
    }
    counts = {key: len(rows) for key, rows in found.items()}
    counts["waiting"] = queries.waiting_reminders(clinic, now=NOW + 30 * DAY)
    return counts


@pytest.mark.parametrize("copies", [1, 4])
def test_every_list_costs_one_query_however_many_rows(clinic, implant, coordinator, copies, django_assert_num_queries):
    cast_of(clinic, implant, coordinator, copies)
    with django_assert_num_queries(11):
        counts = every_list(clinic)
    assert all(count >= copies for count in counts.values()), counts
