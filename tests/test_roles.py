"""Roles mean something: the services refuse, the pages answer 403, and the admin allows only what
each role may do (patients.roles), for every role in its own clinic and in another one."""

import ast
import datetime
import inspect
from pathlib import Path

import pytest
from django.core.exceptions import PermissionDenied, ValidationError
from django.urls import reverse

from patients import roles, services
from patients.models import Clinic, Membership, Placement, Product, TherapyGroup, Visit
from tests.factories import INDUCTION, MembershipFactory, PatientFactory, TherapyGroupFactory, UserFactory
from tests.helpers import london

D = datetime.date
Role = Membership.Role
ROLES = (Role.COORDINATOR, Role.CLINICIAN, Role.MANAGER)
REPO = Path(__file__).resolve().parent.parent

pytestmark = pytest.mark.django_db


@pytest.fixture(autouse=True)
def frozen_now(time_machine):
    # Noon in London on 10 March 2026: the clinic's today.
    time_machine.move_to("2026-03-10 12:00Z", tick=False)


def member(clinic: Clinic, role: str, name: str = ""):
    user = UserFactory(username=name or f"{role}-{clinic.pk}", is_staff=True)
    MembershipFactory(user=user, clinic=clinic, role=role)
    return user


@pytest.fixture
def placed(patient, implant):
    """Placed 1 February: monitoring due 1 March and 1 April, renewal 1 May."""
    return services.record_placement(patient=patient, product=implant, placed_on=D(2026, 2, 1), **INDUCTION)


@pytest.fixture
def visit(placed):
    return placed.visits.get(kind=Visit.Kind.MONITORING, due_on=D(2026, 4, 1))


@pytest.fixture
def group(clinic, patient):
    group = TherapyGroupFactory(clinic=clinic)
    group.members.add(patient)
    return group


# The table itself


def test_each_role_may_do_everything_the_one_before_it_may():
    coordinator, clinician, manager = (roles.ALLOWED[role] for role in ROLES)
    assert coordinator < clinician < manager
    assert roles.Action.CLINICAL_OVERRIDE not in coordinator
    assert roles.Action.RECORD_PLACEMENTS not in coordinator
    assert roles.Action.RECORD_FINDINGS not in coordinator
    assert roles.Action.MANAGE_CATALOGUE not in clinician
    assert roles.Action.MANAGE_MEMBERSHIPS not in clinician
    assert set(roles.Action) == manager


def test_nobody_may_do_anything_in_a_clinic_they_do_not_work_for(clinic, other_clinic):
    manager = member(other_clinic, Role.MANAGER)
    assert not any(roles.may(manager, action, clinic) for action in roles.Action)
    assert all(roles.may(manager, action, other_clinic) for action in roles.Action)


def test_a_superuser_may_do_everything_everywhere(clinic, admin_user_account):
    assert all(roles.may(admin_user_account, action, clinic) for action in roles.Action)


def test_an_inactive_user_may_do_nothing(clinic):
    manager = member(clinic, Role.MANAGER)
    manager.is_active = False
    assert not any(roles.may(manager, action, clinic) for action in roles.Action)


# The services


def test_every_service_takes_an_optional_by():
    for name in services.__all__:
        service = getattr(services, name)
        if not inspect.isfunction(service):
            continue
        parameter = inspect.signature(service).parameters.get("by")
        assert parameter is not None, f"services.{name} takes no by="
        assert parameter.kind is inspect.Parameter.KEYWORD_ONLY, name
        assert parameter.default is None, name


def _calls_to_services(path: Path):
    """Each ``services.<verb>(...)`` call in a module: its line and its keyword names."""
    tree = ast.parse(path.read_text(), filename=str(path))
    for node in ast.walk(tree):
        if (
            isinstance(node, ast.Call)
            and isinstance(node.func, ast.Attribute)
            and isinstance(node.func.value, ast.Name)
            and node.func.value.id == "services"
            and node.func.attr in services.__all__
        ):
            yield node.lineno, node.func.attr, {keyword.arg for keyword in node.keywords}


# Pages and the admin act for a signed-in user; the patient's own links (views/public.py), tasks and commands do not.
ACTING_FOR_STAFF = sorted(
    [
        *(path for path in (REPO / "patients" / "views").glob("*.py") if path.name != "public.py"),
        *(REPO / "patients" / "admin").glob("*.py"),
    ]
)


def test_every_page_and_admin_action_tells_the_service_who_acts():
    calls = [(path, *call) for path in ACTING_FOR_STAFF for call in _calls_to_services(path)]
    assert len(calls) >= 20, "the check found too few service calls to be looking in the right place"
    missing = [
        f"{path.relative_to(REPO)}:{line} services.{name}"
        for path, line, name, keywords in calls
        if "by" not in keywords
    ]
    assert not missing, "called without by=: " + ", ".join(missing)


def test_a_coordinator_cannot_record_a_placement_and_nothing_is_written(clinic, patient, implant):
    coordinator = member(clinic, Role.COORDINATOR)
    with pytest.raises(PermissionDenied, match="coordinator may not record placements"):
        services.record_placement(
            patient=patient, product=implant, placed_on=D(2026, 2, 1), by=coordinator, **INDUCTION
        )
    assert not Placement.objects.exists()
    assert not Visit.objects.exists()


def test_a_clinician_records_a_placement_and_a_trusted_caller_needs_no_user(clinic, patient, implant):
    clinician = member(clinic, Role.CLINICIAN)
    services.record_placement(patient=patient, product=implant, placed_on=D(2026, 2, 1), by=clinician, **INDUCTION)
    assert Placement.objects.count() == 1


def test_a_clinician_of_another_clinic_cannot_record_a_placement(other_clinic, patient, implant):
    stranger = member(other_clinic, Role.CLINICIAN)
    with pytest.raises(PermissionDenied, match="do not work for this clinic"):
        services.record_placement(patient=patient, product=implant, placed_on=D(2026, 2, 1), by=stranger, **INDUCTION)
    assert not Placement.objects.exists()


def test_only_a_clinician_records_findings(clinic, visit):
    coordinator, clinician = member(clinic, Role.COORDINATOR), member(clinic, Role.CLINICIAN)
    with pytest.raises(PermissionDenied):
        services.complete_visit(visit=visit, completed_on=D(2026, 3, 10), by=coordinator, site_check="normal")
    visit.refresh_from_db()
    assert visit.status == Visit.Status.SCHEDULED
    services.complete_visit(visit=visit, completed_on=D(2026, 3, 10), by=clinician, site_check="normal")
    visit.refresh_from_db()
    assert visit.status == Visit.Status.COMPLETED


def test_a_coordinator_books_inside_the_window_but_not_outside_it(clinic, visit):
    coordinator = member(clinic, Role.COORDINATOR)
    inside = london(visit.window_start, 10)
    services.reschedule_visit(visit=visit, appointment_at=inside, by=coordinator)
    outside = london(visit.window_end + datetime.timedelta(days=10), 10)
    with pytest.raises(ValidationError, match="ask a clinician"):
        services.reschedule_visit(visit=visit, appointment_at=outside, by=coordinator)
    with pytest.raises(PermissionDenied, match="clinical override"):
        services.reschedule_visit(visit=visit, appointment_at=outside, override_reason="travel", by=coordinator)
    visit.refresh_from_db()
    assert visit.appointment_at == inside
    assert visit.appointment_override_reason == ""


def test_a_clinician_books_outside_the_window_with_a_reason(clinic, visit):
    clinician = member(clinic, Role.CLINICIAN)
    outside = london(visit.window_end + datetime.timedelta(days=10), 10)
    services.reschedule_visit(visit=visit, appointment_at=outside, override_reason="travel", by=clinician)
    visit.refresh_from_db()
    assert visit.appointment_override_reason == "travel"


@pytest.mark.parametrize("role", ROLES)
def test_every_role_keeps_the_register(clinic, patient, group, role):
    user = member(clinic, role)
    services.update_patient(patient=patient, phone="01234 567890", by=user)
    services.log_therapy_session(patient=patient, held_on=D(2026, 3, 9), status="attended", by=user)
    services.log_group_attendance(group=group, held_on=D(2026, 3, 9), attendance={patient: "attended"}, by=user)
    services.log_follow_up_call(patient=patient, outcome="reached", by=user)
    services.change_patient_status(patient=patient, status="paused", by=user)
    patient.refresh_from_db()
    assert (patient.phone, patient.status) == ("01234 567890", "paused")


@pytest.mark.parametrize("role", ROLES)
def test_no_role_writes_for_another_clinic(clinic, other_clinic, patient, group, role):
    stranger = member(other_clinic, role)
    attempts = [
        lambda: services.update_patient(patient=patient, phone="0", by=stranger),
        lambda: services.log_therapy_session(patient=patient, held_on=D(2026, 3, 9), status="attended", by=stranger),
        lambda: services.log_follow_up_call(patient=patient, outcome="reached", by=stranger),
        lambda: services.discharge_patient(patient=patient, by=stranger),
        lambda: services.create_therapy_group(clinic=clinic, name="Intruders", by=stranger),
        lambda: services.set_group_members(group=group, patients=[], by=stranger),
        lambda: services.mark_missed_visits(today=D(2026, 3, 10), clinic=clinic, by=stranger),
    ]
    for attempt in attempts:
        with pytest.raises(PermissionDenied):
            attempt()
    patient.refresh_from_db()
    assert patient.status == "active"
    assert group.members.count() == 1
    assert not TherapyGroup.objects.filter(name="Intruders").exists()


# The pages: every page for each role, in its own clinic and in another


def page_urls(patient, visit, group, clinic):
    on_patient = (patient.uuid,)
    return {
        "dashboard": reverse("patients:dashboard"),
        "patient_list": reverse("patients:patient_list"),
        "patient_create": reverse("patients:patient_create"),
        "patient_detail": reverse("patients:patient_detail", args=on_patient),
        "patient_edit": reverse("patients:patient_edit", args=on_patient),
        "patient_history": reverse("patients:patient_history", args=on_patient),
        "wallet_card": reverse("patients:wallet_card", args=on_patient),
        "wallet_card_pdf": reverse("patients:wallet_card_pdf", args=on_patient),
        "placement_create": reverse("patients:placement_create", args=on_patient),
        "follow_up_call_create": reverse("patients:follow_up_call_create", args=on_patient),
        "session_create": reverse("patients:session_create", args=on_patient),
        "visit_findings": reverse("patients:visit_findings", args=(visit.uuid,)),
        "visit_reschedule": reverse("patients:visit_reschedule", args=(visit.uuid,)),
        "group_list": reverse("patients:group_list"),
        "group_create": reverse("patients:group_create"),
        "group_detail": reverse("patients:group_detail", args=(group.uuid,)),
        "group_attendance": reverse("patients:group_attendance", args=(group.uuid,)),
        "reports": reverse("patients:reports") + f"?clinic={clinic.uuid}",
        "reports_csv": reverse("patients:reports_csv") + f"?clinic={clinic.uuid}",
        "patients_csv": reverse("patients:patients_csv") + f"?clinic={clinic.uuid}",
    }


# What a role may not open in its own clinic; everything else answers 200.
CLINICAL_PAGES = {"placement_create", "visit_findings", "patient_history"}
# Pages that name one row of the clinic: another clinic's staff get the 404 of a row that does not exist.
ROW_PAGES = {
    "patient_detail",
    "patient_history",
    "patient_edit",
    "wallet_card",
    "wallet_card_pdf",
    "placement_create",
    "follow_up_call_create",
    "session_create",
    "visit_findings",
    "visit_reschedule",
    "group_detail",
    "group_attendance",
}


@pytest.mark.parametrize("role", ROLES)
def test_every_page_answers_each_role_of_the_clinic_as_the_role_allows(client, clinic, patient, visit, group, role):
    client.force_login(member(clinic, role))
    for name, url in page_urls(patient, visit, group, clinic).items():
        expected = 403 if role == Role.COORDINATOR and name in CLINICAL_PAGES else 200
        assert client.get(url).status_code == expected, f"{role} GET {name}"


@pytest.mark.parametrize("role", ROLES)
def test_every_page_hides_the_clinic_from_another_clinics_staff(
    client, clinic, other_clinic, patient, visit, group, role
):
    client.force_login(member(other_clinic, role))
    for name, url in page_urls(patient, visit, group, clinic).items():
        response = client.get(url)
        if name in ROW_PAGES:
            assert response.status_code == 404, f"{role} of another clinic GET {name}"
        else:
            assert response.status_code in (200, 400, 404), f"{role} of another clinic GET {name}"
            assert patient.record_number.encode() not in response.content, f"{name} shows another clinic's patient"


def test_the_patient_page_offers_a_coordinator_no_clinical_buttons(client, clinic, patient, visit):
    client.force_login(member(clinic, Role.COORDINATOR))
    html = client.get(reverse("patients:patient_detail", args=[patient.uuid])).content.decode()
    assert reverse("patients:placement_create", args=[patient.uuid]) not in html
    assert reverse("patients:visit_findings", args=[visit.uuid]) not in html
    assert reverse("patients:patient_history", args=[patient.uuid]) not in html
    assert reverse("patients:visit_reschedule", args=[visit.uuid]) in html


def test_the_patient_page_offers_a_clinician_the_clinical_buttons(client, clinic, patient, visit):
    client.force_login(member(clinic, Role.CLINICIAN))
    html = client.get(reverse("patients:patient_detail", args=[patient.uuid])).content.decode()
    assert reverse("patients:placement_create", args=[patient.uuid]) in html
    assert reverse("patients:visit_findings", args=[visit.uuid]) in html
    assert reverse("patients:patient_history", args=[patient.uuid]) in html


def test_a_coordinators_posted_placement_is_refused_with_403_and_nothing_saved(client, clinic, patient, implant):
    client.force_login(member(clinic, Role.COORDINATOR))
    data = {"product": implant.pk, "placed_on": "2026-03-10", **INDUCTION}
    response = client.post(reverse("patients:placement_create", args=[patient.uuid]), data)
    assert response.status_code == 403
    assert not Placement.objects.exists()


def test_a_coordinators_posted_findings_are_refused_with_403(client, clinic, visit):
    client.force_login(member(clinic, Role.COORDINATOR))
    response = client.post(reverse("patients:visit_findings", args=[visit.uuid]), {"completed_on": "2026-03-10"})
    assert response.status_code == 403
    visit.refresh_from_db()
    assert visit.status == Visit.Status.SCHEDULED


def test_the_booking_form_offers_a_coordinator_no_override_and_ignores_one_posted(client, clinic, visit):
    client.force_login(member(clinic, Role.COORDINATOR))
    url = reverse("patients:visit_reschedule", args=[visit.uuid])
    assert "appointment_override_reason" not in client.get(url).content.decode()
    outside = visit.window_end + datetime.timedelta(days=10)
    response = client.post(url, {"appointment_at": f"{outside}T10:00", "appointment_override_reason": "because"})
    assert response.status_code == 200
    assert "ask a clinician" in response.content.decode()
    visit.refresh_from_db()
    assert visit.appointment_at is None


# The admin


def admin_url(model: str, view: str = "changelist", *args):
    return reverse(f"admin:patients_{model}_{view}", args=args)


# (model, view) -> the roles of the clinic that may open it; the rest get 403.
ADMIN_ADD_PAGES = {
    "patient": set(ROLES),
    "placement": {Role.CLINICIAN, Role.MANAGER},
    "therapysession": set(ROLES),
    "therapygroup": set(ROLES),
    "product": {Role.MANAGER},
    "membership": {Role.MANAGER},
    "clinic": set(),
}


@pytest.mark.parametrize("role", ROLES)
def test_the_admins_add_pages_follow_the_role(client, clinic, placed, role):
    client.force_login(member(clinic, role))
    for model, allowed in ADMIN_ADD_PAGES.items():
        expected = 200 if role in allowed else 403
        assert client.get(admin_url(model, "add")).status_code == expected, f"{role} add {model}"
        assert client.get(admin_url(model)).status_code == 200, f"{role} lists {model}"


@pytest.mark.parametrize("role", ROLES)
def test_only_a_manager_changes_the_catalogue(client, clinic, implant, role):
    client.force_login(member(clinic, role))
    data = {
        "name": "Renamed",
        "formulation": implant.formulation,
        "coverage_length": 9,
        "renewal_window_lead_days": 14,
        "coverage_unit": implant.coverage_unit,
        "is_active": "on",
    }
    response = client.post(admin_url("product", "change", implant.pk), data)
    implant.refresh_from_db()
    if role == Role.MANAGER:
        assert response.status_code == 302
        assert implant.coverage_length == 9
    else:
        assert response.status_code == 403
        assert implant.coverage_length != 9
    assert client.post(admin_url("product", "delete", implant.pk), {"post": "yes"}).status_code in (
        (200, 302) if role == Role.MANAGER else (403,)
    )
    assert Product.objects.filter(pk=implant.pk).exists() or role == Role.MANAGER


@pytest.mark.parametrize("role", ROLES)
def test_only_a_manager_changes_the_clinics_settings(client, clinic, role):
    client.force_login(member(clinic, role))
    data = {
        "name": clinic.name,
        "time_zone": clinic.time_zone,
        "first_year": clinic.first_year,
        "phone": "020 7946 0999",
        "address": "",
    }
    response = client.post(admin_url("clinic", "change", clinic.pk), data)
    clinic.refresh_from_db()
    assert (response.status_code, clinic.phone == "020 7946 0999") == (
        (302, True) if role == Role.MANAGER else (403, False)
    )


def test_a_manager_adds_staff_only_to_their_own_clinic(client, clinic, other_clinic):
    manager = member(clinic, Role.MANAGER)
    colleague = member(clinic, Role.COORDINATOR, name="colleague")
    client.force_login(manager)
    offered = client.get(admin_url("membership", "add")).context["adminform"].form.fields["clinic"].queryset
    assert list(offered) == [clinic]
    response = client.post(
        admin_url("membership", "add"), {"user": colleague.pk, "clinic": other_clinic.pk, "role": "manager"}
    )
    assert response.status_code == 200  # refused on the form
    assert not Membership.objects.filter(clinic=other_clinic).exists()


def test_a_coordinator_changes_a_visits_booking_but_not_its_findings_in_the_admin(client, clinic, visit):
    client.force_login(member(clinic, Role.COORDINATOR))
    form = client.get(admin_url("visit", "change", visit.pk)).context["adminform"].form
    assert "appointment_at" in form.fields
    assert not {"completed_on", "site_check", "appointment_override_reason"} & set(form.fields)


def test_a_clinician_records_findings_in_the_admin(client, clinic, visit):
    client.force_login(member(clinic, Role.CLINICIAN))
    form = client.get(admin_url("visit", "change", visit.pk)).context["adminform"].form
    assert {"completed_on", "site_check", "appointment_override_reason"} <= set(form.fields)


@pytest.mark.parametrize("role", ROLES)
def test_the_admin_hides_a_clinics_rows_from_another_clinics_staff(client, clinic, other_clinic, placed, group, role):
    client.force_login(member(other_clinic, role))
    rows = {
        "patient": placed.patient_id,
        "placement": placed.pk,
        "visit": placed.visits.first().pk,
        "therapygroup": group.pk,
        "product": placed.product_id,
        "clinic": clinic.pk,
    }
    for model, pk in rows.items():
        response = client.get(admin_url(model, "change", pk))
        # The admin answers a row outside the user's queryset as one that does not exist.
        assert response.status_code == 302, f"{role} {model}"
        assert response["Location"] == reverse("admin:index"), f"{role} {model}"
    assert placed.patient.record_number.encode() not in client.get(admin_url("patient")).content


def test_an_admin_action_refuses_what_the_role_may_not_do_for_each_row(client, clinic, other_clinic, patient):
    # A member of two clinics acts on a selection that mixes them: each row is checked in its clinic.
    user = member(clinic, Role.COORDINATOR)
    stranger = PatientFactory(clinic=other_clinic)
    client.force_login(user)
    response = client.post(
        admin_url("patient"), {"action": "pause", "_selected_action": [patient.pk, stranger.pk]}, follow=True
    )
    assert response.status_code == 200
    patient.refresh_from_db()
    stranger.refresh_from_db()
    assert patient.status == "paused"
    assert stranger.status == "active"  # outside the user's queryset: never even offered


@pytest.mark.parametrize(("role", "offered"), [(Role.COORDINATOR, False), (Role.CLINICIAN, True)])
def test_the_dashboard_offers_clinical_steps_only_to_a_role_that_may_take_them(
    client, clinic, patient, implant, role, offered
):
    # Placed 1 November: cover ended early in February, so the patient is on the lapsed list today.
    services.record_placement(patient=patient, product=implant, placed_on=D(2025, 11, 1), **INDUCTION)
    client.force_login(member(clinic, role))
    html = client.get(reverse("patients:dashboard")).content.decode()
    assert patient.record_number in html
    assert "Log call" in html
    assert (reverse("patients:placement_create", args=[patient.uuid]) in html) is offered
