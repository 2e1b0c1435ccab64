"""Property-based tests: whatever a service or a form is given, it saves a valid record or refuses
cleanly, and a refusal writes nothing.

Hypothesis throws dates from 1 January of year 1 to 31 December 9999 (and days near today, so that
some calls succeed), numbers far past any column, text with control characters, NUL bytes,
right-to-left marks, emoji and 10,000 characters, at every service and every coordinators' form.
Each call must return a record that passes its model's checks, or raise ``ValidationError``; a
refused call leaves the row count of every table as it was. Arguments of the wrong Python type
(a number where a service takes text) are a caller's bug, not a person's input, and are not tried.

The examples are few so that the suite stays fast, and derandomized so that every run tries the
same ones: ``BOUNDS_PROPERTY_EXAMPLES`` (default 20) searches longer.
"""

import datetime
import os
from collections.abc import Callable
from decimal import Decimal
from typing import Any

import hypothesis
import pytest
from django.apps import apps
from django.core.exceptions import ValidationError
from django.db import models, transaction
from django.http import QueryDict
from django.utils import timezone
from hypothesis import HealthCheck, given
from hypothesis import strategies as st

from patients import services
from patients.clinic_time import clinic_today
from patients.forms import therapy as forms_therapy
from patients.forms.calls import FollowUpCallForm
from patients.forms.patients import DischargeForm, PatientForm
from patients.forms.placements import PlacementForm
from patients.forms.visits import RescheduleForm, VisitFindingsForm
from patients.models import FollowUpCall, Patient, TherapySession, Visit
from patients.records import bounds
from patients.views.patient_pages import PatientFilters
from patients.views.reports import ReportForm
from tests.factories import INDUCTION, PatientFactory, TherapyGroupFactory

pytestmark = pytest.mark.django_db

PROPERTY = hypothesis.settings(
    max_examples=int(os.environ.get("BOUNDS_PROPERTY_EXAMPLES", "20")),
    deadline=None,
    derandomize=True,
    database=None,
    suppress_health_check=[HealthCheck.function_scoped_fixture, HealthCheck.too_slow],
)
UTC = datetime.UTC

# Text as people paste it: anything printable or not, NUL and RTL marks included, and very long.
TEXT = st.one_of(
    st.text(max_size=60),
    st.text(alphabet=st.characters(codec="utf-8"), max_size=30),
    st.sampled_from(["\x00", "a\x00b", "\u202eevil\u202c", "\U0001f600" * 50, "x" * 10_000, " ", ""]),
)
NUMBERS = st.one_of(st.none(), st.integers(-(2**70), 2**70), st.integers(-5, 40))
# A day anywhere in the calendar, or a number of days from the clinic's today (turned into a day
# inside the test, where the clock stands still: tests/pinned_day.still_clock).
DAYS = st.one_of(st.dates(), st.integers(-800, 400))
MOMENTS = st.one_of(st.datetimes(timezones=st.just(UTC)), st.integers(-800 * 24, 400 * 24))


def choice_or_text(values: list[str]) -> st.SearchStrategy[str]:
    return st.one_of(st.sampled_from(values), TEXT)


def day_of(drawn: datetime.date | int, today: datetime.date) -> datetime.date:
    return drawn if isinstance(drawn, datetime.date) else today + datetime.timedelta(days=drawn)


def moment_of(drawn: datetime.datetime | int) -> datetime.datetime:
    if isinstance(drawn, datetime.datetime):
        return drawn
    return timezone.now().replace(minute=0, second=0, microsecond=0) + datetime.timedelta(hours=drawn)


def row_counts() -> dict[str, int]:
    """How many rows every table of the project holds."""
    return {model._meta.label: model._default_manager.count() for model in apps.get_models() if model._meta.managed}


def holds(call: Callable[[], Any]) -> Any:
    """Run ``call``: a valid record back, or a ValidationError with nothing written."""
    before = row_counts()
    try:
        # A savepoint, as a request's transaction would be: a refusal must leave nothing behind it.
        with transaction.atomic():
            result = call()
    except ValidationError:
        assert row_counts() == before, "a refused call wrote rows"
        return None
    for record in result if isinstance(result, list) else [result]:
        if isinstance(record, models.Model):
            record.refresh_from_db()
            record.full_clean()
    return result


@pytest.fixture
def world(still_clock, clinic, patient, implant, coordinator):
    """The records every example starts from, on the still clock: "today" and every moment drawn as
    an offset come from the suite's day, whatever the hour the suite runs."""
    today = clinic_today(clinic)
    placement = services.record_placement(
        patient=patient, product=implant, placed_on=today - datetime.timedelta(days=20), **INDUCTION
    )
    group = TherapyGroupFactory(clinic=clinic)
    services.set_group_members(group=group, patients=[patient])
    return {"today": today, "placement": placement, "group": group, "clinic": clinic, "patient": patient}


# The services.


@PROPERTY
@given(
    record_number=TEXT,
    first_name=TEXT,
    last_name=TEXT,
    born=DAYS,
    email=st.one_of(st.just(""), st.emails(), TEXT),
    email_consent=st.booleans(),
    treats=choice_or_text(Patient.Treats.values),
    note=TEXT,
)
def test_register_patient(world, record_number, first_name, last_name, born, email, email_consent, treats, note):
    patient = holds(
        lambda: services.register_patient(
            clinic=world["clinic"],
            record_number=record_number,
            first_name=first_name,
            last_name=last_name,
            date_of_birth=day_of(born, world["today"]),
            email=email,
            email_consent=email_consent,
            treats=treats,
            liver_condition_note=note,
        )
    )
    if patient:
        assert bounds.EARLIEST_BIRTH <= patient.date_of_birth <= world["today"]


@PROPERTY
@given(born=DAYS, phone=TEXT, contact=TEXT, consent=st.one_of(st.none(), st.booleans()))
def test_update_patient(world, born, phone, contact, consent):
    holds(
        lambda: services.update_patient(
            patient=world["patient"],
            date_of_birth=day_of(born, world["today"]),
            phone=phone,
            emergency_contact_name=contact,
            email_consent=consent,
        )
    )


@PROPERTY
@given(
    placed=DAYS,
    covers=st.one_of(st.none(), DAYS),
    reason=TEXT,
    dose=st.one_of(st.none(), st.decimals(allow_nan=True), st.integers(-(2**70), 2**70)),
    lot=TEXT,
    days_free=NUMBERS,
    urine=choice_or_text(["negative", "positive", "not_done"]),
    site=choice_or_text([""]),
)
def test_record_placement(world, placed, covers, reason, dose, lot, days_free, urine, site):
    patient = PatientFactory(clinic=world["clinic"])
    placement = holds(
        lambda: services.record_placement(
            patient=patient,
            product=world["placement"].product,
            placed_on=day_of(placed, world["today"]),
            covers_until=None if covers is None else day_of(covers, world["today"]),
            covers_until_override_reason=reason,
            dose_mg=Decimal(dose) if isinstance(dose, int) else dose,
            lot_number=lot,
            body_site=site,
            opioid_free_days=days_free,
            urine_screen=urine,
            naloxone_challenge="negative",
        )
    )
    if placement:
        assert bounds.first_day(world["clinic"]) <= placement.placed_on <= world["today"]
        assert placement.covers_until <= bounds.latest_ahead(placement.placed_on)
        assert placement.visits.count() <= 13


@PROPERTY
@given(removed=DAYS, reason=TEXT)
def test_record_removal(world, removed, reason):
    holds(
        lambda: services.record_removal(
            placement=world["placement"], removed_on=day_of(removed, world["today"]), reason=reason
        )
    )


@PROPERTY
@given(
    done=DAYS,
    alt=NUMBERS,
    phq9=NUMBERS,
    item9=NUMBERS,
    cravings=NUMBERS,
    site=choice_or_text(Visit.SiteCheck.values),
    notes=TEXT,
)
def test_complete_visit(world, done, alt, phq9, item9, cravings, site, notes):
    visit = world["placement"].visits.order_by("due_on").first()
    holds(
        lambda: services.complete_visit(
            visit=visit,
            completed_on=day_of(done, world["today"]),
            alt_u_per_l=alt,
            phq9_total=phq9,
            phq9_item9=item9,
            cravings=cravings,
            site_check=site,
            notes=notes,
        )
    )


@PROPERTY
@given(moment=MOMENTS, reason=TEXT)
def test_reschedule_visit(world, moment, reason):
    visit = world["placement"].visits.order_by("due_on").last()
    booked = holds(
        lambda: services.reschedule_visit(visit=visit, appointment_at=moment_of(moment), override_reason=reason)
    )
    if booked:
        assert bounds.clinic_day(booked.appointment_at, world["clinic"]) <= bounds.latest_ahead(world["today"])


@PROPERTY
@given(reason=choice_or_text(Visit.CancelReason.values))
def test_cancel_visit(world, reason):
    holds(lambda: services.cancel_visit(visit=world["placement"].visits.order_by("due_on").last(), reason=reason))


@PROPERTY
@given(held=DAYS, status=choice_or_text(TherapySession.Status.values), note=TEXT)
def test_log_therapy_session(world, held, status, note):
    session = holds(
        lambda: services.log_therapy_session(
            patient=world["patient"], held_on=day_of(held, world["today"]), status=status, note=note
        )
    )
    if session:
        assert bounds.first_day(world["clinic"]) <= session.held_on <= world["today"]


@PROPERTY
@given(held=DAYS, status=choice_or_text(TherapySession.Status.values))
def test_log_group_attendance(world, held, status):
    holds(
        lambda: services.log_group_attendance(
            group=world["group"], held_on=day_of(held, world["today"]), attendance={world["patient"]: status}
        )
    )


@PROPERTY
@given(name=TEXT, facilitator=TEXT, meets=TEXT, is_active=st.booleans())
def test_create_and_update_therapy_group(world, name, facilitator, meets, is_active):
    holds(
        lambda: services.create_therapy_group(clinic=world["clinic"], name=name, facilitator=facilitator, meets=meets)
    )
    holds(
        lambda: services.update_therapy_group(
            group=world["group"], name=name, facilitator=facilitator, meets=meets, is_active=is_active
        )
    )


@PROPERTY
@given(
    outcome=choice_or_text(FollowUpCall.Outcome.values),
    note=TEXT,
    again=st.one_of(st.none(), DAYS),
    called=st.one_of(st.none(), MOMENTS),
)
def test_log_follow_up_call(world, outcome, note, again, called):
    holds(
        lambda: services.log_follow_up_call(
            patient=world["patient"],
            outcome=outcome,
            note=note,
            try_again_on=None if again is None else day_of(again, world["today"]),
            called_at=None if called is None else moment_of(called),
        )
    )


@PROPERTY
@given(discharged=st.one_of(st.none(), DAYS), status=choice_or_text(["active", "paused", "lost_to_follow_up"]))
def test_discharge_and_readmit(world, discharged, status):
    patient = PatientFactory(clinic=world["clinic"])
    holds(
        lambda: services.discharge_patient(
            patient=patient, discharged_on=None if discharged is None else day_of(discharged, world["today"])
        )
    )
    holds(lambda: services.change_patient_status(patient=patient, status=status))


# The forms: whatever is typed, a form answers valid or not; a valid one goes to its service,
# which saves a valid record or refuses cleanly; the page can show the form again either way.

TYPED = st.one_of(
    TEXT,
    st.dates().map(datetime.date.isoformat),
    st.dates().map(lambda day: f"{day:%Y-%m}"),
    st.datetimes().map(lambda moment: moment.isoformat(timespec="minutes")),
    st.integers(-(2**70), 2**70).map(str),
)


def typed_for(form_class: Any, **form_kwargs: Any) -> st.SearchStrategy[dict[str, Any]]:
    names = list(form_class(**form_kwargs).fields)
    return st.fixed_dictionaries({}, optional={name: st.one_of(TYPED, st.lists(TYPED, max_size=3)) for name in names})


def submitted(form: Any, call: Callable[[], Any] | None = None) -> None:
    """Validate, hand a valid form to its service, and render it again as a refused page would."""
    if form.is_valid() and call is not None:
        holds(call)
    str(form)


def querydict(data: dict[str, Any]) -> QueryDict:
    query = QueryDict(mutable=True)
    for name, value in data.items():
        query.setlist(name, value if isinstance(value, list) else [value])
    return query


@PROPERTY
@given(data=st.data())
def test_the_record_forms(world, data):
    clinic, patient, today = world["clinic"], world["patient"], world["today"]
    clinics = type(clinic).objects.filter(pk=clinic.pk)
    visit = world["placement"].visits.order_by("due_on").last()

    typed = data.draw(typed_for(PatientForm, clinics=clinics))
    form = PatientForm(querydict(typed), clinics=clinics)
    submitted(form, lambda: services.register_patient(**form.cleaned_data))

    typed = data.draw(typed_for(PlacementForm, patient=patient, induction_reason="", early_until=None))
    form = PlacementForm(querydict(typed), patient=patient, induction_reason="", early_until=None)
    submitted(form, lambda: services.record_placement(patient=patient, **form.cleaned_data))

    typed = data.draw(typed_for(VisitFindingsForm, clinic=clinic))
    form = VisitFindingsForm(querydict(typed), instance=visit, clinic=clinic)
    submitted(form, lambda: services.complete_visit(visit=visit, **form.cleaned_data))

    typed = data.draw(typed_for(RescheduleForm, clinic=clinic))
    form = RescheduleForm(querydict(typed), instance=visit, clinic=clinic)
    submitted(
        form,
        lambda: services.reschedule_visit(
            visit=visit,
            appointment_at=form.cleaned_data["appointment_at"],
            override_reason=form.cleaned_data["appointment_override_reason"],
        ),
    )

    typed = data.draw(typed_for(FollowUpCallForm))
    form = FollowUpCallForm(querydict(typed))
    submitted(form, lambda: services.log_follow_up_call(patient=patient, **form.cleaned_data))

    typed = data.draw(typed_for(DischargeForm, today=today))
    submitted(DischargeForm(querydict(typed), today=today))


@PROPERTY
@given(data=st.data())
def test_the_therapy_forms_and_the_filters(world, data):
    clinic, patient, group = world["clinic"], world["patient"], world["group"]
    clinics = type(clinic).objects.filter(pk=clinic.pk)

    typed = data.draw(typed_for(forms_therapy.TherapySessionForm, clinic=clinic))
    form = forms_therapy.TherapySessionForm(querydict(typed), clinic=clinic)
    submitted(form, lambda: services.log_therapy_session(patient=patient, **form.cleaned_data))

    typed = data.draw(typed_for(forms_therapy.TherapyGroupCreateForm, clinics=clinics))
    form = forms_therapy.TherapyGroupCreateForm(querydict(typed), clinics=clinics)
    submitted(form, lambda: services.create_therapy_group(**form.cleaned_data))

    members = data.draw(st.lists(st.one_of(TYPED, st.just(str(patient.pk))), max_size=3))
    form = forms_therapy.TherapyGroupMembersForm(querydict({"members-members": members}), instance=group)
    submitted(form, lambda: services.set_group_members(group=group, patients=form.cleaned_data["members"]))

    roster = [patient]
    typed = data.draw(
        st.fixed_dictionaries(
            {}, optional={"held_on": TYPED, forms_therapy.GroupAttendanceForm.field_name(patient): TYPED}
        )
    )
    form = forms_therapy.GroupAttendanceForm(querydict(typed), roster=roster, held_on=world["today"])
    submitted(
        form,
        lambda: services.log_group_attendance(
            group=group, held_on=form.cleaned_data["held_on"], attendance=form.attendance()
        ),
    )

    typed = data.draw(typed_for(PatientFilters, counsellors=[]))
    filters = PatientFilters(querydict(typed), counsellors=[])
    list(filters.filter(Patient.objects.all()))

    typed = data.draw(typed_for(ReportForm, clinics=clinics))
    report = ReportForm(querydict(typed), clinics=clinics)
    if report.is_valid():
        first, last = report.months_for(clinic)
        assert first <= last
