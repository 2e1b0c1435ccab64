"""Record forms: new and edited patients, placements (with the plan they will create), visit
findings, bookings and follow-up calls.

Each view finds its rows through ``patients.access`` (another clinic's row is a 404, as if it did
not exist), logs that the user opened the patient's records (``patients.audit.services.record_access``),
binds a form and calls one service. Success redirects to the patient's page with a
message; a refusal renders the page again with the service's words beside the fields, what was
typed still in them, and nothing saved.
"""

import datetime
import uuid

from django.contrib import messages
from django.contrib.auth.decorators import login_required
from django.contrib.auth.models import User
from django.core.exceptions import PermissionDenied, ValidationError
from django.db.models import QuerySet
from django.http import Http404, HttpRequest, HttpResponse, HttpResponseBadRequest
from django.http.request import QueryDict
from django.shortcuts import redirect, render
from django.utils import timezone
from django.views.decorators.http import require_http_methods

from patients import formats, roles, services
from patients.access import get_patient_for, get_visit_for, member_clinics
from patients.audit import services as audit
from patients.clinic_time import clinic_today
from patients.forms.calls import FollowUpCallForm
from patients.forms.patients import DischargeForm, PatientEditForm, PatientForm
from patients.forms.placements import PlacementForm
from patients.forms.visits import RescheduleForm, VisitFindingsForm
from patients.models import Clinic, Patient, RecordAccess, Visit
from patients.records import schedule
from patients.records.plan import plan_placement
from patients.records.selectors import coverage_span, coverage_state, latest_placement, schedule_rules


class AuthenticatedRequest(HttpRequest):
    """What ``login_required`` guarantees: the request comes from a signed-in member of staff."""

    user: User


def posted(request: HttpRequest) -> QueryDict | None:
    """The data to bind a form to: only a POST binds, so a GET shows the form fresh."""
    return request.POST if request.method == "POST" else None


# Patients


@login_required
@require_http_methods(["GET", "POST"])
def patient_create(request: AuthenticatedRequest) -> HttpResponse:
    clinics = member_clinics(request.user).order_by("name")
    if not clinics.exists():
        raise PermissionDenied("You do not work for any clinic yet; ask an administrator to add you.")
    form = PatientForm(posted(request), clinics=clinics)
    if form.is_bound and form.is_valid():
        try:
            patient = services.register_patient(**form.cleaned_data, by=request.user)
        except ValidationError as error:
            form.add_service_error(error)
        else:
            messages.success(request, f"{patient.full_name} is registered.")
            return redirect(patient)
    return render(request, "patients/forms/patient_create.html", {"form": form})


# The status moves the edit page offers as buttons, in the order shown; discharge has its own form.
STATUS_BUTTONS = {
    Patient.Status.ACTIVE: "Readmit",
    Patient.Status.PAUSED: "Pause",
    Patient.Status.LOST_TO_FOLLOW_UP: "Lost to follow-up",
}


@login_required
@require_http_methods(["GET", "POST"])
def patient_edit(request: AuthenticatedRequest, patient_uuid: uuid.UUID) -> HttpResponse:
    patient = get_patient_for(request.user, patient_uuid)
    audit.record_access(request, what=RecordAccess.What.PATIENT_EDIT_FORM, patient=patient)
    if "status" in request.POST or "discharge" in request.POST:
        return _change_status(request, patient)
    form = PatientEditForm(posted(request), instance=patient, clinics=_own_clinic(patient))
    if form.is_bound and form.is_valid():
        try:
            patient = services.update_patient(patient=patient, **form.cleaned_data, by=request.user)
        except ValidationError as error:
            form.add_service_error(error)
        else:
            messages.success(request, f"{patient.full_name}'s details are saved.")
            return redirect(patient)
    return _edit_page(request, patient, form=form)


def _change_status(request: AuthenticatedRequest, patient: Patient) -> HttpResponse:
    """Pause, lost to follow-up and readmit are one service; discharge, which cancels visits, another."""
    discharge_form = DischargeForm(posted(request) if "discharge" in request.POST else None, today=_today(patient))
    status_errors: list[str] = []
    try:
        if "discharge" in request.POST:
            if not discharge_form.is_valid():
                return _edit_page(request, patient, discharge_form=discharge_form)
            services.discharge_patient(
                patient=patient, discharged_on=discharge_form.cleaned_data["discharged_on"], by=request.user
            )
            messages.success(request, f"{patient.full_name} is discharged; their open visits are cancelled.")
        else:
            status = request.POST["status"]
            if status not in STATUS_BUTTONS:
                return HttpResponseBadRequest("Unknown status.")
            services.change_patient_status(patient=patient, status=status, by=request.user)
            messages.success(request, f"{patient.full_name} is now {Patient.Status(status).label.lower()}.")
    except ValidationError as error:
        if hasattr(error, "error_dict") and "discharged_on" in error.error_dict:
            discharge_form.add_service_error(error)
        else:
            status_errors = error.messages
        return _edit_page(request, patient, discharge_form=discharge_form, status_errors=status_errors)
    return redirect(patient)


def _edit_page(
    request: AuthenticatedRequest,
    patient: Patient,
    *,
    form: PatientEditForm | None = None,
    discharge_form: DischargeForm | None = None,
    status_errors: list[str] | None = None,
) -> HttpResponse:
    moves = services.PATIENT_TRANSITIONS[patient.status]
    context = {
        "patient": patient,
        "form": form or PatientEditForm(instance=patient, clinics=_own_clinic(patient)),
        "discharge_form": discharge_form or DischargeForm(today=_today(patient)),
        "status_buttons": [(status, label) for status, label in STATUS_BUTTONS.items() if status in moves],
        "can_discharge": Patient.Status.DISCHARGED in moves,
        "status_errors": status_errors or [],
    }
    return render(request, "patients/forms/patient_edit.html", context)


def _today(patient: Patient) -> datetime.date:
    return clinic_today(patient.clinic)


def _own_clinic(patient: Patient) -> QuerySet[Clinic]:
    """The patient's clinic, whose staff may counsel them."""
    return Clinic.objects.filter(pk=patient.clinic_id)


# Placements


def _induction_reason(patient: Patient, state: schedule.CoverageState) -> str:
    if state is schedule.CoverageState.NONE:
        return "This is the patient's first placement."
    if state is schedule.CoverageState.REINDUCTION_REQUIRED:
        lapse = schedule_rules().reinduction_after_lapse_days
        return f"Coverage lapsed more than {lapse} days ago, so this placement is a re-induction."
    return ""


@login_required
@require_http_methods(["GET", "POST"])
def placement_create(request: AuthenticatedRequest, patient_uuid: uuid.UUID) -> HttpResponse:
    patient = get_patient_for(request.user, patient_uuid)
    roles.require(request.user, roles.Action.RECORD_PLACEMENTS, patient.clinic)
    audit.record_access(request, what=RecordAccess.What.PLACEMENT_FORM, patient=patient)
    today = _today(patient)
    state = coverage_state(patient, today=today)
    previous = latest_placement(patient)
    renewal_opens_on = coverage_span(previous).renewal_opens_on if previous else None
    form = PlacementForm(
        posted(request),
        patient=patient,
        induction_reason=_induction_reason(patient, state),
        early_until=renewal_opens_on if state is schedule.CoverageState.COVERED else None,
        initial={"placed_on": today, "placed_by": request.user.pk},
    )
    plan = None
    previewed = request.POST.get("action") == "preview"
    if form.is_bound and form.is_valid():
        data = form.cleaned_data
        if previewed:
            try:
                plan = plan_placement(
                    patient=patient,
                    product=data["product"],
                    placed_on=data["placed_on"],
                    covers_until=data["covers_until"],
                    now=timezone.now(),
                )
            except ValidationError as error:
                form.add_service_error(error)
        else:
            try:
                placement = services.record_placement(patient=patient, **data, by=request.user)
            except ValidationError as error:
                form.add_service_error(error)
            else:
                messages.success(
                    request,
                    f"Placement recorded: {patient.full_name} is covered until {formats.day(placement.covers_until)}. "
                    "Print a new wallet card.",
                )
                return redirect(patient)
    context = {
        "patient": patient,
        "form": form,
        "state": state,
        "previous": previous,
        "plan": plan,
        "clinic": patient.clinic,
    }
    return render(request, "patients/forms/placement_form.html", context)


# Visits


@login_required
@require_http_methods(["GET", "POST"])
def visit_findings(request: AuthenticatedRequest, visit_uuid: uuid.UUID) -> HttpResponse:
    visit = get_visit_for(request.user, visit_uuid)
    patient = visit.patient
    roles.require(request.user, roles.Action.RECORD_FINDINGS, patient.clinic)
    audit.record_access(request, what=RecordAccess.What.VISIT_FINDINGS_FORM, patient=patient, detail=str(visit))
    initial = {} if visit.completed_on else {"completed_on": _today(patient), "seen_by": request.user.pk}
    form = VisitFindingsForm(posted(request), instance=visit, initial=initial, clinic=patient.clinic)
    if form.is_bound and form.is_valid():
        try:
            services.complete_visit(visit=visit, **form.cleaned_data, by=request.user)
        except ValidationError as error:
            form.add_service_error(error)
        else:
            messages.success(request, f"The {visit.get_kind_display().lower()} visit is recorded as done.")
            return redirect(patient)
    return render(request, "patients/forms/visit_findings.html", {"visit": visit, "patient": patient, "form": form})


@login_required
@require_http_methods(["GET", "POST"])
def visit_reschedule(request: AuthenticatedRequest, visit_uuid: uuid.UUID) -> HttpResponse:
    visit = get_visit_for(request.user, visit_uuid)
    patient = visit.patient
    roles.require(request.user, roles.Action.BOOK_VISITS, patient.clinic)
    may_override = roles.may(request.user, roles.Action.CLINICAL_OVERRIDE, patient.clinic)
    audit.record_access(request, what=RecordAccess.What.VISIT_BOOKING_FORM, patient=patient, detail=str(visit))
    form = RescheduleForm(posted(request), instance=visit, clinic=patient.clinic, may_override=may_override)
    if form.is_bound and form.is_valid():
        try:
            visit = services.reschedule_visit(
                visit=visit,
                appointment_at=form.cleaned_data["appointment_at"],
                override_reason=form.cleaned_data.get("appointment_override_reason", ""),
                by=request.user,
            )
        except ValidationError as error:
            form.add_service_error(error)
        else:
            booked = timezone.localtime(visit.appointment_at, patient.clinic.zone)
            messages.success(request, f"Booked for {booked:%a} {formats.day(booked)} at {booked:%H:%M}.")
            return redirect(patient)
    context = {"visit": visit, "patient": patient, "form": form, "clinic": patient.clinic}
    return render(request, "patients/forms/visit_reschedule.html", context)


# Follow-up calls


def _visit_asked_about(request: HttpRequest, patient: Patient) -> Visit | None:
    """The visit named by ``?visit=``, which must be this patient's; anything else is a 404."""
    named = request.GET.get("visit")
    if not named:
        return None
    try:
        visit = get_visit_for(request.user, uuid.UUID(named))
    except ValueError as error:
        raise Http404("No such visit.") from error
    if visit.patient_id != patient.pk:
        raise Http404("No such visit.")
    return visit


@login_required
@require_http_methods(["GET", "POST"])
def follow_up_call_create(request: AuthenticatedRequest, patient_uuid: uuid.UUID) -> HttpResponse:
    patient = get_patient_for(request.user, patient_uuid)
    visit = _visit_asked_about(request, patient)
    audit.record_access(request, what=RecordAccess.What.FOLLOW_UP_CALL_FORM, patient=patient)
    form = FollowUpCallForm(posted(request))
    if form.is_bound and form.is_valid():
        try:
            services.log_follow_up_call(
                patient=patient, visit=visit, called_by=request.user, **form.cleaned_data, by=request.user
            )
        except ValidationError as error:
            form.add_service_error(error)
        else:
            messages.success(request, f"The call to {patient.full_name} is logged.")
            return redirect(patient)
    context = {
        "patient": patient,
        "visit": visit,
        "form": form,
        "recent_calls": patient.follow_up_calls.select_related("called_by", "visit")[:5],
    }
    return render(request, "patients/forms/follow_up_call_form.html", context)
