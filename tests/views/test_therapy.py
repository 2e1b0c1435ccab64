"""Therapy pages: individual sessions, groups and their members, and a whole roster's attendance."""

import datetime
import re

import pytest
from django.core.exceptions import ValidationError
from django.urls import reverse

from patients import services
from patients.models import Patient, TherapyGroup, TherapySession
from tests.factories import PatientFactory, TherapyGroupFactory
from tests.helpers import error_beside, flashed

pytestmark = pytest.mark.django_db

D = datetime.date


@pytest.fixture(autouse=True)
def frozen_now(time_machine):
    time_machine.move_to("2026-03-10 12:00Z", tick=False)


@pytest.fixture
def ben(clinic):
    return PatientFactory(clinic=clinic, record_number="R-2", first_name="Ben", last_name="Carter")


@pytest.fixture
def group(clinic, patient, ben):
    group = TherapyGroupFactory(clinic=clinic, name="Tuesday evening")
    group.members.set([patient, ben])
    return group


def url(name, *args):
    return reverse(f"patients:{name}", args=args)


def field_name(patient):
    return f"patient-{patient.uuid}"


# Who may open the pages

PAGES = ["session_create", "group_list", "group_create", "group_detail", "group_attendance"]
ROW_PAGES = ["session_create", "group_detail", "group_attendance"]


def page_url(name, patient, group):
    if name == "session_create":
        return url(name, patient.uuid)
    if name in ("group_detail", "group_attendance"):
        return url(name, group.uuid)
    return url(name)


def valid_post(name, clinic, patient, ben):
    return {
        "session_create": {"held_on": "2026-03-09", "status": "attended"},
        "group_list": {},
        "group_create": {"clinic": clinic.pk, "name": "Thursday", "facilitator": "", "meets": ""},
        "group_detail": {"form": "members", "members-members": [patient.pk]},
        "group_attendance": {"held_on": "2026-03-09", field_name(patient): "attended", field_name(ben): "missed"},
    }[name]


@pytest.mark.parametrize("name", PAGES)
def test_it_shows_every_therapy_page_to_the_coordinator(client, coordinator, patient, group, name):
    client.force_login(coordinator)
    assert client.get(page_url(name, patient, group)).status_code == 200


@pytest.mark.parametrize("name", PAGES)
def test_it_sends_anonymous_visitors_to_sign_in(client, clinic, patient, ben, group, name):
    address = page_url(name, patient, group)
    for response in (client.get(address), client.post(address, valid_post(name, clinic, patient, ben))):
        assert response.status_code == 302
        assert response.url.startswith("/accounts/login/?next=")
    assert not TherapySession.objects.exists()
    assert TherapyGroup.objects.count() == 1
    assert group.members.count() == 2


@pytest.mark.parametrize("name", ROW_PAGES)
def test_it_answers_404_for_another_clinics_rows(client, other_coordinator, clinic, patient, ben, group, name):
    client.force_login(other_coordinator)
    address = page_url(name, patient, group)
    assert client.get(address).status_code == 404
    assert client.post(address, valid_post(name, clinic, patient, ben)).status_code == 404
    assert not TherapySession.objects.exists()
    assert group.members.count() == 2


def test_the_group_list_is_get_only(client, coordinator):
    client.force_login(coordinator)
    assert client.post(url("group_list")).status_code == 405


# Individual sessions


def test_it_logs_an_individual_session(client, coordinator, patient):
    client.force_login(coordinator)
    page = client.get(url("session_create", patient.uuid)).content.decode()
    assert 'value="2026-03-10"' in page
    assert f'<option value="{coordinator.pk}" selected>' in page

    data = {"held_on": "2026-03-09", "status": "missed", "counsellor": coordinator.pk, "note": "Unwell"}
    response = client.post(url("session_create", patient.uuid), data)

    session = TherapySession.objects.get()
    assert response.url == patient.get_absolute_url()
    assert (session.kind, session.held_on, session.status, session.counsellor) == (
        "individual",
        D(2026, 3, 9),
        "missed",
        coordinator,
    )
    assert flashed(response) == ["Session on 9 Mar 2026 logged: missed."]


def test_it_refuses_a_session_in_the_future(client, coordinator, patient):
    client.force_login(coordinator)
    data = {"held_on": "2026-03-11", "status": "attended", "note": "Planned"}
    response = client.post(url("session_create", patient.uuid), data)
    assert "has taken place" in error_beside(response, "held_on")
    html = response.content.decode()
    assert 'value="2026-03-11"' in html
    assert "Planned</textarea>" in html
    assert not TherapySession.objects.exists()


# The list of groups


def test_it_lists_the_clinics_groups_with_their_members_and_last_session(client, coordinator, other_clinic, group):
    TherapyGroupFactory(clinic=other_clinic, name="Hidden group")
    services.log_group_attendance(
        group=group, held_on=D(2026, 3, 3), attendance=dict.fromkeys(group.members.all(), "attended")
    )
    client.force_login(coordinator)
    response = client.get(url("group_list"))
    html = response.content.decode()
    assert [(g.name, g.member_count, g.last_held_on) for g in response.context["groups"]] == [
        ("Tuesday evening", 2, D(2026, 3, 3))
    ]
    assert "Hidden group" not in html
    assert "3 Mar 2026" in html
    assert url("group_attendance", group.uuid) in html


def populate(clinic, count):
    """``count`` groups of ``count`` members each, every group with a session logged."""
    patients = PatientFactory.create_batch(count, clinic=clinic)
    for number in range(count):
        group = TherapyGroupFactory(clinic=clinic, name=f"Group {number}")
        group.members.set(patients)
        TherapySession.objects.bulk_create(
            TherapySession(patient=patient, group=group, kind="group", held_on=D(2026, 3, 3), status="attended")
            for patient in patients
        )


@pytest.mark.parametrize("count", [5, 50])
def test_the_group_list_costs_the_same_at_any_size(client, coordinator, clinic, count, django_assert_max_num_queries):
    populate(clinic, count)
    client.force_login(coordinator)
    with django_assert_max_num_queries(4):
        response = client.get(url("group_list"))
    assert len(response.context["groups"]) == count
    assert {group.member_count for group in response.context["groups"]} == {count}


# Creating and editing groups


def test_it_creates_a_group(client, coordinator, clinic):
    client.force_login(coordinator)
    data = {"clinic": clinic.pk, "name": " Thursday morning ", "facilitator": "Sam", "meets": "Thursdays 10:00"}
    response = client.post(url("group_create"), data)
    group = TherapyGroup.objects.get()
    assert response.url == url("group_detail", group.uuid)
    assert (group.clinic, group.name, group.facilitator, group.is_active) == (clinic, "Thursday morning", "Sam", True)


def test_it_refuses_a_second_group_of_the_same_name(client, coordinator, clinic, group):
    client.force_login(coordinator)
    data = {"clinic": clinic.pk, "name": "Tuesday evening", "facilitator": "Kim"}
    response = client.post(url("group_create"), data)
    assert "already has a group called Tuesday evening" in error_beside(response, "name")
    assert 'value="Kim"' in response.content.decode()
    assert TherapyGroup.objects.count() == 1


def test_it_offers_the_clinics_patients_in_care_as_members(client, coordinator, clinic, group, stranger):
    discharged = PatientFactory(clinic=clinic, first_name="Gone", last_name="Away")
    services.discharge_patient(patient=discharged)
    newcomer = PatientFactory(clinic=clinic, first_name="New", last_name="Comer")
    client.force_login(coordinator)
    response = client.get(url("group_detail", group.uuid))
    offered = set(response.context["members"].fields["members"].queryset)
    assert offered == {*group.members.all(), newcomer}
    html = response.content.decode()
    assert "Gone" not in html
    assert "Hidden" not in html
    assert len(re.findall(r'<input type="checkbox"[^>]*name="members-members"[^>]*checked', html)) == 2


def test_it_sets_the_members(client, coordinator, clinic, group, patient):
    newcomer = PatientFactory(clinic=clinic)
    client.force_login(coordinator)
    data = {"form": "members", "members-members": [patient.pk, newcomer.pk]}
    response = client.post(url("group_detail", group.uuid), data)
    assert response.url == url("group_detail", group.uuid)
    assert set(group.members.all()) == {patient, newcomer}
    assert flashed(response) == ["Tuesday evening now has 2 members."]


def test_it_refuses_another_clinics_patient_as_a_member(client, coordinator, group, patient, stranger):
    client.force_login(coordinator)
    data = {"form": "members", "members-members": [patient.pk, stranger.pk]}
    response = client.post(url("group_detail", group.uuid), data)
    assert "valid choice" in error_beside(response, "members", form="members")
    assert group.members.count() == 2


def test_it_saves_the_groups_details(client, coordinator, group):
    client.force_login(coordinator)
    data = {"form": "details", "details-name": "Tuesday late", "details-facilitator": "Kim", "details-meets": "19:00"}
    response = client.post(url("group_detail", group.uuid), data)
    group.refresh_from_db()
    assert response.status_code == 302
    assert (group.name, group.facilitator, group.meets, group.is_active) == ("Tuesday late", "Kim", "19:00", False)


def test_it_refuses_renaming_a_group_to_a_name_in_use(client, coordinator, clinic, group):
    TherapyGroupFactory(clinic=clinic, name="Friday")
    client.force_login(coordinator)
    data = {"form": "details", "details-name": "Friday", "details-facilitator": "Kim", "details-is_active": "on"}
    response = client.post(url("group_detail", group.uuid), data)
    assert "already has a group called Friday" in error_beside(response, "name", form="details")
    assert 'value="Kim"' in response.content.decode()
    group.refresh_from_db()
    assert group.name == "Tuesday evening"


# Attendance for the whole roster


def test_it_shows_the_whole_roster_in_one_form(client, coordinator, group, patient, ben):
    client.force_login(coordinator)
    response = client.get(url("group_attendance", group.uuid))
    html = response.content.decode()
    assert [member for member, _field in response.context["form"].rows()] == [patient, ben]
    for member in (patient, ben):
        for status in ("attended", "missed", "excused", "cancelled"):
            assert f'name="{field_name(member)}" value="{status}"' in html


def test_it_logs_the_whole_roster_at_once(client, coordinator, group, patient, ben):
    client.force_login(coordinator)
    data = {"held_on": "2026-03-09", field_name(patient): "attended", field_name(ben): "excused"}
    response = client.post(url("group_attendance", group.uuid), data)
    assert response.url == url("group_detail", group.uuid)
    logged = dict(TherapySession.objects.filter(group=group, held_on=D(2026, 3, 9)).values_list("patient", "status"))
    assert logged == {patient.pk: "attended", ben.pk: "excused"}
    assert flashed(response) == ["Attendance on 9 Mar 2026 is saved for 2 patients."]


def test_it_prefills_a_day_already_logged_and_corrects_it(client, coordinator, group, patient, ben):
    services.log_group_attendance(group=group, held_on=D(2026, 3, 3), attendance={patient: "missed", ben: "attended"})
    client.force_login(coordinator)
    html = client.get(url("group_attendance", group.uuid) + "?held_on=2026-03-03").content.decode()
    assert re.search(rf'name="{field_name(patient)}" value="missed"[^>]*checked', html)
    assert re.search(rf'name="{field_name(ben)}" value="attended"[^>]*checked', html)
    assert "saving again corrects it" in html

    data = {"held_on": "2026-03-03", field_name(patient): "excused", field_name(ben): "attended"}
    client.post(url("group_attendance", group.uuid), data)

    assert TherapySession.objects.count() == 2
    assert TherapySession.objects.get(patient=patient).status == "excused"


def test_it_refuses_attendance_for_a_future_session(client, coordinator, group, patient, ben):
    client.force_login(coordinator)
    data = {"held_on": "2026-03-11", field_name(patient): "attended", field_name(ben): "missed"}
    response = client.post(url("group_attendance", group.uuid), data)
    assert "has taken place" in error_beside(response, "held_on")
    html = response.content.decode()
    assert 'value="2026-03-11"' in html
    assert re.search(rf'name="{field_name(ben)}" value="missed"[^>]*checked', html)
    assert not TherapySession.objects.exists()


def test_it_asks_for_every_members_attendance(client, coordinator, group, patient, ben):
    client.force_login(coordinator)
    response = client.post(
        url("group_attendance", group.uuid), {"held_on": "2026-03-09", field_name(patient): "attended"}
    )
    assert "Choose how Ben Carter attended." in error_beside(response, field_name(ben))
    assert re.search(rf'name="{field_name(patient)}" value="attended"[^>]*checked', response.content.decode())
    assert not TherapySession.objects.exists()


def test_it_says_when_a_group_has_no_members(client, coordinator, clinic):
    empty = TherapyGroupFactory(clinic=clinic, name="Empty")
    client.force_login(coordinator)
    assert "has no members yet" in client.get(url("group_attendance", empty.uuid)).content.decode()


# The group services


def test_it_refuses_a_group_without_a_name(clinic):
    with pytest.raises(ValidationError) as caught:
        services.create_therapy_group(clinic=clinic, name="  ")
    assert "name" in caught.value.message_dict


def test_it_refuses_another_clinics_patient_in_a_roster(group, patient, stranger):
    with pytest.raises(ValidationError) as caught:
        services.set_group_members(group=group, patients=[patient, stranger])
    assert "not a patient of Riverside Clinic" in caught.value.message_dict["members"][0]
    assert group.members.count() == 2


def test_a_discharged_member_may_stay_but_not_join(clinic, group, patient, ben):
    services.discharge_patient(patient=ben)
    newcomer = PatientFactory(clinic=clinic, first_name="Cai", last_name="Dunn")
    services.discharge_patient(patient=newcomer)
    ben = Patient.objects.get(pk=ben.pk)

    services.set_group_members(group=group, patients=[patient, ben])
    with pytest.raises(ValidationError) as caught:
        services.set_group_members(group=group, patients=[patient, ben, Patient.objects.get(pk=newcomer.pk)])

    assert "Cai Dunn is discharged" in caught.value.message_dict["members"][0]
    assert set(group.members.all()) == {patient, ben}
