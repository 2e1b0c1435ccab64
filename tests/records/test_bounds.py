"""Bounded dates: every date a person types is refused outside a plausible range, by the service.

Births from 1900; what has happened from the clinic's first year to its today; what is planned at
most MAX_COVERAGE_MONTHS ahead. Each refusal is a ValidationError beside its field and saves nothing.
Expected days count from the clinic's today under the suite's clock, never from the real day.
"""

import datetime
import importlib

import pytest
from django.apps import apps
from django.core.exceptions import ValidationError
from django.core.management import call_command

from patients import formats, services
from patients.admin import forms as admin_forms
from patients.clinic_time import clinic_today
from patients.models import Clinic, FollowUpCall, Patient, Placement, Reminder, TherapySession, Visit
from patients.records import bounds
from patients.records.schedule import add_months
from tests.factories import INDUCTION, ClinicFactory, TherapyGroupFactory

pytestmark = pytest.mark.django_db

D = datetime.date
UTC = datetime.UTC


@pytest.fixture
def today(clinic):
    return clinic_today(clinic)


@pytest.fixture
def placement(patient, implant, today):
    return services.record_placement(
        patient=patient, product=implant, placed_on=today - datetime.timedelta(days=10), **INDUCTION
    )


@pytest.fixture
def visit(placement):
    return placement.visits.order_by("due_on").first()


def refused(call, field):
    """Run a call that must be refused beside ``field``, with nothing saved; return the message."""
    before = row_counts()
    with pytest.raises(ValidationError) as caught:
        call()
    assert field in caught.value.message_dict, caught.value.message_dict
    assert row_counts() == before
    return " ".join(caught.value.message_dict[field])


def row_counts():
    models = (Patient, Placement, Visit, Reminder, TherapySession, FollowUpCall)
    return {model.__name__: model.objects.count() for model in models}


def noon(day, zone=UTC):
    return datetime.datetime.combine(day, datetime.time(12), tzinfo=zone)


# The acceptance check's own call, and the reported failures.


def test_it_refuses_a_therapy_session_in_year_one(patient):
    message = refused(
        lambda: services.log_therapy_session(patient=patient, held_on=D(1, 1, 1), status="attended"), "held_on"
    )
    assert message == "A session cannot be dated before 2000, the clinic's first year."


def test_it_refuses_an_appointment_at_the_end_of_the_calendar(visit):
    moment = datetime.datetime(9999, 12, 31, 23, 59, tzinfo=UTC)
    message = refused(
        lambda: services.reschedule_visit(visit=visit, appointment_at=moment, override_reason="x"), "appointment_at"
    )
    assert "at most 12 months ahead" in message
    visit.refresh_from_db()
    assert visit.appointment_at is None


def test_it_refuses_a_coverage_end_centuries_away_whatever_the_reason(patient, implant, today):
    call = lambda: services.record_placement(  # noqa: E731
        patient=patient,
        product=implant,
        placed_on=today,
        covers_until=D(2999, 12, 31),
        covers_until_override_reason="x",
        **INDUCTION,
    )
    message = refused(call, "covers_until")
    assert formats.day(add_months(today, 12)) in message


# What has happened: from the clinic's first year to its today.


def test_the_first_year_is_2000_unless_set(clinic):
    assert Clinic.objects.get(pk=clinic.pk).first_year == 2000


@pytest.fixture
def since_2015(clinic):
    clinic.first_year = 2015
    clinic.save(update_fields=["first_year"])
    return clinic


def test_it_refuses_a_session_before_the_clinics_first_year_and_takes_its_first_day(patient, since_2015):
    message = refused(
        lambda: services.log_therapy_session(patient=patient, held_on=D(2014, 12, 31), status="attended"), "held_on"
    )
    assert message == "A session cannot be dated before 2015, the clinic's first year."
    services.log_therapy_session(patient=patient, held_on=D(2015, 1, 1), status="attended")


def test_it_refuses_a_group_session_out_of_bounds_for_the_whole_roster(clinic, patient, today):
    group = TherapyGroupFactory(clinic=clinic)
    for day in (D(1, 1, 1), D(1999, 12, 31), today + datetime.timedelta(days=1), D(9999, 12, 31)):
        refused(
            lambda day=day: services.log_group_attendance(group=group, held_on=day, attendance={patient: "attended"}),
            "held_on",
        )


@pytest.mark.parametrize("day", [D(1, 1, 1), D(1999, 12, 31), D(9999, 12, 31)])
def test_it_refuses_a_placement_out_of_bounds(patient, implant, day):
    refused(
        lambda: services.record_placement(patient=patient, product=implant, placed_on=day, **INDUCTION), "placed_on"
    )


def test_it_takes_a_placement_on_the_clinics_first_day(patient, implant, since_2015):
    placement = services.record_placement(patient=patient, product=implant, placed_on=D(2015, 1, 1), **INDUCTION)
    assert placement.covers_until == D(2015, 4, 1)


@pytest.mark.parametrize("day", [D(1, 1, 1), D(9999, 12, 31)])
def test_it_refuses_a_removal_out_of_bounds(placement, day):
    refused(lambda: services.record_removal(placement=placement, removed_on=day, reason="Infection"), "removed_on")


@pytest.mark.parametrize("day", [D(1, 1, 1), D(9999, 12, 31)])
def test_it_refuses_a_visit_done_out_of_bounds(visit, day):
    refused(lambda: services.complete_visit(visit=visit, completed_on=day), "completed_on")


def test_it_refuses_a_discharge_before_the_first_year(patient, since_2015):
    message = refused(
        lambda: services.discharge_patient(patient=patient, discharged_on=D(2014, 6, 1)), "discharged_on"
    )
    assert message == "A discharge cannot be dated before 2015, the clinic's first year."


def test_it_refuses_a_call_before_the_first_year_and_a_try_again_day_too_far_ahead(patient, today):
    outcome = FollowUpCall.Outcome.NO_ANSWER
    refused(
        lambda: services.log_follow_up_call(patient=patient, outcome=outcome, called_at=noon(D(1, 1, 2))),
        "called_at",
    )
    limit = add_months(today, 12)
    message = refused(
        lambda: services.log_follow_up_call(patient=patient, outcome=outcome, try_again_on=D(9999, 12, 31)),
        "try_again_on",
    )
    assert formats.day(limit) in message
    call = services.log_follow_up_call(patient=patient, outcome=outcome, try_again_on=limit)
    assert call.try_again_on == limit


# Births: from 1900, never in the future.


def test_it_refuses_a_birth_before_1900_on_registration_and_on_update(clinic, patient):
    details = {"record_number": "B-1", "first_name": "Old", "last_name": "Timer"}
    message = refused(
        lambda: services.register_patient(clinic=clinic, date_of_birth=D(1899, 12, 31), **details), "date_of_birth"
    )
    assert "1900" in message
    refused(lambda: services.update_patient(patient=patient, date_of_birth=D(1, 1, 1)), "date_of_birth")
    refused(lambda: services.update_patient(patient=patient, date_of_birth=D(9999, 12, 31)), "date_of_birth")
    assert services.register_patient(clinic=clinic, date_of_birth=D(1900, 1, 1), **details).pk


# What is planned: at most MAX_COVERAGE_MONTHS ahead.


def test_a_coverage_end_may_reach_the_limit_but_not_a_day_beyond(patient, implant, today):
    def place(covers_until):
        return services.record_placement(
            patient=patient,
            product=implant,
            placed_on=today,
            covers_until=covers_until,
            covers_until_override_reason="Clinical trial lot",
            **INDUCTION,
        )

    limit = add_months(today, 12)
    refused(lambda: place(limit + datetime.timedelta(days=1)), "covers_until")
    placement = place(limit)
    assert placement.covers_until == limit
    assert placement.visits.count() <= 13


def test_the_limit_follows_the_setting(settings, patient, implant, long_implant, today):
    settings.MAX_COVERAGE_MONTHS = 4
    message = refused(
        lambda: services.record_placement(patient=patient, product=long_implant, placed_on=today, **INDUCTION),
        "product",
    )
    assert "at most 4 months" in message
    assert services.record_placement(patient=patient, product=implant, placed_on=today, **INDUCTION).pk


def test_an_appointment_may_be_booked_up_to_the_limit(visit, clinic, today):
    limit = add_months(today, 12)
    at_limit = datetime.datetime.combine(limit, datetime.time(10), tzinfo=clinic.zone)
    refused(
        lambda: services.reschedule_visit(
            visit=visit, appointment_at=at_limit + datetime.timedelta(days=1), override_reason="Abroad"
        ),
        "appointment_at",
    )
    booked = services.reschedule_visit(visit=visit, appointment_at=at_limit, override_reason="Abroad")
    assert booked.appointment_at == at_limit


def test_an_appointment_in_year_one_is_refused_as_before_the_first_year(visit):
    moment = datetime.datetime(1, 1, 1, tzinfo=UTC)
    message = refused(
        lambda: services.reschedule_visit(visit=visit, appointment_at=moment, override_reason="x"), "appointment_at"
    )
    assert "the clinic's first year" in message


def test_a_moment_at_the_calendars_end_in_a_far_zone_is_refused_not_an_overflow(other_clinic):
    far = ClinicFactory(name="Far East Clinic", time_zone="Pacific/Kiritimati")
    with pytest.raises(ValidationError):
        bounds.check_appointment(appointment_at=datetime.datetime(9999, 12, 31, 23, tzinfo=UTC), clinic=far)
    with pytest.raises(ValidationError):
        bounds.check_appointment(appointment_at=datetime.datetime(1, 1, 1, tzinfo=UTC), clinic=other_clinic)


# The preview shares the service's bounds.


def test_the_preview_refuses_what_the_service_refuses(client, clinician, patient, implant, today):
    client.force_login(clinician)
    data = {
        "product": implant.pk,
        "placed_on": "9999-12-31",
        "opioid_free_days": "10",
        "urine_screen": "negative",
        "naloxone_challenge": "negative",
        "action": "preview",
    }
    url = f"/patients/{patient.uuid}/placements/new/"
    response = client.post(url, data)
    assert response.status_code == 200
    assert response.context["plan"] is None
    assert "cannot be dated in the future" in " ".join(response.context["form"].errors["placed_on"])
    long_end = data | {
        "placed_on": today.isoformat(),
        "covers_until": "2999-12-31",
        "covers_until_override_reason": "x",
    }
    response = client.post(url, long_end)
    assert "Coverage can last at most 12 months" in " ".join(response.context["form"].errors["covers_until"])
    assert not Placement.objects.exists()


# The clinic's first year, and the products, in the admin.


def test_a_clinics_first_year_cannot_follow_its_earliest_record(clinic, patient, implant, today):
    earlier = D(today.year - 3, 6, 1)
    services.record_placement(patient=patient, product=implant, placed_on=earlier, **INDUCTION)
    data = {"name": clinic.name, "time_zone": clinic.time_zone, "phone": clinic.phone}

    def errors(first_year):
        form = admin_forms.ClinicForm(data | {"first_year": first_year}, instance=clinic)
        return " ".join(form.errors.get("first_year", [])) if not form.is_valid() else ""

    assert "cannot be after this year" in errors(today.year + 1)
    assert f"records from {earlier.year}" in errors(earlier.year + 1)
    assert "cannot be before 1900" in errors(1899)
    assert errors(earlier.year) == ""


@pytest.mark.parametrize(
    ("length", "unit", "valid"), [(12, "months", True), (13, "months", False), (49, "weeks", False)]
)
def test_a_product_covers_no_longer_than_a_placement_may(clinic, length, unit, valid):
    data = {
        "clinic": clinic.pk,
        "name": "Long implant",
        "formulation": "implant",
        "coverage_length": length,
        "coverage_unit": unit,
        "renewal_window_lead_days": 14,
        "is_active": True,
    }
    assert admin_forms.ProductForm(data).is_valid() is valid


def test_the_demo_clinics_first_year_leaves_room_for_its_histories():
    call_command("seed_demo", patients=20, verbosity=0)
    clinic = Clinic.objects.get()
    earliest = bounds.earliest_record_year(clinic)
    assert earliest is not None
    assert clinic.first_year <= earliest
    assert clinic.first_year == clinic_today(clinic).year - 2


def test_the_migration_keeps_an_older_clinics_records_valid(clinic, patient, implant):
    # A row from before 2000 written as an older version would have, without the services.
    services.record_placement(patient=patient, product=implant, placed_on=D(2005, 3, 1), **INDUCTION)
    Placement.objects.update(placed_on=D(1998, 3, 1))
    untouched = ClinicFactory(name="New Clinic")
    migration = importlib.import_module("patients.migrations.0009_clinic_first_year")

    migration.no_later_than_the_earliest_record(apps, None)

    assert Clinic.objects.get(pk=clinic.pk).first_year == 1998
    assert Clinic.objects.get(pk=untouched.pk).first_year == 2000


def test_a_year_one_row_sets_the_first_year_no_earlier_than_1900(clinic, patient):
    TherapySession.objects.create(patient=patient, kind="individual", held_on=D(1, 1, 1), status="attended")
    migration = importlib.import_module("patients.migrations.0009_clinic_first_year")
    migration.no_later_than_the_earliest_record(apps, None)
    assert Clinic.objects.get(pk=clinic.pk).first_year == 1900


def test_text_with_a_nul_character_is_refused_on_every_database(patient, today):
    refused(
        lambda: services.log_therapy_session(patient=patient, held_on=today, status="attended", note="a\x00b"), "note"
    )


# Out of range in an address: a form error or a "not found", never an error page.


@pytest.mark.parametrize(
    "query",
    ["end=0001-01", "start=0001-01&end=0001-12", "start=9999-12", "end=9999-12", "start=2028-13", "start=x&end=y"],
)
def test_reports_answer_out_of_range_months_with_a_form_error(client, coordinator, query):
    client.force_login(coordinator)
    page = client.get(f"/reports/?{query}")
    assert page.status_code == 200
    for download in ("monthly.csv", "patients.csv"):
        assert client.get(f"/reports/{download}?{query}").status_code in (200, 400)


def test_a_report_month_before_the_clinics_first_year_is_refused_beside_it(client, coordinator):
    client.force_login(coordinator)
    form = client.get("/reports/?start=1999-12").context["form"]
    assert form.errors["start"] == ["Choose a month from 2000 on, the clinic's first year."]


def test_an_oversized_id_in_the_admin_is_not_found(client, admin_user_account, patient):
    client.force_login(admin_user_account)
    for url in (
        "/admin/patients/patient/99999999999999999999/change/",
        "/admin/patients/patient/99999999999999999999/history/",
        "/admin/patients/patient/abc/history/1/",
    ):
        assert client.get(url).status_code in (302, 404), url
    assert client.get("/admin/patients/therapysession/add/?patient=99999999999999999999").status_code == 200


def test_an_oversized_member_id_is_a_form_error(client, coordinator, clinic, patient, admin_user_account):
    group = TherapyGroupFactory(clinic=clinic)
    client.force_login(coordinator)
    response = client.post(f"/groups/{group.uuid}/", {"form": "members", "members-members": "99999999999999999999"})
    assert response.status_code == 200
    assert response.context["members"].errors["members"]
    client.force_login(admin_user_account)
    response = client.post(
        f"/admin/patients/therapygroup/{group.pk}/change/", {"name": group.name, "members": "99999999999999999999"}
    )
    assert response.status_code == 200
    assert not group.members.exists()


def test_pages_stay_up_for_rows_dated_at_the_ends_of_the_calendar(client, coordinator, placement, patient, visit):
    """Rows written before the services bounded dates: the pages show them rather than fail."""
    Visit.objects.filter(pk=visit.pk).update(appointment_at=datetime.datetime(9999, 12, 31, 23, 59, tzinfo=UTC))
    TherapySession.objects.create(patient=patient, kind="individual", held_on=D(1, 1, 1), status="attended")
    TherapySession.objects.create(patient=patient, kind="individual", held_on=D(9999, 12, 31), status="missed")
    Placement.objects.create(patient=patient, product=placement.product, placed_on=D(1, 1, 1), covers_until=D(1, 6, 1))
    client.force_login(coordinator)
    for url in (patient.get_absolute_url(), "/", "/patients/?sort=-covers_until", "/reports/patients.csv"):
        response = client.get(url)
        assert response.status_code == 200, url
        if response.streaming:
            assert b"".join(response.streaming_content)  # a download fails while it streams, if at all
