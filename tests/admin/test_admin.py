"""The admin: every page scoped to the user's clinics, every write through a service, nothing deleted."""

import datetime
import zoneinfo
from unittest import mock

import pytest
from django.urls import reverse

from patients import services
from patients.models import Patient, Placement, TherapyGroup, TherapySession, Visit
from tests.factories import INDUCTION, PatientFactory, ProductFactory, TherapyGroupFactory

pytestmark = pytest.mark.django_db

D = datetime.date
MODELS = ("clinic", "membership", "product", "patient", "placement", "visit", "therapygroup", "therapysession")
CLINICAL_RECORDS = ("patient", "placement", "visit", "therapysession")


@pytest.fixture(autouse=True)
def frozen_now(time_machine):
    time_machine.move_to("2026-03-10 12:00Z", tick=False)


@pytest.fixture
def placement(patient, implant):
    return services.record_placement(patient=patient, product=implant, placed_on=D(2026, 2, 1), **INDUCTION)


def url(model, view="changelist", *args):
    return reverse(f"admin:patients_{model}_{view}", args=args)


def form_of(response):
    return response.context["adminform"].form


def errors_on(response, field=None):
    """The messages the form shows beside ``field`` (or on top, for None), as plain text."""
    form = form_of(response)
    return " ".join(form.non_field_errors() if field is None else form.errors.get(field, []))


def populate(clinic, product, count):
    """``count`` patients, each with a placement (and so its visits), a booking and therapy sessions."""
    group = TherapyGroupFactory(clinic=clinic)
    for _ in range(count):
        patient = PatientFactory(clinic=clinic)
        placement = services.record_placement(patient=patient, product=product, placed_on=D(2026, 2, 1), **INDUCTION)
        visit = placement.visits.order_by("due_on").last()
        services.reschedule_visit(
            visit=visit, appointment_at=datetime.datetime(2026, 4, 25, 9, 30, tzinfo=datetime.UTC)
        )
        services.log_therapy_session(patient=patient, held_on=D(2026, 3, 2), status="attended")
        group.members.add(patient)
    services.log_group_attendance(
        group=group, held_on=D(2026, 3, 3), attendance=dict.fromkeys(group.members.all(), "attended")
    )


# Who sees what


@pytest.mark.parametrize("model", MODELS)
def test_it_answers_every_list_page_for_a_superuser(client, admin_user_account, placement, model):
    client.force_login(admin_user_account)
    assert client.get(url(model)).status_code == 200


@pytest.mark.parametrize("model", MODELS)
def test_it_answers_every_list_page_for_a_coordinator(client, coordinator, placement, model):
    client.force_login(coordinator)
    assert client.get(url(model)).status_code == 200


@pytest.mark.parametrize("model", MODELS)
@pytest.mark.parametrize("user", ["coordinator", "admin_user_account"])
@pytest.mark.parametrize("patients", [5, 30])
def test_it_lists_without_a_query_per_row(
    request, client, clinic, implant, django_assert_max_num_queries, model, user, patients
):
    populate(clinic, implant, patients)
    client.force_login(request.getfixturevalue(user))

    # One limit for both sizes: 30 patients bring 30 placements, 90 visits and 60 sessions. (One of
    # the queries asks whether the user may read the audit log, for the admin's menu.)
    with django_assert_max_num_queries(13):
        response = client.get(url(model))

    assert response.status_code == 200


def test_it_shows_a_coordinator_only_their_clinics_patients(client, coordinator, patient, stranger):
    client.force_login(coordinator)

    listed = client.get(url("patient")).content.decode()

    assert "Byron" in listed
    assert "Stranger" not in listed
    assert client.get(url("patient", "change", stranger.pk)).url == reverse("admin:index")
    assert client.get(url("patient", "history", stranger.pk)).status_code == 404
    assert client.get(url("clinic")).content.decode().count("Hillside Clinic") == 0


def test_it_offers_a_coordinator_only_their_clinics_products_and_patients(
    client, clinician, implant, patient, stranger, other_clinic
):
    ProductFactory(clinic=other_clinic, name="Hillside implant")
    client.force_login(clinician)

    products = form_of(client.get(url("placement", "add"))).fields["product"].queryset
    found = client.get(
        reverse("admin:autocomplete"),
        {"app_label": "patients", "model_name": "placement", "field_name": "patient", "term": ""},
    ).json()
    response = client.post(url("placement", "add"), {"patient": stranger.pk, "product": implant.pk})

    assert list(products) == [implant]
    assert [result["text"] for result in found["results"]] == [str(patient)]
    assert "patient" in form_of(response).errors


def test_it_lets_only_a_superuser_change_clinics_and_memberships(client, coordinator, clinic, admin_user_account):
    client.force_login(coordinator)
    assert client.get(url("clinic", "add")).status_code == 403
    assert client.post(url("clinic", "change", clinic.pk), {"name": "Renamed", "phone": "1"}).status_code == 403
    assert client.get(url("membership", "add")).status_code == 403

    client.force_login(admin_user_account)
    assert client.get(url("clinic", "add")).status_code == 200


@pytest.mark.parametrize("model", CLINICAL_RECORDS)
def test_it_never_offers_to_delete_a_clinical_record(client, admin_user_account, placement, model):
    record = {
        "patient": placement.patient,
        "placement": placement,
        "visit": placement.visits.first(),
        "therapysession": services.log_therapy_session(
            patient=placement.patient, held_on=D(2026, 3, 2), status="attended"
        ),
    }[model]
    client.force_login(admin_user_account)

    change_page = client.get(url(model, "change", record.pk))
    action_form = client.get(url(model)).context["action_form"]
    actions = dict(action_form.fields["action"].choices) if action_form else {}

    assert change_page.context["has_delete_permission"] is False
    assert "delete_selected" not in actions
    assert client.post(url(model, "delete", record.pk), {"post": "yes"}).status_code == 403
    assert type(record).objects.filter(pk=record.pk).exists()


# Patients


def patient_form(clinic, **changes):
    return {
        "clinic": clinic.pk,
        "record_number": "R-2",
        "first_name": "Grace",
        "last_name": "Hopper",
        "date_of_birth": "1980-12-09",
        "treats": "opioids",
        "email": "grace@patients.example",
        "email_consent": "on",
        **changes,
    }


def test_it_registers_a_patient_through_the_service(client, coordinator, clinic):
    client.force_login(coordinator)

    with mock.patch.object(services, "register_patient", wraps=services.register_patient) as register:
        response = client.post(url("patient", "add"), patient_form(clinic))

    patient = Patient.objects.get(record_number="R-2")
    assert response.status_code == 302
    assert register.call_count == 1
    assert patient.email_consent_at is not None


def test_it_refuses_a_duplicate_record_number_and_saves_nothing(client, coordinator, clinic, patient):
    client.force_login(coordinator)

    response = client.post(url("patient", "add"), patient_form(clinic, record_number="R-1"))

    assert response.status_code == 200
    assert errors_on(response) == "Another patient of this clinic already has this record number."
    assert form_of(response).data["first_name"] == "Grace"
    assert not Patient.objects.filter(first_name="Grace").exists()


def test_it_refuses_a_birth_date_in_the_future_beside_the_field(client, coordinator, clinic):
    client.force_login(coordinator)

    response = client.post(url("patient", "add"), patient_form(clinic, date_of_birth="2027-01-01"))

    assert form_of(response).errors["date_of_birth"] == ["The date of birth cannot be in the future."]
    assert not Patient.objects.exists()


def test_it_updates_a_patient_through_the_service_and_keeps_status_read_only(client, coordinator, clinic, patient):
    client.force_login(coordinator)

    with mock.patch.object(services, "update_patient", wraps=services.update_patient) as update:
        response = client.post(
            url("patient", "change", patient.pk), patient_form(clinic, record_number="R-1", status="discharged")
        )

    patient.refresh_from_db()
    assert response.status_code == 302
    assert update.call_count == 1
    assert (patient.first_name, patient.status) == ("Grace", Patient.Status.ACTIVE)


def test_it_discharges_patients_and_cancels_their_scheduled_visits(client, coordinator, placement):
    client.force_login(coordinator)

    response = client.post(url("patient"), {"action": "discharge", "_selected_action": [placement.patient_id]})

    placement.patient.refresh_from_db()
    assert response.status_code == 302
    assert placement.patient.status == Patient.Status.DISCHARGED
    assert set(placement.visits.values_list("status", "cancel_reason")) == {
        (Visit.Status.CANCELLED, Visit.CancelReason.DISCHARGED)
    }


def test_it_reports_a_status_change_the_service_refuses(client, coordinator, patient):
    client.force_login(coordinator)

    response = client.post(url("patient"), {"action": "readmit", "_selected_action": [patient.pk]}, follow=True)

    assert "cannot become active" in response.content.decode()


def test_it_shows_a_patients_placements_and_visits_read_only(client, coordinator, placement):
    client.force_login(coordinator)

    response = client.get(url("patient", "change", placement.patient_id))

    placements, visits = response.context["inline_admin_formsets"]
    assert len(placements.forms) == 1
    assert [form.instance.due_on for form in visits.forms] == sorted(placement.visits.values_list("due_on", flat=True))
    assert not visits.has_add_permission
    assert not visits.has_change_permission


def test_it_shows_only_the_latest_visits_under_a_patient(client, coordinator, patient, long_implant):
    for placed_on in (D(2025, 1, 10), D(2025, 7, 1), D(2025, 12, 20)):
        services.record_placement(patient=patient, product=long_implant, placed_on=placed_on, **INDUCTION)
    client.force_login(coordinator)

    visits = client.get(url("patient", "change", patient.pk)).context["inline_admin_formsets"][1]

    latest = sorted(patient.visits.values_list("due_on", flat=True))[-12:]
    assert patient.visits.count() == 18
    assert [form.instance.due_on for form in visits.forms] == latest


# Placements


def placement_form(patient, product, **changes):
    return {"patient": patient.pk, "product": product.pk, "placed_on": "2026-03-09", **INDUCTION, **changes}


def test_it_records_a_placement_and_plans_its_visits(client, clinician, patient, implant):
    client.force_login(clinician)

    response = client.post(url("placement", "add"), placement_form(patient, implant))

    placement = Placement.objects.get(patient=patient)
    assert response.status_code == 302
    assert placement.covers_until == D(2026, 6, 9)
    assert list(placement.visits.order_by("due_on").values_list("kind", flat=True)) == [
        "monitoring",
        "monitoring",
        "renewal",
    ]


def test_it_refuses_a_placement_dated_in_the_future(client, clinician, patient, implant):
    client.force_login(clinician)

    response = client.post(url("placement", "add"), placement_form(patient, implant, placed_on="2026-03-11"))

    assert "cannot be dated in the future" in errors_on(response, "placed_on")
    assert not Placement.objects.exists()
    assert not Visit.objects.exists()


def test_it_refuses_a_first_placement_without_the_induction_checklist(client, clinician, patient, implant):
    client.force_login(clinician)

    response = client.post(
        url("placement", "add"),
        placement_form(patient, implant, opioid_free_days="", urine_screen="not_done", naloxone_challenge="not_done"),
    )

    form = form_of(response)
    assert {"opioid_free_days", "urine_screen", "naloxone_challenge"} <= set(form.errors)
    assert errors_on(response) == "The induction checklist is required for a first placement."
    assert form.data["placed_on"] == "2026-03-09"
    assert not Placement.objects.exists()


def test_it_records_a_removal_through_the_service(client, clinician, placement):
    client.force_login(clinician)

    refused = client.post(url("placement", "change", placement.pk), {"removed_on": "2026-03-05"})
    done = client.post(
        url("placement", "change", placement.pk), {"removed_on": "2026-03-05", "removal_reason": "Site infection"}
    )

    placement.refresh_from_db()
    assert form_of(refused).errors["removal_reason"] == ["Say why the implant was removed."]
    assert done.status_code == 302
    assert placement.removed_on == D(2026, 3, 5)
    assert placement.visits.filter(cancel_reason=Visit.CancelReason.REMOVED).count() == 2


def test_it_never_reverts_a_record_from_its_history(client, admin_user_account, placement):
    history_id = placement.history.earliest().history_id
    client.force_login(admin_user_account)

    assert client.get(url("placement", "simple_history", placement.pk, history_id)).status_code == 200
    assert client.post(url("placement", "simple_history", placement.pk, history_id), {}).status_code == 403


# Visits


def first_visit(placement):
    return placement.visits.order_by("due_on").first()


def test_it_shows_an_out_of_range_phq9_score_beside_the_field(client, clinician, placement):
    visit = first_visit(placement)
    client.force_login(clinician)

    response = client.post(url("visit", "change", visit.pk), {"completed_on": "2026-03-05", "phq9_total": "30"})

    visit.refresh_from_db()
    assert form_of(response).errors["phq9_total"] == ["The PHQ-9 total is a score from 0 to 27."]
    assert visit.status == Visit.Status.SCHEDULED


def test_it_completes_a_visit_seen_by_the_clinician(client, clinician, placement):
    visit = first_visit(placement)
    client.force_login(clinician)

    response = client.post(url("visit", "change", visit.pk), {"completed_on": "2026-03-05", "phq9_total": "4"})

    visit.refresh_from_db()
    assert response.status_code == 302
    assert (visit.status, visit.phq9_total, visit.seen_by) == (Visit.Status.COMPLETED, 4, clinician)


def test_it_keeps_a_booking_unsaved_when_the_completion_on_the_same_form_is_refused(client, clinician, placement):
    visit = placement.visits.order_by("due_on")[1]
    client.force_login(clinician)

    response = client.post(
        url("visit", "change", visit.pk),
        {"appointment_at_0": "2026-04-01", "appointment_at_1": "10:00", "completed_on": "2026-03-11"},
    )

    visit.refresh_from_db()
    assert errors_on(response, "completed_on") == "A visit cannot be recorded as done in the future."
    assert visit.appointment_at is None


def test_it_books_an_appointment_in_the_clinics_own_time(client, other_coordinator, stranger, other_clinic):
    product = ProductFactory(clinic=other_clinic)
    placement = services.record_placement(patient=stranger, product=product, placed_on=D(2026, 2, 10), **INDUCTION)
    visit = first_visit(placement)
    client.force_login(other_coordinator)

    response = client.post(
        url("visit", "change", visit.pk), {"appointment_at_0": "2026-03-12", "appointment_at_1": "10:00"}
    )

    visit.refresh_from_db()
    assert response.status_code == 302
    assert visit.appointment_at == datetime.datetime(2026, 3, 12, 10, tzinfo=zoneinfo.ZoneInfo("America/New_York"))


def test_it_refuses_a_booking_outside_the_window_without_a_reason(client, clinician, placement):
    visit = first_visit(placement)
    client.force_login(clinician)

    response = client.post(
        url("visit", "change", visit.pk), {"appointment_at_0": "2026-03-20", "appointment_at_1": "10:00"}
    )

    visit.refresh_from_db()
    assert "give the clinical reason" in errors_on(response, "appointment_at")
    assert visit.appointment_at is None


def test_it_keeps_the_schedule_read_only(client, coordinator, placement):
    visit = first_visit(placement)
    client.force_login(coordinator)

    fields = form_of(client.get(url("visit", "change", visit.pk))).fields

    assert not {"patient", "placement", "kind", "due_on", "window_start", "window_end", "status"} & set(fields)
    assert client.get(url("visit", "add")).status_code == 403


def test_it_cancels_the_selected_visits(client, coordinator, placement):
    visit = first_visit(placement)
    client.force_login(coordinator)

    client.post(url("visit"), {"action": "cancel_visits", "_selected_action": [visit.pk]})

    visit.refresh_from_db()
    assert (visit.status, visit.cancel_reason) == (Visit.Status.CANCELLED, Visit.CancelReason.CLINIC)


def test_it_marks_overdue_visits_missed_in_the_clinic(client, coordinator, patient, implant):
    placement = services.record_placement(patient=patient, product=implant, placed_on=D(2026, 1, 5), **INDUCTION)
    overdue = first_visit(placement)
    client.force_login(coordinator)

    client.post(url("visit"), {"action": "mark_overdue_visits_missed", "_selected_action": [overdue.pk]})

    assert dict(placement.visits.values_list("due_on", "status")) == {
        D(2026, 2, 5): Visit.Status.MISSED,
        D(2026, 3, 5): Visit.Status.SCHEDULED,
        D(2026, 4, 5): Visit.Status.SCHEDULED,
    }


# Therapy


def test_it_logs_an_individual_session_through_the_service(client, coordinator, patient):
    client.force_login(coordinator)

    refused = client.post(
        url("therapysession", "add"), {"patient": patient.pk, "held_on": "2026-03-11", "status": "attended"}
    )
    done = client.post(
        url("therapysession", "add"), {"patient": patient.pk, "held_on": "2026-03-09", "status": "attended"}
    )

    assert "held_on" in form_of(refused).errors
    assert done.status_code == 302
    assert list(TherapySession.objects.values_list("kind", "held_on")) == [("individual", D(2026, 3, 9))]


def test_it_keeps_other_clinics_patients_out_of_a_therapy_group(client, admin_user_account, clinic, stranger):
    client.force_login(admin_user_account)

    response = client.post(
        url("therapygroup", "add"), {"clinic": clinic.pk, "name": "Tuesday group", "members": [stranger.pk]}
    )

    assert errors_on(response, "members") == "Hidden Stranger (H-1) is not a patient of this group's clinic."
    assert not TherapyGroup.objects.exists()
