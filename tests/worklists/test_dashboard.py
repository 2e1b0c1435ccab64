"""The dashboard: whose protection has lapsed first, then what is due, each with its next action."""

import datetime
import zoneinfo

import pytest
from django.core.management import call_command
from django.http import HttpRequest
from django.test import Client
from django.urls import reverse

from patients import services
from patients.models import Clinic, Reminder
from patients.worklists.dashboard import dashboard_worklists
from tests.factories import INDUCTION, PatientFactory, TherapyGroupFactory, UserFactory

pytestmark = pytest.mark.django_db

D = datetime.date
LONDON = zoneinfo.ZoneInfo("Europe/London")
TODAY = D(2026, 6, 15)
NOW = datetime.datetime(2026, 6, 15, 12, tzinfo=LONDON)


@pytest.fixture(autouse=True)
def frozen_now(time_machine):
    time_machine.move_to(NOW, tick=False)


def place(patient, product, placed_on, **extra):
    return services.record_placement(patient=patient, product=product, placed_on=placed_on, **(INDUCTION | extra))


def lists_for(*clinics):
    return {w.key: w for w in dashboard_worklists(Clinic.objects.filter(pk__in=[c.pk for c in clinics]), now=NOW)}


def names(worklist):
    return [row.patient.full_name for row in worklist.rows]


@pytest.fixture
def signed_in(client, coordinator):
    client.force_login(coordinator)
    return client


def test_it_sends_anonymous_visitors_to_sign_in(client):
    response = client.get("/")
    assert response.status_code == 302
    assert response["Location"] == "/accounts/login/?next=/"


def test_it_lists_lapsed_patients_longest_without_cover_first(clinic, implant, other_clinic):
    recent = PatientFactory(clinic=clinic, first_name="Recent", last_name="Lapse")
    older = PatientFactory(clinic=clinic, first_name="Older", last_name="Lapse")
    place(recent, implant, D(2026, 3, 12))  # covered until 12 June: 3 days without cover
    place(older, implant, D(2026, 3, 10))  # until 10 June: 5 days
    lists = lists_for(clinic)
    assert names(lists["lapsed"]) == ["Older Lapse", "Recent Lapse"]
    assert [row.number for row in lists["lapsed"].rows] == [5, 3]
    assert lists["lapsed"].rows[0].actions[0].label == "Record placement"
    assert lists["reinduction"].count == 0


def test_a_lapse_hides_until_its_try_again_day_and_leaves_once_settled(clinic, implant, coordinator):
    patient = PatientFactory(clinic=clinic, first_name="Called", last_name="Back")
    place(patient, implant, D(2026, 3, 12))  # coverage ended 12 June
    services.log_follow_up_call(
        patient=patient, outcome="left_message", called_by=coordinator, try_again_on=D(2026, 6, 16)
    )
    assert lists_for(clinic)["lapsed"].count == 0
    later = datetime.datetime(2026, 6, 16, 9, tzinfo=LONDON)
    rows = {w.key: w for w in dashboard_worklists(Clinic.objects.filter(pk=clinic.pk), now=later)}["lapsed"].rows
    assert rows[0].latest_call.startswith("Left a message")
    services.log_follow_up_call(patient=patient, outcome="agreed_to_come", called_by=coordinator)
    assert lists_for(clinic)["lapsed"].count == 0


def test_a_call_before_the_lapse_does_not_settle_it(clinic, implant, coordinator, time_machine):
    patient = PatientFactory(clinic=clinic, first_name="Old", last_name="Call")
    place(patient, implant, D(2026, 3, 12))  # coverage ended 12 June
    time_machine.move_to(datetime.datetime(2026, 6, 1, 12, tzinfo=LONDON), tick=False)
    services.log_follow_up_call(patient=patient, outcome="reached", called_by=coordinator)
    assert [row.patient.last_name for row in lists_for(clinic)["lapsed"].rows] == ["Call"]


def test_it_dates_the_latest_call_on_the_clinics_calendar(clinic, implant, coordinator):
    patient = PatientFactory(clinic=clinic, first_name="Late", last_name="Call")
    place(patient, implant, D(2026, 3, 12))  # coverage ended 12 June
    # Half past midnight in London on 15 June is still 14 June in UTC.
    called_at = datetime.datetime(2026, 6, 15, 0, 30, tzinfo=LONDON)
    services.log_follow_up_call(patient=patient, outcome="no_answer", called_by=coordinator, called_at=called_at)
    assert lists_for(clinic)["lapsed"].rows[0].latest_call == "No answer (15 Jun)"


def test_it_lists_re_induction_separately(clinic, implant):
    patient = PatientFactory(clinic=clinic, first_name="Long", last_name="Gap")
    place(patient, implant, D(2026, 2, 1))  # covered until 1 May
    lists = lists_for(clinic)
    assert names(lists["reinduction"]) == ["Long Gap"]
    assert lists["reinduction"].rows[0].number == 45
    assert lists["lapsed"].count == 0


def test_it_lists_open_renewal_windows_without_an_appointment(clinic, implant):
    unbooked, booked = (
        PatientFactory(clinic=clinic, last_name="Unbooked"),
        PatientFactory(clinic=clinic, last_name="Booked"),
    )
    place(unbooked, implant, D(2026, 3, 20))  # renewal due 20 June, window from 6 June
    renewal = place(booked, implant, D(2026, 3, 20)).visits.get(kind="renewal")
    services.reschedule_visit(visit=renewal, appointment_at=NOW + datetime.timedelta(days=2))
    lists = lists_for(clinic)
    assert [row.patient.last_name for row in lists["open_windows"].rows] == ["Unbooked"]
    assert sorted(row.patient.last_name for row in lists["renewals_due"].rows) == ["Booked", "Unbooked"]


def test_a_missed_visit_waits_for_a_call_and_hides_until_the_try_again_day(clinic, implant, coordinator):
    patient = PatientFactory(clinic=clinic, last_name="Missed")
    visit = place(patient, implant, D(2026, 5, 1)).visits.get(due_on=D(2026, 6, 1))
    services.mark_missed_visits(today=TODAY)
    assert lists_for(clinic)["missed"].rows[0].latest_call == "Not called yet"
    services.log_follow_up_call(
        patient=patient, visit=visit, outcome="no_answer", called_by=coordinator, try_again_on=D(2026, 6, 17)
    )
    assert lists_for(clinic)["missed"].count == 0
    later = datetime.datetime(2026, 6, 17, 9, tzinfo=LONDON)
    rows = {w.key: w for w in dashboard_worklists(Clinic.objects.filter(pk=clinic.pk), now=later)}["missed"].rows
    assert rows[0].latest_call.startswith("No answer")


def test_a_settled_call_takes_the_missed_visit_off_the_list(clinic, implant, coordinator):
    patient = PatientFactory(clinic=clinic)
    visit = place(patient, implant, D(2026, 5, 1)).visits.get(due_on=D(2026, 6, 1))
    services.mark_missed_visits(today=TODAY)
    services.log_follow_up_call(patient=patient, visit=visit, outcome="agreed_to_come", called_by=coordinator)
    assert lists_for(clinic)["missed"].count == 0


def test_it_lists_reminders_that_did_not_reach_the_patient(clinic, implant):
    patient = PatientFactory(clinic=clinic, last_name="Bounced")
    place(patient, implant, D(2026, 5, 14))  # first visit due 14 June: its reminders went 11 and 13 June
    Reminder.objects.filter(patient=patient, kind="monitoring_1_day").update(status="failed", last_error="550")
    rows = lists_for(clinic)["reminders"].rows
    assert [row.summary for row in rows] == [
        "Monitoring visit in 3 days: expired",
        "Monitoring visit tomorrow: failed",
    ]


def test_it_lists_low_therapy_attendance(clinic, implant):
    regular, irregular, absent = (
        PatientFactory(clinic=clinic, last_name=name) for name in ("Regular", "Irregular", "Absent")
    )
    for patient in (regular, irregular, absent):
        place(patient, implant, D(2026, 5, 1))
    group = TherapyGroupFactory(clinic=clinic)
    for weeks_ago, statuses in enumerate([("attended", "attended", "missed"), ("attended", "missed", "missed")] * 2):
        day = TODAY - datetime.timedelta(weeks=weeks_ago + 1)
        services.log_group_attendance(
            group=group, held_on=day, attendance=dict(zip((regular, irregular, absent), statuses, strict=True))
        )
    rows = {row.patient.last_name: row for row in lists_for(clinic)["attendance"].rows}
    assert sorted(rows) == ["Absent", "Irregular"]
    assert rows["Irregular"].number == 50
    assert rows["Absent"].number == 0


def test_it_flags_mood_and_liver_results(clinic, implant):
    low_mood, liver, unchecked, fine = (
        PatientFactory(clinic=clinic, last_name=name) for name in ("Mood", "Liver", "Unchecked", "Fine")
    )
    for patient, findings in (
        (low_mood, {"phq9_total": 12, "phq9_item9": 1}),
        (liver, {"alt_u_per_l": 130}),
        (fine, {"alt_u_per_l": 30, "phq9_total": 2, "phq9_item9": 0}),
    ):
        visit = place(patient, implant, D(2026, 5, 1)).visits.get(due_on=D(2026, 6, 1))
        services.complete_visit(visit=visit, completed_on=D(2026, 6, 2), **findings)
    services.update_patient(patient=unchecked, liver_condition=True, liver_condition_note="Hepatitis C, treated")
    rows = {row.patient.last_name: row.summary for row in lists_for(clinic)["safety"].rows}
    assert sorted(rows) == ["Liver", "Mood", "Unchecked"]
    assert "item 9 scored 1" in rows["Mood"]
    assert "ALT 130" in rows["Liver"]
    assert "no liver test in 90 days" in rows["Unchecked"]


def test_it_lists_visits_today_and_this_week(clinic, implant):
    patient = PatientFactory(clinic=clinic, last_name="Today")
    first = place(patient, implant, D(2026, 5, 15)).visits.get(due_on=D(2026, 6, 15))
    other = PatientFactory(clinic=clinic, last_name="Friday")
    place(other, implant, D(2026, 5, 19))  # due 19 June
    lists = lists_for(clinic)
    assert [row.patient.last_name for row in lists["today"].rows] == ["Today"]
    assert sorted(row.patient.last_name for row in lists["this_week"].rows) == ["Friday", "Today"]
    assert lists["today"].rows[0].actions[0].url == reverse("patients:visit_findings", args=[first.uuid])


def test_the_page_shows_the_lists_in_order_with_counts(signed_in, clinic, implant):
    place(PatientFactory(clinic=clinic, first_name="Ana", last_name="Lapsed"), implant, D(2026, 3, 12))
    response = signed_in.get("/")
    html = response.content.decode()
    assert response.status_code == 200
    assert html.index("Coverage lapsed") < html.index("Renewal window open") < html.index("Visits this week")
    assert "Ana Lapsed" in html
    for word in ("lapsed", "renewal", "missed", "attendance"):
        assert word in html.lower()


def test_a_coordinator_never_sees_another_clinics_patients(client, other_coordinator, clinic, implant):
    place(PatientFactory(clinic=clinic, first_name="Hidden", last_name="Person"), implant, D(2026, 3, 12))
    client.force_login(other_coordinator)
    assert "Hidden Person" not in client.get("/").content.decode()


def test_a_user_without_a_clinic_is_told_so(client):
    client.force_login(UserFactory(username="newcomer"))
    assert "not a member of any clinic" in client.get("/").content.decode()


def test_its_query_count_does_not_grow_with_the_clinic(django_assert_max_num_queries):
    call_command("seed_demo", patients=50, verbosity=0)
    client = Client()
    # django-axes counts sign-ins by address, so authenticate() needs a request to take it from.
    client.login(request=HttpRequest(), username="coordinator", password="demo-coordinator")
    # Session, user, clinics; one statement for every list; the rows of each kind (placements,
    # visits, reminders, patients); the pipeline's banner.
    with django_assert_max_num_queries(9):
        assert client.get("/").status_code == 200
    call_command("seed_demo", patients=500, verbosity=0)
    with django_assert_max_num_queries(9):
        assert client.get("/").status_code == 200


def test_the_page_shows_reminders_waiting_for_daytime(client, coordinator, clinic, implant, time_machine):
    patient = PatientFactory(clinic=clinic)
    place(patient, implant, D(2026, 6, 15))
    # Its first reminder was due at 10:00 on 12 July; at 03:00 on the 13th it still waits for the morning.
    time_machine.move_to(datetime.datetime(2026, 7, 13, 3, tzinfo=LONDON), tick=False)
    assert (
        Reminder.objects.filter(
            patient=patient, status="pending", next_attempt_at__lt=datetime.datetime(2026, 7, 13, 3, tzinfo=LONDON)
        ).count()
        == 1
    )
    client.force_login(coordinator)
    assert "1 reminder waiting to go out" in client.get("/").content.decode()
