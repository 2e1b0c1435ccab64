"""The Patients list, the patient page and the wallet card."""

import datetime
import re

import pytest
from django.contrib.auth import get_user_model
from django.core.management import call_command
from django.urls import reverse

from patients import formats, services
from patients.models import Patient, Reminder, TherapySession, Visit
from patients.records import timeline
from patients.records.safety import SAFETY_LOOKBACK_DAYS
from patients.records.schedule import add_months
from tests.factories import INDUCTION, PatientFactory, TherapyGroupFactory

pytestmark = pytest.mark.django_db

UTC = datetime.UTC
TODAY = datetime.date(2026, 6, 15)
NOW = datetime.datetime(2026, 6, 15, 12, tzinfo=UTC)
DAY = datetime.timedelta(days=1)
# Placement days chosen so that no month clamps: a three-month implant placed on the 12th ends on the 12th.
COVERED_FROM = datetime.date(2026, 5, 15)  # covers until 15 Aug
WINDOW_OPEN_FROM = datetime.date(2026, 3, 20)  # runs out 20 Jun, renewal window open since 6 Jun
LAPSED_FROM = datetime.date(2026, 3, 12)  # ran out 12 Jun: three days without cover
REINDUCTION_FROM = datetime.date(2026, 2, 16)  # ran out 16 May: a month without cover


@pytest.fixture(autouse=True)
def frozen_now(time_machine):
    time_machine.move_to(NOW, tick=False)


def place(patient, product, placed_on, **options):
    return services.record_placement(patient=patient, product=product, placed_on=placed_on, **INDUCTION, **options)


def patient_in(clinic, **details):
    return PatientFactory(clinic=clinic, **details)


@pytest.fixture
def signed_in(client, clinician):
    """A clinician: the role that sees every button on the page (tests/test_roles.py has the rest)."""
    client.force_login(clinician)
    return client


@pytest.fixture
def cast_of_states(clinic, implant):
    """One patient in each coverage state, named after it."""
    patients = {
        "covered": patient_in(clinic, first_name="Cora", last_name="Covered", record_number="RN-1"),
        "renewal_window_open": patient_in(clinic, first_name="Wendy", last_name="Window", record_number="RN-2"),
        "lapsed": patient_in(clinic, first_name="Larry", last_name="Lapsed", record_number="RN-3"),
        "reinduction_required": patient_in(clinic, first_name="Rita", last_name="Reinduction", record_number="RN-4"),
        "none": patient_in(clinic, first_name="Nina", last_name="Never", record_number="RN-5"),
    }
    place(patients["covered"], implant, COVERED_FROM)
    place(patients["renewal_window_open"], implant, WINDOW_OPEN_FROM)
    place(patients["lapsed"], implant, LAPSED_FROM)
    place(patients["reinduction_required"], implant, REINDUCTION_FROM)
    return patients


def names_in(response) -> list[str]:
    return [row.full_name for row in response.context["rows"]]


# Who may see what


@pytest.mark.parametrize("page", ["patient_detail", "wallet_card", "wallet_card_pdf"])
def test_it_is_a_404_for_a_coordinator_of_another_clinic(client, other_coordinator, clinic, implant, page):
    patient = patient_in(clinic)
    place(patient, implant, COVERED_FROM)
    client.force_login(other_coordinator)
    assert client.get(reverse(f"patients:{page}", args=[patient.uuid])).status_code == 404


@pytest.mark.parametrize("page", ["patient_list", "patient_detail", "wallet_card", "wallet_card_pdf"])
def test_it_sends_anonymous_visitors_to_sign_in(client, clinic, page):
    url = reverse(f"patients:{page}", args=[] if page == "patient_list" else [patient_in(clinic).uuid])
    response = client.get(url)
    assert response.status_code == 302
    assert response["Location"] == f"/accounts/login/?next={url}"


def test_it_lists_only_the_patients_of_the_coordinators_clinics(signed_in, clinic, other_clinic):
    patient_in(clinic, first_name="Ada", last_name="Lovelace")
    patient_in(other_clinic, first_name="Grace", last_name="Hopper")
    response = signed_in.get(reverse("patients:patient_list"))
    assert response.status_code == 200
    assert names_in(response) == ["Ada Lovelace"]
    assert "Grace" not in response.content.decode()


# The Patients list


def test_it_shows_each_patients_state_in_words_and_colour(signed_in, cast_of_states):
    response = signed_in.get(reverse("patients:patient_list"))
    html = response.content.decode()
    assert '<span class="state state-lapsed">Coverage lapsed</span>' in html
    assert '<span class="state state-reinduction_required">Re-induction required</span>' in html
    assert '<span class="state state-renewal_window_open">Renewal window open</span>' in html
    assert '<span class="state state-covered">Covered</span>' in html
    assert '<span class="state state-none">No coverage</span>' in html
    covered = next(row for row in response.context["rows"] if row.record_number == "RN-1")
    assert covered.coverage_ends_on == datetime.date(2026, 8, 15)
    assert covered.next_visit_due == datetime.date(2026, 6, 15)  # the first monthly visit


@pytest.mark.parametrize(
    ("state", "expected"),
    [
        ("covered", ["Cora Covered"]),
        ("renewal_window_open", ["Wendy Window"]),
        ("lapsed", ["Larry Lapsed"]),
        ("reinduction_required", ["Rita Reinduction"]),
        ("none", ["Nina Never"]),
    ],
)
def test_it_filters_by_coverage_state(signed_in, cast_of_states, state, expected):
    response = signed_in.get(reverse("patients:patient_list"), {"state": state})
    assert names_in(response) == expected


def test_a_discharged_patient_has_no_coverage(signed_in, cast_of_states):
    services.discharge_patient(patient=cast_of_states["covered"], discharged_on=TODAY)
    assert names_in(signed_in.get(reverse("patients:patient_list"), {"state": "covered"})) == []
    assert "Cora Covered" in names_in(signed_in.get(reverse("patients:patient_list"), {"state": "none"}))


def test_it_follows_the_newest_placement(signed_in, clinic, implant):
    patient = patient_in(clinic, first_name="Remy", last_name="Renewed")
    place(patient, implant, LAPSED_FROM)
    place(patient, implant, TODAY)  # a renewal three days after the lapse
    assert names_in(signed_in.get(reverse("patients:patient_list"), {"state": "covered"})) == ["Remy Renewed"]


@pytest.mark.parametrize(
    ("query", "expected"),
    [("lovel", ["Ada Lovelace"]), ("ada love", ["Ada Lovelace"]), ("RN-77", ["Alan Turing"]), ("nobody", [])],
)
def test_it_searches_by_name_and_record_number(signed_in, clinic, query, expected):
    patient_in(clinic, first_name="Ada", last_name="Lovelace", record_number="RN-12")
    patient_in(clinic, first_name="Alan", last_name="Turing", record_number="RN-77")
    response = signed_in.get(reverse("patients:patient_list"), {"q": query})
    assert names_in(response) == expected


def test_it_filters_by_status_and_counsellor(signed_in, clinic, clinician):
    patient_in(clinic, first_name="Ada", last_name="Active", counsellor=clinician)
    patient_in(clinic, first_name="Paul", last_name="Paused", status=Patient.Status.PAUSED, counsellor=clinician)
    patient_in(clinic, first_name="Una", last_name="Unassigned")
    url = reverse("patients:patient_list")
    assert names_in(signed_in.get(url, {"status": "paused"})) == ["Paul Paused"]
    assert names_in(signed_in.get(url, {"counsellor": clinician.pk})) == ["Ada Active", "Paul Paused"]
    assert names_in(signed_in.get(url, {"counsellor": "none"})) == ["Una Unassigned"]
    assert names_in(signed_in.get(url, {"counsellor": clinician.pk, "status": "active"})) == ["Ada Active"]


def test_it_ignores_a_filter_value_it_does_not_know(signed_in, cast_of_states):
    response = signed_in.get(reverse("patients:patient_list"), {"state": "invented", "status": "lapsed", "page": "x"})
    assert response.status_code == 200
    assert len(response.context["rows"]) == 5


@pytest.mark.parametrize(
    ("sort", "expected"),
    [
        ("name", ["RN-1", "RN-3", "RN-5", "RN-4", "RN-2"]),  # Covered, Lapsed, Never, Reinduction, Window
        ("-name", ["RN-2", "RN-4", "RN-5", "RN-3", "RN-1"]),
        ("record", ["RN-1", "RN-2", "RN-3", "RN-4", "RN-5"]),
        ("-record", ["RN-5", "RN-4", "RN-3", "RN-2", "RN-1"]),
        ("covers_until", ["RN-4", "RN-3", "RN-2", "RN-1", "RN-5"]),  # longest without cover first; never placed last
        ("-covers_until", ["RN-1", "RN-2", "RN-3", "RN-4", "RN-5"]),
    ],
)
def test_it_sorts(signed_in, cast_of_states, sort, expected):
    response = signed_in.get(reverse("patients:patient_list"), {"sort": sort})
    assert [row.record_number for row in response.context["rows"]] == expected


def test_it_sorts_a_state_filtered_list_too(signed_in, clinic, implant):
    for number, placed_on in enumerate([COVERED_FROM, COVERED_FROM - 9 * DAY, COVERED_FROM - 3 * DAY]):
        place(patient_in(clinic, record_number=f"RN-{number}"), implant, placed_on)
    response = signed_in.get(reverse("patients:patient_list"), {"state": "covered", "sort": "covers_until"})
    assert [row.record_number for row in response.context["rows"]] == ["RN-1", "RN-2", "RN-0"]


def test_it_pages_fifty_patients_at_a_time_keeping_the_filters(signed_in, clinic):
    Patient.objects.bulk_create(
        Patient(
            clinic=clinic,
            record_number=f"RN-{number:03d}",
            first_name="Pat",
            last_name=f"Number{number:03d}",
            date_of_birth=datetime.date(1990, 1, 1),
        )
        for number in range(60)
    )
    url = reverse("patients:patient_list")
    first = signed_in.get(url, {"q": "Pat", "sort": "record"})
    assert len(first.context["rows"]) == 50
    assert "Page 1 of 2" in first.content.decode()
    assert 'href="?q=Pat&amp;sort=record&amp;page=2"' in first.content.decode()
    second = signed_in.get(url, {"q": "Pat", "sort": "record", "page": 2})
    assert [row.record_number for row in second.context["rows"]] == [f"RN-{number:03d}" for number in range(50, 60)]
    assert signed_in.get(url, {"page": 99}).context["page"].number == 2  # past the end: the last page


def test_the_state_filter_pages_too(signed_in, clinic, implant):
    for number in range(52):
        place(patient_in(clinic, record_number=f"RN-{number:03d}"), implant, LAPSED_FROM)
    patient_in(clinic, record_number="RN-999")  # never placed
    response = signed_in.get(reverse("patients:patient_list"), {"state": "lapsed", "sort": "record", "page": 2})
    assert [row.record_number for row in response.context["rows"]] == ["RN-050", "RN-051"]
    assert response.context["page"].paginator.count == 52


@pytest.mark.parametrize("patients", [50, 500])
@pytest.mark.parametrize("query", [{}, {"state": "lapsed"}, {"sort": "covers_until", "status": "active", "q": "a"}])
def test_the_list_costs_the_same_queries_at_50_and_500_patients(
    client, django_assert_max_num_queries, patients, query
):
    call_command("seed_demo", patients=patients, verbosity=0)
    client.force_login(get_user_model().objects.get(username="coordinator"))
    # Session, user, heartbeat, counsellors, clinics; the page's count (or every state) and patients;
    # the page's newest placements and next visits.
    with django_assert_max_num_queries(9):
        response = client.get(reverse("patients:patient_list"), query)
    assert response.status_code == 200
    assert response.context["rows"]


# The patient page


@pytest.fixture
def history(clinic, implant, clinician):
    """Placed in February, lapsed in May, placed again after the induction checklist in June."""
    patient = patient_in(clinic, first_name="Ada", last_name="Lovelace", record_number="RN-4321", counsellor=clinician)
    first = place(patient, implant, REINDUCTION_FROM)
    visits = list(first.visits.order_by("due_on"))
    services.complete_visit(visit=visits[0], completed_on=visits[0].due_on, site_check="normal", alt_u_per_l=35)
    services.mark_missed_visits(today=TODAY)
    place(patient, implant, TODAY - 5 * DAY)
    for days_ago, status in [(3, "attended"), (10, "missed"), (17, "excused")]:
        services.log_therapy_session(patient=patient, held_on=TODAY - days_ago * DAY, status=status)
    return patient


def test_the_patient_page_shows_who_and_where_they_stand(signed_in, history):
    response = signed_in.get(reverse("patients:patient_detail", args=[history.uuid]))
    assert response.status_code == 200
    html = response.content.decode()
    assert "Ada Lovelace" in html
    assert "RN-4321" in html
    assert '<span class="state state-covered">Covered</span>' in html
    assert "10 Sep 2026" in html  # covers until
    assert "Riverside Clinic" in html
    for name in ["placement_create", "patient_edit", "session_create", "follow_up_call_create", "wallet_card"]:
        assert reverse(f"patients:{name}", args=[history.uuid]) in html


def test_a_patient_without_a_placement_has_a_page_too(signed_in, clinic):
    patient = patient_in(clinic)
    response = signed_in.get(reverse("patients:patient_detail", args=[patient.uuid]))
    assert response.status_code == 200
    html = response.content.decode()
    assert '<span class="state state-none">No coverage</span>' in html
    assert "No placement recorded yet." in html
    assert "Nothing to draw yet" in html


def test_the_timeline_draws_placements_the_lapse_visits_sessions_and_today(signed_in, history):
    html = signed_in.get(reverse("patients:patient_detail", args=[history.uuid])).content.decode()
    svg = html[html.index('<svg class="coverage-timeline') : html.index("</svg>", html.index("coverage-timeline"))]
    assert 'role="img"' in svg
    assert 'aria-label="Coverage timeline for Ada Lovelace"' in svg
    assert "<title>Coverage timeline for Ada Lovelace</title>" in svg
    assert "<desc" in svg
    assert svg.count('class="placement-bar"') == 2
    assert svg.count('class="lapse"') == 1
    assert "No coverage: 17 May 2026 to 9 Jun 2026" in svg
    assert 'class="visit-mark visit-completed"' in svg
    assert 'class="visit-mark visit-missed"' in svg
    assert 'class="visit-mark visit-scheduled"' in svg
    assert svg.count('class="session-mark') == 3
    assert 'class="today-line"' in svg
    assert "Jun 2026" in svg or ">Jun<" in svg  # a month tick
    assert "Visit missed" in html  # the legend says it in words


def test_the_visit_plan_links_open_visits_to_findings_and_rescheduling(signed_in, history):
    html = signed_in.get(reverse("patients:patient_detail", args=[history.uuid])).content.decode()
    open_visit = history.visits.filter(status=Visit.Status.SCHEDULED).earliest("due_on")
    missed = history.visits.filter(status=Visit.Status.MISSED).earliest("due_on")
    completed = history.visits.get(status=Visit.Status.COMPLETED)
    assert reverse("patients:visit_findings", args=[open_visit.uuid]) in html
    assert reverse("patients:visit_reschedule", args=[open_visit.uuid]) in html
    assert reverse("patients:visit_findings", args=[missed.uuid]) in html  # a late visit may still be recorded
    assert reverse("patients:visit_reschedule", args=[missed.uuid]) not in html
    assert reverse("patients:visit_findings", args=[completed.uuid]) not in html
    assert "Site: healing well · ALT 35" in html


def test_the_attendance_rate_leaves_out_excused_and_cancelled_sessions(signed_in, clinic):
    patient = patient_in(clinic)
    group = TherapyGroupFactory(clinic=clinic)
    sessions = [(2, "attended"), (9, "attended"), (16, "attended"), (23, "missed"), (30, "excused"), (37, "cancelled")]
    for days_ago, status in [*sessions, (100, "missed")]:  # the last is too old to count
        services.log_group_attendance(group=group, held_on=TODAY - days_ago * DAY, attendance={patient: status})
    response = signed_in.get(reverse("patients:patient_detail", args=[patient.uuid]))
    attendance = response.context["page"].attendance
    assert (attendance.attended, attendance.missed, attendance.not_counted) == (3, 1, 2)
    assert attendance.percent == 75
    assert not attendance.is_low
    html = re.sub(r"\s+", " ", response.content.decode())
    assert "75 %</strong> (3 attended of 4; 2 excused or cancelled, not counted)" in html


def test_it_shows_every_safety_flag(signed_in, clinic, implant):
    patient = patient_in(clinic, liver_condition=True, liver_condition_note="Hepatitis C, treated in 2021.")
    visits = list(place(patient, implant, TODAY - 60 * DAY).visits.order_by("due_on"))
    services.complete_visit(
        visit=visits[0], completed_on=visits[0].due_on, alt_u_per_l=130, phq9_total=12, phq9_item9=1
    )
    response = signed_in.get(reverse("patients:patient_detail", args=[patient.uuid]))
    titles = [flag.title for flag in response.context["page"].flags]
    assert titles == ["PHQ-9 item 9 positive", "Liver tests above 3 times normal", "Liver condition"]
    html = response.content.decode()
    assert "Hepatitis C, treated in 2021." in html
    assert f"ALT 130 U/L on {formats.day(visits[0].due_on)}" in html


def test_results_older_than_the_lookback_raise_no_flag_and_leave_a_liver_condition_untested(
    signed_in, clinic, implant
):
    patient = patient_in(clinic, liver_condition=True)
    visits = list(place(patient, implant, datetime.date(2026, 1, 10)).visits.order_by("due_on"))
    services.complete_visit(
        visit=visits[0], completed_on=visits[0].due_on, alt_u_per_l=130, phq9_total=12, phq9_item9=1
    )
    assert TODAY - visits[0].due_on > SAFETY_LOOKBACK_DAYS * DAY
    response = signed_in.get(reverse("patients:patient_detail", args=[patient.uuid]))
    flags = response.context["page"].flags
    assert [flag.title for flag in flags] == ["Liver condition", "No liver test in 90 days"]
    assert flags[1].detail == "Last liver test on 10 Feb 2026."


def test_the_flags_follow_the_latest_visit_that_recorded_them(signed_in, clinic, implant):
    patient = patient_in(clinic)
    visits = list(place(patient, implant, WINDOW_OPEN_FROM).visits.order_by("due_on"))
    services.complete_visit(visit=visits[0], completed_on=visits[0].due_on, phq9_item9=2, alt_u_per_l=400)
    services.complete_visit(visit=visits[1], completed_on=visits[1].due_on, phq9_item9=0, alt_u_per_l=40, gad7_total=4)
    response = signed_in.get(reverse("patients:patient_detail", args=[patient.uuid]))
    assert response.context["page"].flags == []
    assert "No safety flags." in response.content.decode()


def test_each_liver_test_is_judged_by_its_own_latest_value(signed_in, clinic, implant):
    patient = patient_in(clinic)
    visits = list(place(patient, implant, WINDOW_OPEN_FROM).visits.order_by("due_on"))
    services.complete_visit(visit=visits[0], completed_on=visits[0].due_on, alt_u_per_l=35, ast_u_per_l=200)
    services.complete_visit(visit=visits[1], completed_on=visits[1].due_on, alt_u_per_l=38)  # no AST this time
    response = signed_in.get(reverse("patients:patient_detail", args=[patient.uuid]))
    [flag] = response.context["page"].flags
    assert flag.detail.startswith("AST 200 U/L on 20 Apr 2026")


def test_reminders_that_need_a_phone_call_stand_out(signed_in, clinic, implant):
    patient = patient_in(clinic, email_consent=False, email_consent_at=None)
    place(patient, implant, COVERED_FROM)
    response = signed_in.get(reverse("patients:patient_detail", args=[patient.uuid]))
    html = response.content.decode()
    assert Reminder.objects.filter(patient=patient, status=Reminder.Status.SKIPPED).exists()
    assert "reminder-needs-call" in html
    assert "No consent to email: phone instead" in html
    assert "Phone the patient" in html


def test_follow_up_calls_show_latest_first(signed_in, clinic, coordinator):
    patient = patient_in(clinic)
    services.log_follow_up_call(patient=patient, outcome="no_answer", called_at=NOW - 2 * DAY, called_by=coordinator)
    services.log_follow_up_call(patient=patient, outcome="agreed_to_come", called_at=NOW - DAY, note="Coming Friday")
    response = signed_in.get(reverse("patients:patient_detail", args=[patient.uuid]))
    assert [call.outcome for call in response.context["page"].calls] == ["agreed_to_come", "no_answer"]
    html = response.content.decode()
    assert html.index("Agreed to come in") < html.index("No answer")
    assert "Coming Friday" in html


def _long_history(patient, product, *, cycles):
    """``cycles`` three-month placements renewed on time, each visit completed, a session a week."""
    placed_on = TODAY - datetime.timedelta(days=91 * cycles)
    for _ in range(cycles):
        placement = place(patient, product, placed_on)
        for visit in placement.visits.filter(due_on__lt=TODAY).order_by("due_on"):
            if visit.kind == Visit.Kind.MONITORING:
                services.complete_visit(visit=visit, completed_on=visit.due_on, alt_u_per_l=30, phq9_item9=0)
        placed_on = add_months(placed_on, 3) - 3 * DAY
    for week in range(cycles * 13):
        status = TherapySession.Status.MISSED if week % 4 == 0 else TherapySession.Status.ATTENDED
        services.log_therapy_session(patient=patient, held_on=TODAY - week * 7 * DAY, status=status)
    for day in range(cycles):
        services.log_follow_up_call(patient=patient, outcome="reached", called_at=NOW - (day + 1) * DAY)


@pytest.mark.parametrize("cycles", [1, 6])
def test_the_patient_page_costs_the_same_queries_however_long_the_history(
    signed_in, clinic, implant, django_assert_max_num_queries, cycles
):
    patient = patient_in(clinic, liver_condition=True)
    _long_history(patient, implant, cycles=cycles)
    # Session, user, heartbeat, the patient, then placements, visits, sessions, reminders and calls;
    # and the read log's row and whether the user may see the History page.
    with django_assert_max_num_queries(11):
        response = signed_in.get(reverse("patients:patient_detail", args=[patient.uuid]))
    assert len(response.context["page"].placements) == cycles


# The wallet card


def test_the_wallet_card_shows_the_newest_placement_and_the_clinic_phone(signed_in, clinic, implant):
    patient = patient_in(clinic, first_name="Ada", last_name="Lovelace")
    place(patient, implant, WINDOW_OPEN_FROM)
    place(patient, implant, TODAY)  # the renewal: the card is re-issued
    response = signed_in.get(reverse("patients:wallet_card", args=[patient.uuid]))
    assert response.status_code == 200
    html = response.content.decode()
    assert "Ada Lovelace" in html
    assert "15 Jun 2026" in html  # placed
    assert "15 Sep 2026" in html  # runs out
    assert "20 Mar 2026" not in html
    assert clinic.phone in html
    assert "Opioid pain relief" in html
    assert "will not work" in html
    assert "Every doctor, dentist and emergency team must be told" in html
    assert reverse("patients:wallet_card_pdf", args=[patient.uuid]) in html


def test_the_wallet_card_says_so_when_there_is_nothing_to_print(signed_in, clinic):
    patient = patient_in(clinic)
    response = signed_in.get(reverse("patients:wallet_card", args=[patient.uuid]))
    assert response.status_code == 200
    assert "Nothing to print yet" in response.content.decode()


def test_the_wallet_card_pdf_is_a_pdf_without_the_patients_name_in_its_file_name(signed_in, clinic, implant):
    patient = patient_in(clinic, first_name="Ada", last_name="Lovelace")
    place(patient, implant, COVERED_FROM)
    response = signed_in.get(reverse("patients:wallet_card_pdf", args=[patient.uuid]))
    assert response.status_code == 200
    assert response["Content-Type"] == "application/pdf"
    assert response["Content-Disposition"] == 'attachment; filename="wallet-card.pdf"'
    assert "no-store" in response["Cache-Control"]
    assert response.content.startswith(b"%PDF")


def test_the_pdf_of_a_patient_without_placement_leads_to_the_explanation(signed_in, clinic):
    patient = patient_in(clinic)
    response = signed_in.get(reverse("patients:wallet_card_pdf", args=[patient.uuid]))
    assert response.status_code == 302
    assert response["Location"] == reverse("patients:wallet_card", args=[patient.uuid])


def test_an_injection_card_says_injection(signed_in, clinic, injection):
    patient = patient_in(clinic)
    place(patient, injection, COVERED_FROM)
    html = signed_in.get(reverse("patients:wallet_card", args=[patient.uuid])).content.decode()
    assert "naltrexone injections" in html
    assert "Last injection given" in html


# The timeline's arithmetic, without the database


def test_lapses_are_the_days_between_doses_and_after_the_last():
    spans = [
        timeline.Span(datetime.date(2026, 1, 1), datetime.date(2026, 4, 1), "A"),
        timeline.Span(datetime.date(2026, 3, 28), datetime.date(2026, 6, 28), "B"),  # early renewal: no gap
        timeline.Span(datetime.date(2026, 7, 5), datetime.date(2026, 10, 5), "C"),
    ]
    assert timeline.lapses_between(spans, lapse_until=datetime.date(2026, 10, 9)) == [
        (datetime.date(2026, 6, 29), datetime.date(2026, 7, 4)),
        (datetime.date(2026, 10, 6), datetime.date(2026, 10, 9)),
    ]
    assert timeline.lapses_between(spans, lapse_until=None)[-1] == (
        datetime.date(2026, 6, 29),
        datetime.date(2026, 7, 4),
    )


def test_the_timeline_keeps_marks_inside_its_range_and_today_on_it():
    span = timeline.Span(TODAY - 30 * DAY, TODAY + 61 * DAY, "Three-month implant")
    old = timeline.Event(TODAY - 2000 * DAY, "attended", "long ago")
    drawn = timeline.build_timeline(
        spans=[span],
        visits=[],
        sessions=[old, timeline.Event(TODAY, "attended", "today")],
        today=TODAY,
        lapse_until=TODAY,
    )
    assert drawn.starts_on >= TODAY - timeline.MAX_PAST
    assert [mark.label for mark in drawn.sessions] == ["today"]
    assert timeline.LABEL_WIDTH < drawn.today_x < drawn.plot_right
    assert drawn.lapses == []
    assert [tick.label for tick in drawn.ticks][:2] == ["Jan 2025", "Apr"]  # quarterly over 20 months


def test_htmx_gets_the_results_alone_while_a_plain_request_gets_the_page(client, coordinator, clinic):
    PatientFactory(clinic=clinic, first_name="Ada", last_name="Lovelace")
    PatientFactory(clinic=clinic, first_name="Bea", last_name="Other")
    client.force_login(coordinator)
    partial = client.get("/patients/?q=lovelace", headers={"HX-Request": "true"})
    html = partial.content.decode()
    assert "<html" not in html
    assert "Ada Lovelace" in html
    assert "Bea Other" not in html
    page = client.get("/patients/?q=lovelace").content.decode()
    assert "<html" in page
    assert 'hx-target="#patient-results"' in page
    assert "Ada Lovelace" in page


def test_the_page_scripts_come_from_the_projects_own_static_files(client, coordinator):
    client.force_login(coordinator)
    html = client.get("/patients/").content.decode()
    scripts = re.findall(r'<script[^>]+src="([^"]+)"', html)
    assert any("htmx" in src for src in scripts)
    assert any("bootstrap" in src for src in scripts)
    for src in scripts:
        assert src.startswith("/static/"), src
        assert client.get(src).status_code == 200, src
