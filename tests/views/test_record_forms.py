"""The record forms: patients, placements (with their preview), visit findings, bookings and calls.

Each form saves through its service; each refusal shows beside its field with what was typed kept
and nothing saved; another clinic's rows are a 404; signing in comes first.
"""

import datetime
import re

import pytest
from django.urls import reverse
from django.utils.html import escape

from patients import services
from patients.models import FollowUpCall, Patient, Placement, Reminder
from tests.factories import INDUCTION, ClinicFactory, MembershipFactory, PatientFactory, ProductFactory, UserFactory
from tests.helpers import error_beside, flashed

pytestmark = pytest.mark.django_db

D = datetime.date
UTC = datetime.UTC


@pytest.fixture(autouse=True)
def frozen_now(time_machine):
    # 12:00 in London (GMT until 29 March): the clinic's today is 10 March 2026.
    time_machine.move_to("2026-03-10 12:00Z", tick=False)


@pytest.fixture
def placed(patient, implant):
    """Placed 1 February: monitoring due 1 March and 1 April, renewal 1 May (window from 17 April)."""
    return services.record_placement(patient=patient, product=implant, placed_on=D(2026, 2, 1), **INDUCTION)


@pytest.fixture
def visit(placed):
    return placed.visits.get(kind="monitoring", due_on=D(2026, 4, 1))


def url(name, *args):
    return reverse(f"patients:{name}", args=args)


def error_on_top(response, form="form"):
    """The form's messages about no one field, which the page shows above the form."""
    messages = response.context[form].non_field_errors()
    assert messages
    html = response.content.decode()
    for message in messages:
        assert escape(message) in html
    return " ".join(messages)


def patient_data(clinic, **changes):
    data = {
        "clinic": clinic.pk,
        "record_number": "R-2",
        "first_name": "Cy",
        "last_name": "Dee",
        "date_of_birth": "1990-01-02",
        "treats": "opioids",
        "email": "",
        "phone": "07700 900123",
    }
    return data | changes


def placement_data(product, **changes):
    data = {
        "product": product.pk,
        "placed_on": "2026-03-10",
        "lot_number": "LOT-42",
        "body_site": "abdomen_left",
        "opioid_free_days": "10",
        "urine_screen": "negative",
        "naloxone_challenge": "negative",
        "action": "save",
    }
    return data | changes


# Who may open the pages

ROW_PAGES = ("patient_edit", "placement_create", "follow_up_call_create", "visit_findings", "visit_reschedule")


def page_url(name, patient, visit):
    if name == "patient_create":
        return url(name)
    return url(name, visit.uuid if name.startswith("visit_") else patient.uuid)


def valid_post(name, clinic, implant):
    return {
        "patient_create": patient_data(clinic),
        "patient_edit": patient_data(clinic, record_number="R-1"),
        "placement_create": placement_data(implant, placed_on="2026-03-09", early_renewal_reason="Travelling"),
        "follow_up_call_create": {"outcome": "reached"},
        "visit_findings": {"completed_on": "2026-03-10"},
        "visit_reschedule": {"appointment_at": "2026-04-02T09:30"},
    }[name]


@pytest.mark.parametrize("name", ["patient_create", *ROW_PAGES])
def test_it_shows_every_form_to_the_coordinator(client, clinician, patient, visit, name):
    client.force_login(clinician)
    assert client.get(page_url(name, patient, visit)).status_code == 200


@pytest.mark.parametrize("name", ["patient_create", *ROW_PAGES])
def test_it_sends_anonymous_visitors_to_sign_in(client, clinic, implant, patient, visit, name):
    address = page_url(name, patient, visit)
    for response in (client.get(address), client.post(address, valid_post(name, clinic, implant))):
        assert response.status_code == 302
        assert response.url.startswith("/accounts/login/?next=")
    assert Patient.objects.count() == 1
    assert Placement.objects.count() == 1


@pytest.mark.parametrize("name", ROW_PAGES)
def test_it_answers_404_for_another_clinics_rows(client, other_coordinator, clinic, implant, patient, visit, name):
    client.force_login(other_coordinator)
    address = page_url(name, patient, visit)
    assert client.get(address).status_code == 404
    assert client.post(address, valid_post(name, clinic, implant)).status_code == 404
    patient.refresh_from_db()
    visit.refresh_from_db()
    assert (patient.phone, visit.status, visit.appointment_at) == ("", "scheduled", None)
    assert (Placement.objects.count(), FollowUpCall.objects.count()) == (1, 0)


# New patient


def test_it_registers_a_patient_in_the_coordinators_only_clinic(client, coordinator, clinic):
    client.force_login(coordinator)
    page = client.get(url("patient_create"))
    assert f'<input type="hidden" name="clinic" value="{clinic.pk}"' in page.content.decode()

    response = client.post(url("patient_create"), patient_data(clinic, email="cy@example.org", email_consent="on"))

    patient = Patient.objects.get(record_number="R-2")
    assert response.status_code == 302
    assert response.url == patient.get_absolute_url()
    assert (patient.clinic, patient.email_consent, patient.email_consent_at is not None) == (clinic, True, True)
    assert flashed(response) == ["Cy Dee is registered."]


def test_it_lets_a_coordinator_of_two_clinics_choose_only_among_them(client, coordinator, clinic, other_clinic):
    third = ClinicFactory(name="Third Clinic")
    MembershipFactory(user=coordinator, clinic=other_clinic)
    client.force_login(coordinator)
    assert '<select name="clinic"' in client.get(url("patient_create")).content.decode()

    refused = client.post(url("patient_create"), patient_data(third))
    assert "valid choice" in error_beside(refused, "clinic")

    client.post(url("patient_create"), patient_data(other_clinic))
    assert Patient.objects.get().clinic == other_clinic


def test_it_refuses_a_record_number_the_clinic_already_uses(client, coordinator, clinic, patient):
    client.force_login(coordinator)
    response = client.post(url("patient_create"), patient_data(clinic, record_number="R-1"))
    assert "already has this record number" in error_beside(response, "record_number")
    assert 'value="Cy"' in response.content.decode()
    assert Patient.objects.count() == 1


def test_it_refuses_consent_without_an_email_address(client, coordinator, clinic):
    client.force_login(coordinator)
    response = client.post(url("patient_create"), patient_data(clinic, email_consent="on"))
    assert "Add an email address" in error_beside(response, "email")
    assert 'value="07700 900123"' in response.content.decode()
    assert not Patient.objects.exists()


def test_it_refuses_a_birth_date_in_the_future(client, coordinator, clinic):
    client.force_login(coordinator)
    response = client.post(url("patient_create"), patient_data(clinic, date_of_birth="2026-03-11"))
    assert "cannot be in the future" in error_beside(response, "date_of_birth")
    assert not Patient.objects.exists()


def test_it_refuses_new_patients_to_someone_without_a_clinic(client):
    client.force_login(UserFactory(username="nobody", is_staff=True))
    assert client.get(url("patient_create")).status_code == 403


# Editing a patient and their status


def test_it_saves_a_patients_details(client, coordinator, clinic, patient):
    client.force_login(coordinator)
    page = client.get(url("patient_edit", patient.uuid))
    assert 'value="R-1"' in page.content.decode()

    response = client.post(url("patient_edit", patient.uuid), patient_data(clinic, record_number="R-1", phone="0123"))

    patient.refresh_from_db()
    assert response.url == patient.get_absolute_url()
    assert (patient.first_name, patient.phone) == ("Cy", "0123")


def test_it_refuses_consent_without_email_when_editing(client, coordinator, clinic, patient):
    client.force_login(coordinator)
    data = patient_data(clinic, record_number="R-1", email="", email_consent="on", first_name="Adah")
    response = client.post(url("patient_edit", patient.uuid), data)
    assert "Add an email address" in error_beside(response, "email")
    assert 'value="Adah"' in response.content.decode()
    patient.refresh_from_db()
    assert (patient.first_name, patient.email) == ("Ada", "r-1@patients.example")


def test_it_refuses_another_patients_record_number_when_editing(client, coordinator, clinic, patient):
    PatientFactory(clinic=clinic, record_number="R-7")
    client.force_login(coordinator)
    response = client.post(url("patient_edit", patient.uuid), patient_data(clinic, record_number="R-7"))
    assert "already has this record number" in error_beside(response, "record_number")
    patient.refresh_from_db()
    assert patient.record_number == "R-1"


def test_it_pauses_and_readmits_a_patient(client, coordinator, patient):
    client.force_login(coordinator)
    page = client.get(url("patient_edit", patient.uuid)).content.decode()
    assert 'value="paused"' in page
    assert 'value="active"' not in page  # an active patient cannot be readmitted

    assert client.post(url("patient_edit", patient.uuid), {"status": "paused"}).status_code == 302
    patient.refresh_from_db()
    assert patient.status == "paused"

    client.post(url("patient_edit", patient.uuid), {"status": "active"})
    patient.refresh_from_db()
    assert patient.status == "active"


def test_it_shows_a_refused_status_move_on_top(client, coordinator, patient):
    services.discharge_patient(patient=patient)
    client.force_login(coordinator)
    response = client.post(url("patient_edit", patient.uuid), {"status": "paused"})
    assert response.status_code == 200
    assert "cannot become paused" in " ".join(response.context["status_errors"])
    assert "cannot become paused" in response.content.decode()
    patient.refresh_from_db()
    assert patient.status == "discharged"


def test_it_discharges_and_cancels_open_visits(client, coordinator, patient, placed):
    client.force_login(coordinator)
    response = client.post(url("patient_edit", patient.uuid), {"discharge": "1", "discharged_on": "2026-03-09"})
    patient.refresh_from_db()
    assert response.status_code == 302
    assert (patient.status, patient.discharged_on) == ("discharged", D(2026, 3, 9))
    assert not patient.visits.filter(status="scheduled").exists()


def test_it_refuses_a_discharge_dated_in_the_future(client, coordinator, patient, placed):
    client.force_login(coordinator)
    response = client.post(url("patient_edit", patient.uuid), {"discharge": "1", "discharged_on": "2026-03-12"})
    assert "cannot be in the future" in error_beside(response, "discharged_on", form="discharge_form")
    assert 'value="2026-03-12"' in response.content.decode()
    patient.refresh_from_db()
    assert patient.status == "active"
    assert patient.visits.filter(status="scheduled").count() == 3


# Recording a placement


def test_it_asks_for_the_checklist_before_a_first_placement(client, clinician, clinic, patient, implant):
    ProductFactory(clinic=clinic, name="Retired implant", is_active=False)
    client.force_login(clinician)
    response = client.get(url("placement_create", patient.uuid))
    html = response.content.decode()
    assert "Required before this placement" in html
    assert "first placement" in html
    assert 'Opioid-free days<span class="asteriskField">*</span>' in html
    assert 'value="2026-03-10"' in html  # placed on: the clinic's today
    assert f'<option value="{clinician.pk}" selected>' in html
    assert list(response.context["form"].fields["product"].queryset) == [implant]


def test_it_asks_for_the_checklist_again_after_a_long_lapse(client, clinician, patient, implant):
    services.record_placement(patient=patient, product=implant, placed_on=D(2025, 10, 1), **INDUCTION)
    client.force_login(clinician)
    html = client.get(url("placement_create", patient.uuid)).content.decode()
    assert "Required before this placement" in html
    assert "re-induction" in html


def test_it_folds_the_checklist_away_for_a_renewal_while_covered(client, clinician, patient, placed):
    client.force_login(clinician)
    html = client.get(url("placement_create", patient.uuid)).content.decode()
    assert "Required before this placement" not in html
    assert re.search(r"<details[^>]*>\s*<summary>Induction checklist", html)
    assert "The renewal window opens on 17 Apr 2026" in html


def test_it_records_a_first_placement_with_its_plan(client, clinician, patient, implant):
    client.force_login(clinician)
    response = client.post(url("placement_create", patient.uuid), placement_data(implant))
    placement = Placement.objects.get()
    assert response.status_code == 302
    assert response.url == patient.get_absolute_url()
    assert (placement.placed_on, placement.placed_by, placement.lot_number) == (D(2026, 3, 10), None, "LOT-42")
    assert placement.visits.count() == 3
    assert "covered until 10 Jun 2026" in flashed(response)[0]


def test_it_records_who_placed_it(client, clinician, patient, implant):
    client.force_login(clinician)
    client.post(url("placement_create", patient.uuid), placement_data(implant, placed_by=clinician.pk))
    assert Placement.objects.get().placed_by == clinician


def test_it_refuses_a_placement_in_the_future(client, clinician, patient, implant):
    client.force_login(clinician)
    response = client.post(url("placement_create", patient.uuid), placement_data(implant, placed_on="2026-03-11"))
    assert "cannot be dated in the future" in error_beside(response, "placed_on")
    assert 'value="LOT-42"' in response.content.decode()
    assert not Placement.objects.exists()


def test_it_refuses_a_placement_before_the_previous_one(client, clinician, patient, placed, implant):
    client.force_login(clinician)
    response = client.post(url("placement_create", patient.uuid), placement_data(implant, placed_on="2026-01-20"))
    assert "previous placement was on 1 Feb 2026" in error_beside(response, "placed_on")
    assert Placement.objects.count() == 1


def test_it_refuses_a_first_placement_without_the_checklist(client, clinician, patient, implant):
    client.force_login(clinician)
    data = placement_data(implant, opioid_free_days="3", urine_screen="not_done", naloxone_challenge="not_done")
    response = client.post(url("placement_create", patient.uuid), data)
    assert "at least 7 days" in error_beside(response, "opioid_free_days")
    assert "negative urine drug screen" in error_beside(response, "urine_screen")
    assert "negative naloxone challenge" in error_beside(response, "naloxone_challenge")
    assert "required for a first placement" in error_on_top(response)
    html = response.content.decode()
    assert 'value="3"' in html
    assert 'value="LOT-42"' in html
    assert not Placement.objects.exists()


def test_it_refuses_a_waiver_without_its_reason(client, clinician, patient, implant):
    client.force_login(clinician)
    response = client.post(url("placement_create", patient.uuid), placement_data(implant, naloxone_challenge="waived"))
    assert "waived" in error_beside(response, "naloxone_waiver_reason")
    assert not Placement.objects.exists()


def test_it_refuses_an_early_renewal_without_a_reason(client, clinician, patient, placed, implant):
    client.force_login(clinician)
    response = client.post(url("placement_create", patient.uuid), placement_data(implant, placed_on="2026-03-09"))
    assert "renewal window opens on 17 Apr 2026" in error_beside(response, "early_renewal_reason")
    assert Placement.objects.count() == 1
    assert patient.visits.filter(status="scheduled").count() == 3


def test_it_refuses_a_coverage_override_without_a_reason_and_keeps_it_open(client, clinician, patient, implant):
    client.force_login(clinician)
    data = placement_data(implant, covers_until="2026-05-10")
    response = client.post(url("placement_create", patient.uuid), data)
    assert "give the clinical reason" in error_beside(response, "covers_until_override_reason")
    assert re.search(r"<details[^>]* open>\s*<summary>Coverage override", response.content.decode())
    assert 'value="2026-05-10"' in response.content.decode()
    assert not Placement.objects.exists()


def test_it_refuses_a_placement_for_a_discharged_patient(client, clinician, patient, implant):
    services.discharge_patient(patient=patient)
    client.force_login(clinician)
    response = client.post(url("placement_create", patient.uuid), placement_data(implant))
    assert "Readmit them" in error_on_top(response)
    assert not Placement.objects.exists()


# The preview


def planned(response):
    plan = response.context["plan"]
    visits = [(row.visit.kind, row.visit.due_on, row.visit.window_start, row.visit.window_end) for row in plan.visits]
    reminders = sorted(
        (row.visit.due_on, reminder.kind, reminder.send_at, reminder.status, reminder.skip_reason)
        for row in plan.visits
        for reminder in row.reminders
    )
    return visits, reminders


def saved(patient):
    placement = patient.placements.get()
    visits = list(placement.visits.order_by("due_on").values_list("kind", "due_on", "window_start", "window_end"))
    reminders = sorted(
        patient.reminders.values_list("visit__due_on", "kind", "send_at", "status", "skip_reason"),
    )
    return visits, reminders


@pytest.mark.parametrize("consent", [True, False], ids=["consented", "no-consent"])
def test_the_preview_shows_exactly_what_saving_writes(client, clinician, clinic, implant, consent):
    consented_at = datetime.datetime(2026, 1, 1, tzinfo=UTC) if consent else None
    patient = PatientFactory(clinic=clinic, email_consent=consent, email_consent_at=consented_at)
    client.force_login(clinician)
    # Placed 5 February: the first monitoring visit (due 5 March) has passed, so its reminders expire.
    data = placement_data(implant, placed_on="2026-02-05")

    preview = client.post(url("placement_create", patient.uuid), data | {"action": "preview"})

    assert preview.status_code == 200
    assert not Placement.objects.exists()
    assert not Reminder.objects.exists()
    visits, reminders = planned(preview)
    statuses = {status for *_, status, _reason in reminders}
    assert statuses == ({"expired", "pending"} if consent else {"expired", "skipped"})
    html = preview.content.decode()
    assert "Thu 2 Apr 2026, 10:00" in html  # 3 days before 5 April, 10:00 London summer time
    assert "Expired: its day has passed" in html
    assert ("Will be sent" if consent else "Skipped: No consent to email") in html

    client.post(url("placement_create", patient.uuid), data | {"action": "save"})

    assert saved(patient) == (visits, reminders)


def test_the_preview_lists_the_visits_a_renewal_cancels(client, clinician, patient, placed, implant):
    client.force_login(clinician)
    data = placement_data(implant, placed_on="2026-03-09", early_renewal_reason="Moving abroad", action="preview")
    response = client.post(url("placement_create", patient.uuid), data)
    assert [(visit.kind, visit.due_on) for visit in response.context["plan"].superseded] == [
        ("monitoring", D(2026, 4, 1)),
        ("renewal", D(2026, 5, 1)),
    ]
    assert Placement.objects.count() == 1


def test_the_preview_follows_a_coverage_override(client, clinician, patient, implant):
    client.force_login(clinician)
    data = placement_data(
        implant, covers_until="2026-05-20", covers_until_override_reason="Short lot", action="preview"
    )
    plan = client.post(url("placement_create", patient.uuid), data).context["plan"]
    assert (plan.covers_until, plan.overridden) == (D(2026, 5, 20), True)
    assert plan.visits[-1].visit.due_on == D(2026, 5, 20)


# Visit findings


def findings(**changes):
    data = {
        "completed_on": "2026-03-10",
        "site_check": "normal",
        "alt_u_per_l": "30",
        "ast_u_per_l": "28",
        "phq9_total": "5",
        "phq9_item9": "0",
        "gad7_total": "4",
        "urine_drug_screen": "negative",
        "cravings": "2",
        "substance_use": "none",
        "notes": "Doing well",
    }
    return data | changes


def test_it_shows_the_visit_being_recorded(client, clinician, visit):
    client.force_login(clinician)
    html = client.get(url("visit_findings", visit.uuid)).content.decode()
    assert "Monitoring visit" in html
    assert "Wed 1 Apr 2026" in html
    assert "Wed 25 Mar 2026 to Wed 8 Apr 2026" in html


def test_it_records_a_visits_findings(client, clinician, patient, visit):
    client.force_login(clinician)
    response = client.post(url("visit_findings", visit.uuid), findings(seen_by=clinician.pk))
    visit.refresh_from_db()
    assert response.url == patient.get_absolute_url()
    assert (visit.status, visit.completed_on, visit.seen_by) == ("completed", D(2026, 3, 10), clinician)
    assert (visit.phq9_total, visit.gad7_total, visit.cravings, visit.notes) == (5, 4, 2, "Doing well")


def test_a_clinician_records_findings_seen_by_themselves_by_default(client, clinician, visit):
    client.force_login(clinician)
    page = client.get(url("visit_findings", visit.uuid)).content.decode()
    assert f'<option value="{clinician.pk}" selected>' in page
    client.post(url("visit_findings", visit.uuid), findings(seen_by=clinician.pk))
    visit.refresh_from_db()
    assert (visit.status, visit.seen_by) == ("completed", clinician)


def test_it_refuses_scores_out_of_range(client, clinician, visit):
    client.force_login(clinician)
    response = client.post(
        url("visit_findings", visit.uuid), findings(phq9_total="30", gad7_total="25", cravings="11", notes="Typed")
    )
    assert "0 to 27" in error_beside(response, "phq9_total")
    assert "0 to 21" in error_beside(response, "gad7_total")
    assert "0 to 10" in error_beside(response, "cravings")
    html = response.content.decode()
    assert 'value="30"' in html
    assert "Typed</textarea>" in html
    visit.refresh_from_db()
    assert (visit.status, visit.phq9_total) == ("scheduled", None)


def test_it_refuses_item_9_above_the_phq9_total(client, clinician, visit):
    client.force_login(clinician)
    response = client.post(url("visit_findings", visit.uuid), findings(phq9_total="2", phq9_item9="3"))
    assert "cannot be larger" in error_beside(response, "phq9_item9")


@pytest.mark.parametrize(
    ("completed_on", "message"),
    [
        ("2026-01-20", "before its placement on 1 Feb 2026"),
        ("2026-03-11", "cannot be recorded as done in the future"),
    ],
)
def test_it_refuses_a_visit_date_outside_what_is_possible(client, clinician, visit, completed_on, message):
    client.force_login(clinician)
    response = client.post(url("visit_findings", visit.uuid), findings(completed_on=completed_on))
    assert message in error_beside(response, "completed_on")
    visit.refresh_from_db()
    assert visit.status == "scheduled"


def test_it_refuses_to_complete_a_visit_twice(client, clinician, visit):
    services.complete_visit(visit=visit, completed_on=D(2026, 3, 9))
    client.force_login(clinician)
    response = client.post(url("visit_findings", visit.uuid), findings())
    assert "cannot become completed" in error_on_top(response)
    visit.refresh_from_db()
    assert visit.completed_on == D(2026, 3, 9)


# Booking a visit


def test_it_books_in_the_clinics_own_time(client, coordinator, patient, visit):
    client.force_login(coordinator)
    html = client.get(url("visit_reschedule", visit.uuid)).content.decode()
    assert "Wed 25 Mar 2026" in html
    assert "Wed 8 Apr 2026" in html

    response = client.post(url("visit_reschedule", visit.uuid), {"appointment_at": "2026-04-02T09:30"})

    visit.refresh_from_db()
    assert response.url == patient.get_absolute_url()
    # 09:30 in London after the clocks went forward is 08:30 UTC.
    assert visit.appointment_at == datetime.datetime(2026, 4, 2, 8, 30, tzinfo=UTC)
    assert flashed(response) == ["Booked for Thu 2 Apr 2026 at 09:30."]


def test_it_shows_a_booking_in_the_clinics_time(client, coordinator, visit):
    services.reschedule_visit(visit=visit, appointment_at=datetime.datetime(2026, 4, 2, 8, 30, tzinfo=UTC))
    client.force_login(coordinator)
    html = client.get(url("visit_reschedule", visit.uuid)).content.decode()
    assert 'value="2026-04-02T09:30"' in html


def test_it_refuses_a_day_outside_the_window_without_a_reason(client, clinician, visit):
    client.force_login(clinician)
    response = client.post(url("visit_reschedule", visit.uuid), {"appointment_at": "2026-04-20T09:30"})
    assert "give the clinical reason" in error_beside(response, "appointment_at")
    assert 'value="2026-04-20T09:30"' in response.content.decode()
    visit.refresh_from_db()
    assert visit.appointment_at is None


def test_it_books_outside_the_window_with_a_reason(client, clinician, visit):
    client.force_login(clinician)
    data = {"appointment_at": "2026-04-20T09:30", "appointment_override_reason": "Away until then"}
    assert client.post(url("visit_reschedule", visit.uuid), data).status_code == 302
    visit.refresh_from_db()
    assert visit.appointment_override_reason == "Away until then"


def test_it_refuses_a_time_the_clocks_skip(client, coordinator, visit):
    client.force_login(coordinator)
    response = client.post(url("visit_reschedule", visit.uuid), {"appointment_at": "2026-03-29T01:30"})
    assert "Europe/London" in error_beside(response, "appointment_at")


# Follow-up calls


def test_it_logs_a_call_about_a_missed_visit(client, coordinator, patient, placed):
    missed = placed.visits.get(due_on=D(2026, 3, 1))
    services.mark_missed_visits(today=D(2026, 3, 10))
    client.force_login(coordinator)
    address = url("follow_up_call_create", patient.uuid) + f"?visit={missed.uuid}"
    assert "visit due Sun 1 Mar 2026 (missed)" in client.get(address).content.decode()

    response = client.post(address, {"outcome": "agreed_to_come", "note": "Will come Friday"})

    call = FollowUpCall.objects.get()
    assert response.url == patient.get_absolute_url()
    assert (call.visit, call.called_by, call.outcome, call.note) == (
        missed,
        coordinator,
        "agreed_to_come",
        "Will come Friday",
    )


def test_it_logs_a_call_about_a_lapse(client, coordinator, patient):
    client.force_login(coordinator)
    client.post(url("follow_up_call_create", patient.uuid), {"outcome": "no_answer", "try_again_on": "2026-03-12"})
    call = FollowUpCall.objects.get()
    assert (call.visit, call.try_again_on) == (None, D(2026, 3, 12))


def test_it_refuses_a_try_again_day_that_is_not_ahead(client, coordinator, patient):
    client.force_login(coordinator)
    data = {"outcome": "left_message", "note": "Voicemail", "try_again_on": "2026-03-10"}
    response = client.post(url("follow_up_call_create", patient.uuid), data)
    assert "must be after today" in error_beside(response, "try_again_on")
    html = response.content.decode()
    assert "Voicemail</textarea>" in html
    assert re.search(r'value="left_message"[^>]*checked', html)
    assert not FollowUpCall.objects.exists()


def test_it_refuses_a_call_without_an_outcome(client, coordinator, patient):
    client.force_login(coordinator)
    response = client.post(url("follow_up_call_create", patient.uuid), {"note": "?"})
    assert "required" in error_beside(response, "outcome")


@pytest.fixture
def strangers_visit(stranger, other_clinic):
    product = ProductFactory(clinic=other_clinic)
    placement = services.record_placement(patient=stranger, product=product, placed_on=D(2026, 2, 1), **INDUCTION)
    return placement.visits.first()


@pytest.fixture
def neighbours_visit(clinic, implant):
    neighbour = PatientFactory(clinic=clinic)
    placement = services.record_placement(patient=neighbour, product=implant, placed_on=D(2026, 2, 1), **INDUCTION)
    return placement.visits.first()


@pytest.mark.parametrize("named", ["neighbours_visit", "strangers_visit", "garbled"])
def test_it_answers_404_for_a_visit_that_is_not_the_patients(request, client, coordinator, patient, named):
    visit_uuid = "not-a-uuid" if named == "garbled" else request.getfixturevalue(named).uuid
    client.force_login(coordinator)
    address = url("follow_up_call_create", patient.uuid) + f"?visit={visit_uuid}"
    assert client.get(address).status_code == 404
    assert client.post(address, {"outcome": "reached"}).status_code == 404
    assert not FollowUpCall.objects.exists()
