"""Therapy pages: individual sessions, groups and their members, and a group's attendance.

Like the record forms, each view finds its rows through ``patients.access``, binds a form, calls one
service, and redirects with a message; a refusal shows beside the field with what was typed kept.
"""

import datetime
import uuid

from django.contrib import messages
from django.contrib.auth.decorators import login_required
from django.core.exceptions import PermissionDenied, ValidationError
from django.db.models import Count, OuterRef, Q, Subquery
from django.http import HttpResponse
from django.shortcuts import redirect, render
from django.template.defaultfilters import pluralize
from django.views.decorators.http import require_GET, require_http_methods

from patients import formats, services
from patients.access import get_group_for, get_patient_for, member_clinics
from patients.audit import services as audit
from patients.clinic_time import clinic_today
from patients.forms.therapy import (
    GroupAttendanceForm,
    TherapyGroupCreateForm,
    TherapyGroupDetailsForm,
    TherapyGroupMembersForm,
    TherapySessionForm,
)
from patients.models import Patient, RecordAccess, TherapyGroup, TherapySession
from patients.views.record_forms import AuthenticatedRequest, posted


@login_required
@require_http_methods(["GET", "POST"])
def session_create(request: AuthenticatedRequest, patient_uuid: uuid.UUID) -> HttpResponse:
    patient = get_patient_for(request.user, patient_uuid)
    audit.record_access(request, what=RecordAccess.What.SESSION_FORM, patient=patient)
    form = TherapySessionForm(
        posted(request),
        clinic=patient.clinic,
        initial={"held_on": clinic_today(patient.clinic), "counsellor": request.user.pk},
    )
    if form.is_bound and form.is_valid():
        try:
            session = services.log_therapy_session(patient=patient, **form.cleaned_data, by=request.user)
        except ValidationError as error:
            form.add_service_error(error)
        else:
            messages.success(
                request, f"Session on {formats.day(session.held_on)} logged: {session.get_status_display().lower()}."
            )
            return redirect(patient)
    return render(request, "patients/therapy/session_form.html", {"patient": patient, "form": form})


@login_required
@require_GET
def group_list(request: AuthenticatedRequest) -> HttpResponse:
    last_session = TherapySession.objects.filter(group=OuterRef("pk")).order_by("-held_on").values("held_on")[:1]
    groups = list(
        TherapyGroup.objects.filter(clinic__in=member_clinics(request.user))
        .select_related("clinic")
        # Counted and dated in the one query, so the page costs the same at 5 groups or 500.
        .annotate(member_count=Count("members", distinct=True), last_held_on=Subquery(last_session))
        .order_by("-is_active", "clinic__name", "name")
    )
    context = {"groups": groups, "show_clinic": len({group.clinic_id for group in groups}) > 1}
    return render(request, "patients/therapy/group_list.html", context)


@login_required
@require_http_methods(["GET", "POST"])
def group_create(request: AuthenticatedRequest) -> HttpResponse:
    clinics = member_clinics(request.user).order_by("name")
    if not clinics.exists():
        raise PermissionDenied("You do not work for any clinic yet; ask an administrator to add you.")
    form = TherapyGroupCreateForm(posted(request), clinics=clinics)
    if form.is_bound and form.is_valid():
        try:
            group = services.create_therapy_group(**form.cleaned_data, by=request.user)
        except ValidationError as error:
            form.add_service_error(error)
        else:
            messages.success(request, f"{group.name} is set up. Now choose its members.")
            return redirect("patients:group_detail", group_uuid=group.uuid)
    return render(request, "patients/therapy/group_create.html", {"form": form})


@login_required
@require_http_methods(["GET", "POST"])
def group_detail(request: AuthenticatedRequest, group_uuid: uuid.UUID) -> HttpResponse:
    """The group's details and its members: two small forms, each saved by its own button."""
    group = get_group_for(request.user, group_uuid)
    which = request.POST.get("form")
    details = TherapyGroupDetailsForm(posted(request) if which == "details" else None, instance=group)
    members = TherapyGroupMembersForm(posted(request) if which == "members" else None, instance=group)
    try:
        if which == "details" and details.is_valid():
            group = services.update_therapy_group(group=group, **details.cleaned_data, by=request.user)
            messages.success(request, f"{group.name}'s details are saved.")
            return redirect("patients:group_detail", group_uuid=group.uuid)
        if which == "members" and members.is_valid():
            group = services.set_group_members(group=group, patients=members.cleaned_data["members"], by=request.user)
            count = group.members.count()
            messages.success(request, f"{group.name} now has {count} member{pluralize(count)}.")
            return redirect("patients:group_detail", group_uuid=group.uuid)
    except ValidationError as error:
        (details if which == "details" else members).add_service_error(error)
    recent = (
        group.sessions.values("held_on")
        .annotate(
            attended=Count("pk", filter=Q(status=TherapySession.Status.ATTENDED)),
            logged=Count("pk"),
        )
        .order_by("-held_on")[:10]
    )
    context = {"group": group, "details": details, "members": members, "recent": recent}
    return render(request, "patients/therapy/group_detail.html", context)


def _day(value: str | None, default: datetime.date) -> datetime.date:
    try:
        return datetime.date.fromisoformat(value or "")
    except ValueError:
        return default


@login_required
@require_http_methods(["GET", "POST"])
def group_attendance(request: AuthenticatedRequest, group_uuid: uuid.UUID) -> HttpResponse:
    """One form for the whole roster, prefilled with what was logged for that day, if anything."""
    group = get_group_for(request.user, group_uuid)
    source = request.POST if request.method == "POST" else request.GET
    held_on = _day(source.get("held_on"), default=clinic_today(group.clinic))
    # Whoever was logged that day stays on the roster, so a correction reaches someone who has left.
    roster = list(
        Patient.objects.filter(
            Q(therapy_groups=group) | Q(therapy_sessions__group=group, therapy_sessions__held_on=held_on)
        )
        .distinct()
        .order_by("last_name", "first_name")
    )
    logged = dict(group.sessions.filter(held_on=held_on).values_list("patient_id", "status"))
    form = GroupAttendanceForm(posted(request), roster=roster, statuses=logged, held_on=held_on)
    if form.is_bound and form.is_valid():
        try:
            sessions = services.log_group_attendance(
                group=group, held_on=form.cleaned_data["held_on"], attendance=form.attendance(), by=request.user
            )
        except ValidationError as error:
            form.add_service_error(error)
        else:
            day = form.cleaned_data["held_on"]
            messages.success(
                request,
                f"Attendance on {formats.day(day)} is saved for {len(sessions)} patient{pluralize(len(sessions))}.",
            )
            return redirect("patients:group_detail", group_uuid=group.uuid)
    context = {"group": group, "form": form, "held_on": held_on, "already_logged": bool(logged)}
    return render(request, "patients/therapy/group_attendance.html", context)
