"""The read log and the History page: who opened a patient's records, shown with every change to
clinicians and managers only; and the admin's history pages, which give nothing away across clinics."""

import datetime

import pytest
from django.conf import settings
from django.urls import reverse
from django.utils import timezone

from patients import formats, services
from patients.clinic_time import clinic_today
from patients.models import RecordAccess, TherapySession, Visit
from tests.factories import INDUCTION, MembershipFactory

pytestmark = pytest.mark.django_db

DAY = datetime.timedelta(days=1)
What = RecordAccess.What


@pytest.fixture
def placement(clinic, implant, patient):
    return services.record_placement(
        patient=patient, product=implant, placed_on=clinic_today(clinic) - 40 * DAY, **INDUCTION
    )


@pytest.fixture
def visit(placement):
    return placement.visits.filter(status=Visit.Status.SCHEDULED).earliest("due_on")


def reads(**filters):
    return list(RecordAccess.objects.filter(**filters).values_list("username", "what", "patient_id", "clinic_id"))


# The read log


def test_opening_a_patients_page_is_logged_with_who_when_and_where(client, coordinator, patient, still_clock):
    # A still clock: the row must carry the moment of the request.
    client.force_login(coordinator)

    assert client.get(patient.get_absolute_url()).status_code == 200

    access = RecordAccess.objects.get(user=coordinator, patient=patient)
    assert (access.what, access.clinic_id, access.address) == (What.PATIENT_PAGE, patient.clinic_id, "127.0.0.1")
    assert access.username == "coordinator"
    assert access.path == patient.get_absolute_url()
    assert access.at == timezone.now()


PAGES = {
    What.PATIENT_EDIT_FORM: lambda patient, visit: reverse("patients:patient_edit", args=[patient.uuid]),
    What.WALLET_CARD: lambda patient, visit: reverse("patients:wallet_card", args=[patient.uuid]),
    What.WALLET_CARD_PDF: lambda patient, visit: reverse("patients:wallet_card_pdf", args=[patient.uuid]),
    What.PLACEMENT_FORM: lambda patient, visit: reverse("patients:placement_create", args=[patient.uuid]),
    What.VISIT_FINDINGS_FORM: lambda patient, visit: reverse("patients:visit_findings", args=[visit.uuid]),
    What.VISIT_BOOKING_FORM: lambda patient, visit: reverse("patients:visit_reschedule", args=[visit.uuid]),
    What.FOLLOW_UP_CALL_FORM: lambda patient, visit: reverse("patients:follow_up_call_create", args=[patient.uuid]),
    What.SESSION_FORM: lambda patient, visit: reverse("patients:session_create", args=[patient.uuid]),
}


@pytest.mark.parametrize("what", PAGES)
def test_every_page_and_file_of_a_patients_records_is_logged(client, clinician, patient, visit, what):
    client.force_login(clinician)

    assert client.get(PAGES[what](patient, visit)).status_code == 200

    assert reads() == [("clinician", what, patient.pk, patient.clinic_id)]


def test_another_clinics_patient_is_a_404_and_logs_nothing(client, coordinator, stranger):
    client.force_login(coordinator)

    assert client.get(stranger.get_absolute_url()).status_code == 404
    assert client.get(reverse("patients:patient_history", args=[stranger.uuid])).status_code == 404
    assert not RecordAccess.objects.exists()


@pytest.mark.parametrize(
    ("name", "what"), [("reports_csv", What.EXPORT_MONTHLY_CSV), ("patients_csv", What.EXPORT_PATIENTS_CSV)]
)
def test_an_export_is_logged_once_for_each_clinic_it_covers(client, coordinator, clinic, other_clinic, name, what):
    MembershipFactory(user=coordinator, clinic=other_clinic)
    client.force_login(coordinator)

    response = client.get(reverse(f"patients:{name}"))
    b"".join(response.streaming_content)

    assert sorted(reads()) == sorted(
        [("coordinator", what, None, clinic.pk), ("coordinator", what, None, other_clinic.pk)]
    )


ADMIN_RECORDS = {
    "patient": lambda patient, visit: patient.pk,
    "placement": lambda patient, visit: visit.placement_id,
    "visit": lambda patient, visit: visit.pk,
    "therapysession": lambda patient, visit: (
        services.log_therapy_session(
            patient=patient, held_on=visit.placement.placed_on, status=TherapySession.Status.ATTENDED
        ).pk
    ),
}


@pytest.mark.parametrize("model", ADMIN_RECORDS)
def test_the_admin_page_of_a_record_is_logged(client, coordinator, patient, visit, model):
    record_id = ADMIN_RECORDS[model](patient, visit)
    client.force_login(coordinator)

    assert client.get(reverse(f"admin:patients_{model}_change", args=[record_id])).status_code == 200

    assert reads() == [("coordinator", What.ADMIN_CHANGE, patient.pk, patient.clinic_id)]


# The History page


def history_url(patient):
    return reverse("patients:patient_history", args=[patient.uuid])


@pytest.mark.parametrize("user", ["clinician", "manager"])
def test_clinicians_and_managers_see_the_history_and_its_link(request, client, patient, user):
    client.force_login(request.getfixturevalue(user))

    page = client.get(patient.get_absolute_url()).content.decode()
    response = client.get(history_url(patient))

    assert history_url(patient) in page
    assert response.status_code == 200
    assert reads(what=What.PATIENT_HISTORY) == [(user, What.PATIENT_HISTORY, patient.pk, patient.clinic_id)]


def test_a_coordinator_gets_neither_the_history_nor_its_link(client, coordinator, patient):
    client.force_login(coordinator)

    page = client.get(patient.get_absolute_url()).content.decode()

    assert history_url(patient) not in page
    assert client.get(history_url(patient)).status_code == 403
    assert not RecordAccess.objects.filter(what=What.PATIENT_HISTORY).exists()


def test_a_clinician_of_another_clinic_gets_a_404(client, other_clinician, patient):
    client.force_login(other_clinician)

    assert client.get(history_url(patient)).status_code == 404


def test_the_history_tells_each_change_in_words_newest_first(
    still_clock, client, clinician, coordinator, clinic, patient, visit
):
    now = timezone.now()  # the still clock's noon
    client.force_login(coordinator)
    client.get(patient.get_absolute_url())
    still_clock.move_to(now + datetime.timedelta(minutes=1), tick=False)
    services.cancel_visit(visit=visit)
    still_clock.move_to(now + datetime.timedelta(minutes=2), tick=False)
    services.update_patient(patient=patient, phone="0700 900 900")
    still_clock.move_to(now + datetime.timedelta(minutes=3), tick=False)
    client.force_login(clinician)

    response = client.get(history_url(patient))

    changes = list(response.context["changes"])
    html = response.content.decode()
    assert changes[0].record == "Patient details"
    assert [(field.label, field.after) for field in changes[0].fields] == [("Phone", "0700 900 900")]
    cancelled = next(change for change in changes if change.reason == "Cancelled by the clinic")
    moves = [(field.label, field.before, field.after) for field in cancelled.fields]
    assert ("Status", "Scheduled", "Cancelled") in moves
    assert ("Cancel reason", "—", "Cancelled by the clinic") in moves
    assert cancelled.record == f"Monitoring visit due {formats.day(visit.due_on)}"
    assert "Scheduled → Cancelled" in html
    # Placing the implant names the product, not its id.
    created = next(change for change in changes if change.record.startswith("Placement"))
    assert ("Product", "Three-month implant (3 months)") in [(f.label, f.after) for f in created.fields]
    assert [read.what for read in response.context["reads"]] == [What.PATIENT_HISTORY, What.PATIENT_PAGE]
    assert "coordinator" in html


@pytest.mark.parametrize("placements", [1, 4])
def test_the_history_page_costs_the_same_queries_however_long_the_history(
    client, clinician, clinic, implant, patient, placements, django_assert_max_num_queries
):
    today = clinic_today(clinic)
    for number in range(placements):
        services.record_placement(
            patient=patient,
            product=implant,
            placed_on=today - (400 - 95 * number) * DAY,
            early_renewal_reason="Travel",
            **INDUCTION,
        )
    client.force_login(clinician)

    with django_assert_max_num_queries(16):
        response = client.get(history_url(patient), {"changes": "2", "reads": "x"})

    assert response.status_code == 200


# The admin's history pages and the read log


@pytest.mark.parametrize("model", ["patient", "placement", "visit", "therapysession"])
def test_the_admin_history_of_another_clinics_record_is_a_404_like_a_missing_one(
    client, other_clinician, visit, patient, model
):
    record_id = ADMIN_RECORDS[model](patient, visit)
    history_model = {"patient": patient, "placement": visit.placement, "visit": visit}.get(model)
    version = history_model.history.earliest().history_id if history_model else 1
    client.force_login(other_clinician)

    assert client.get(reverse(f"admin:patients_{model}_history", args=[record_id])).status_code == 404
    assert client.get(reverse(f"admin:patients_{model}_history", args=[999999])).status_code == 404
    assert client.get(reverse(f"admin:patients_{model}_simple_history", args=[record_id, version])).status_code == 404


@pytest.mark.parametrize("model", ["clinic", "membership", "product", "therapygroup"])
def test_the_admin_history_of_another_clinics_settings_is_a_404(client, other_clinician, clinic, implant, model):
    from tests.factories import TherapyGroupFactory

    records = {
        "clinic": clinic,
        "membership": MembershipFactory(clinic=clinic),
        "product": implant,
        "therapygroup": TherapyGroupFactory(clinic=clinic),
    }
    client.force_login(other_clinician)

    assert client.get(reverse(f"admin:patients_{model}_history", args=[records[model].pk])).status_code == 404


def test_the_admin_history_is_for_clinicians_and_is_logged(client, coordinator, clinician, patient):
    url = reverse("admin:patients_patient_history", args=[patient.pk])
    client.force_login(coordinator)
    assert client.get(url).status_code == 403

    client.force_login(clinician)
    assert client.get(url).status_code == 200
    assert reads() == [("clinician", What.ADMIN_HISTORY, patient.pk, patient.clinic_id)]


def test_no_one_reverts_a_record_from_its_history(client, admin_user_account, placement):
    version = placement.history.earliest().history_id
    url = reverse("admin:patients_placement_simple_history", args=[placement.pk, version])
    client.force_login(admin_user_account)

    assert settings.SIMPLE_HISTORY_REVERT_DISABLED is True
    assert client.post(url, {}).status_code == 403


def test_the_read_log_is_read_only_and_scoped_in_the_admin(client, clinician, coordinator, other_clinician, patient):
    client.force_login(coordinator)
    client.get(patient.get_absolute_url())
    access = RecordAccess.objects.get()
    changelist = reverse("admin:patients_recordaccess_changelist")

    assert client.get(changelist).status_code == 403  # a coordinator does not read the log
    client.force_login(other_clinician)
    assert "coordinator" not in client.get(changelist).content.decode()
    client.force_login(clinician)
    assert "coordinator" in client.get(changelist).content.decode()
    assert client.get(reverse("admin:patients_recordaccess_add")).status_code == 403
    assert client.post(reverse("admin:patients_recordaccess_delete", args=[access.pk])).status_code == 403
    client.post(reverse("admin:patients_recordaccess_change", args=[access.pk]), {"username": "someone"})
    assert RecordAccess.objects.get().username == "coordinator"
