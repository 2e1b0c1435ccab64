"""The admin for clinical records: patients, placements, visits and therapy sessions.

Each is written only by its service (through the forms in ``patients.admin.forms``), never deleted,
and its schedule fields are never edited by hand."""

from typing import Any
from urllib.parse import urlencode

from django.contrib import admin
from django.contrib.admin.utils import flatten_fieldsets, model_ngettext
from django.db.models import ForeignKey, Model, QuerySet
from django.forms import ModelChoiceField
from django.http import HttpRequest
from django.urls import reverse
from django.utils import timezone
from django.utils.html import format_html

from patients import formats, roles, services
from patients.admin import forms as admin_forms
from patients.admin.access import member_clinic_ids, scoped_choices
from patients.admin.service_admin import ReadOnlyInline, RecordHistoryAdmin, acting_user, run_for_each
from patients.clinic_time import clinic_today
from patients.models import Clinic, Patient, Placement, Product, TherapySession, Visit
from patients.records.selectors import coverage_state

RelatedOnly = admin.RelatedOnlyFieldListFilter
PATIENT_SEARCH = ("patient__record_number", "patient__last_name", "patient__first_name")


class PlacementInline(ReadOnlyInline):
    model = Placement
    fields = ("product", "placed_on", "covers_until", "removed_on")

    def get_queryset(self, request: HttpRequest) -> QuerySet[Any]:
        return super().get_queryset(request).select_related("product")


class VisitInline(ReadOnlyInline):
    model = Visit
    fields = ("kind", "due_on", "window_start", "window_end", "appointment_at", "status", "completed_on")
    ordering = ("due_on",)


@admin.register(Patient)
class PatientAdmin(RecordHistoryAdmin):
    form = admin_forms.PatientChangeForm
    add_form = admin_forms.PatientAddForm
    list_display = ("record_number", "last_name", "first_name", "clinic", "status", "liver_condition")
    list_display_links = ("record_number", "last_name")
    list_select_related = ("clinic",)
    list_filter = ("status", "treats", ("clinic", RelatedOnly), "liver_condition", "email_consent")
    search_fields = ("record_number", "last_name", "first_name")
    show_full_result_count = False
    view_on_site = False  # the patient's own URL is this admin page
    inlines = (PlacementInline, VisitInline)
    actions = ("discharge", "pause", "mark_lost_to_follow_up", "readmit")
    contact = ("email", "phone", "email_consent", "emergency_contact_name", "emergency_contact_phone")
    add_fieldsets = (
        (None, {"fields": ("clinic", "record_number", "first_name", "last_name", "date_of_birth", "treats")}),
        ("Care", {"fields": ("counsellor", "liver_condition", "liver_condition_note")}),
        ("Contact", {"fields": contact}),
    )
    fieldsets = (
        (None, {"fields": ("clinic", "record_number", "first_name", "last_name", "date_of_birth", "created_at")}),
        ("Care", {"fields": ("status", "discharged_on", "coverage", "records", "treats", "counsellor")}),
        ("Liver", {"fields": ("liver_condition", "liver_condition_note")}),
        ("Contact", {"fields": (*contact, "email_consent_at")}),
    )
    readonly_fields = ("clinic", "status", "discharged_on", "coverage", "records", "email_consent_at", "created_at")
    # Enough for a year of monthly visits; the rest are a click away on the visit list.
    inline_visit_count = 12

    def get_readonly_fields(self, request: HttpRequest, obj: Model | None = None) -> tuple[str, ...]:
        return () if obj is None else self.readonly_fields

    def get_changeform_initial_data(self, request: HttpRequest) -> dict[str, Any]:
        initial = super().get_changeform_initial_data(request)
        clinic_ids = member_clinic_ids(request)
        if len(clinic_ids) == 1 and not request.user.is_superuser:
            initial.setdefault("clinic", str(next(iter(clinic_ids))))
        return initial

    def get_formset_kwargs(self, request: HttpRequest, obj: Any, inline: Any, prefix: str) -> dict[str, Any]:
        kwargs = super().get_formset_kwargs(request, obj, inline, prefix)
        if isinstance(inline, VisitInline):
            latest = obj.visits.order_by("-due_on").values_list("pk", flat=True)[: self.inline_visit_count]
            kwargs["queryset"] = kwargs["queryset"].filter(pk__in=list(latest))
        return kwargs

    @admin.display(description="Coverage today")
    def coverage(self, patient: Patient) -> str:
        return coverage_state(patient, today=clinic_today(patient.clinic)).label

    @admin.display(description="Records")
    def records(self, patient: Patient) -> str:
        only_this_patient = urlencode({"patient__id__exact": patient.pk})
        return format_html(
            '<a href="{}?{}">All visits</a> · <a href="{}?{}">All placements</a> · '
            '<a href="{}?{}">Record a placement</a>',
            reverse("admin:patients_visit_changelist"),
            only_this_patient,
            reverse("admin:patients_placement_changelist"),
            only_this_patient,
            reverse("admin:patients_placement_add"),
            urlencode({"patient": patient.pk}),
        )

    @admin.action(description="Discharge selected patients (cancels their scheduled visits)")
    def discharge(self, request: HttpRequest, queryset: QuerySet[Patient]) -> None:
        run_for_each(
            self,
            request,
            queryset,
            lambda patient: services.discharge_patient(patient=patient, by=acting_user(request)),
            "Discharged",
        )

    def _change_status(self, request: HttpRequest, queryset: QuerySet[Patient], status: str) -> None:
        def change(patient: Patient) -> Patient:
            return services.change_patient_status(patient=patient, status=status, by=acting_user(request))

        run_for_each(self, request, queryset, change, f"Now {Patient.Status(status).label.lower()}")

    @admin.action(description="Pause selected patients")
    def pause(self, request: HttpRequest, queryset: QuerySet[Patient]) -> None:
        self._change_status(request, queryset, Patient.Status.PAUSED)

    @admin.action(description="Mark selected patients lost to follow-up")
    def mark_lost_to_follow_up(self, request: HttpRequest, queryset: QuerySet[Patient]) -> None:
        self._change_status(request, queryset, Patient.Status.LOST_TO_FOLLOW_UP)

    @admin.action(description="Readmit selected patients")
    def readmit(self, request: HttpRequest, queryset: QuerySet[Patient]) -> None:
        self._change_status(request, queryset, Patient.Status.ACTIVE)


@admin.register(Placement)
class PlacementAdmin(RecordHistoryAdmin):
    action = roles.Action.RECORD_PLACEMENTS
    form = admin_forms.PlacementRemovalForm
    add_form = admin_forms.PlacementAddForm
    list_display = ("patient", "product", "placed_on", "covers_until", "removed_on", "patient__clinic")
    list_select_related = ("patient__clinic", "product")
    list_filter = (
        ("patient__clinic", RelatedOnly),
        ("product", RelatedOnly),
        ("removed_on", admin.EmptyFieldListFilter),
    )
    search_fields = (*PATIENT_SEARCH, "lot_number")
    date_hierarchy = "placed_on"
    show_full_result_count = False
    autocomplete_fields = ("patient",)
    inlines = (VisitInline,)
    add_fieldsets = (
        (None, {"fields": ("patient", "product", "placed_on", "dose_mg", "lot_number", "body_site", "placed_by")}),
        (
            "Induction checklist",
            {
                "description": "Needed before a first placement, or one after a long lapse in coverage.",
                "fields": ("opioid_free_days", "urine_screen", "naloxone_challenge", "naloxone_waiver_reason"),
            },
        ),
        ("Coverage", {"fields": ("covers_until", "covers_until_override_reason", "early_renewal_reason", "notes")}),
    )
    fieldsets = [
        *add_fieldsets,
        ("Removal", {"fields": ("removed_on", "removal_reason", "coverage_ends_on", "created_at")}),
    ]

    def get_queryset(self, request: HttpRequest) -> QuerySet[Any]:
        return super().get_queryset(request).select_related("patient__clinic", "product")

    def get_readonly_fields(self, request: HttpRequest, obj: Model | None = None) -> tuple[str, ...]:
        if obj is None:
            return ()
        everything = flatten_fieldsets(self.get_fieldsets(request, obj))
        return tuple(name for name in everything if name not in ("removed_on", "removal_reason"))

    def has_change_permission(self, request: HttpRequest, obj: Any = None) -> bool:
        # Once the removal is recorded there is nothing left to record.
        return super().has_change_permission(request, obj) and not (obj and obj.removed_on)

    def formfield_for_foreignkey(
        self, db_field: ForeignKey, request: HttpRequest, **kwargs: Any
    ) -> ModelChoiceField | None:
        if db_field.name == "product":
            # Retired products stay on old placements but are not offered for new ones.
            kwargs["queryset"] = scoped_choices(Product, request).filter(is_active=True)
        return super().formfield_for_foreignkey(db_field, request, **kwargs)

    @admin.display(description="Coverage ends on")
    def coverage_ends_on(self, placement: Placement) -> Any:
        return placement.coverage_ends_on


@admin.register(Visit)
class VisitAdmin(RecordHistoryAdmin):
    action = roles.Action.BOOK_VISITS
    form = admin_forms.VisitChangeForm
    list_display = ("patient", "kind", "due_on", "window", "status", "appointment", "patient__clinic")
    list_select_related = ("patient__clinic",)
    list_filter = ("status", "kind", ("patient__clinic", RelatedOnly))
    search_fields = PATIENT_SEARCH
    date_hierarchy = "due_on"
    show_full_result_count = False
    actions = ("cancel_visits", "mark_overdue_visits_missed")
    schedule_fields = (
        "patient",
        "placement",
        "kind",
        "due_on",
        "window_start",
        "window_end",
        "status",
        "cancel_reason",
    )
    appointment_fields = ("appointment_at", "appointment_override_reason")
    fieldsets = (
        ("Schedule", {"fields": schedule_fields}),
        ("Appointment", {"fields": appointment_fields}),
        ("Outcome", {"fields": ("completed_on", "seen_by", *services.VISIT_FINDINGS)}),
    )

    def get_queryset(self, request: HttpRequest) -> QuerySet[Any]:
        return super().get_queryset(request).select_related("patient__clinic", "placement__product")

    def get_readonly_fields(self, request: HttpRequest, obj: Any = None) -> tuple[str, ...]:
        # Only a scheduled visit can be booked; a missed one can still be recorded as done.
        booked_by_service = () if obj and obj.status == Visit.Status.SCHEDULED else self.appointment_fields
        # A coordinator books; the findings and a booking outside the window are a clinician's.
        clinical = []
        if not self.may_do(request, obj, roles.Action.CLINICAL_OVERRIDE):
            clinical.append("appointment_override_reason")
        if not self.may_do(request, obj, roles.Action.RECORD_FINDINGS):
            clinical.extend(("completed_on", "seen_by", *services.VISIT_FINDINGS))
        return tuple(dict.fromkeys((*self.schedule_fields, *booked_by_service, *clinical)))

    def has_add_permission(self, request: HttpRequest) -> bool:
        return False  # visits are planned by record_placement

    def has_change_permission(self, request: HttpRequest, obj: Any = None) -> bool:
        final = obj is not None and obj.status in (Visit.Status.COMPLETED, Visit.Status.CANCELLED)
        return super().has_change_permission(request, obj) and not final

    @admin.display(description="Window")
    def window(self, visit: Visit) -> str:
        return f"{formats.day(visit.window_start)} to {formats.day(visit.window_end)}"

    @admin.display(description="Appointment (clinic time)", ordering="appointment_at")
    def appointment(self, visit: Visit) -> str | None:
        if visit.appointment_at is None:
            return None
        appointment_at = timezone.localtime(visit.appointment_at, visit.patient.clinic.zone)
        return f"{formats.day(appointment_at)} {appointment_at:%H:%M}"

    @admin.action(description="Cancel selected visits")
    def cancel_visits(self, request: HttpRequest, queryset: QuerySet[Visit]) -> None:
        run_for_each(
            self,
            request,
            queryset,
            lambda visit: services.cancel_visit(visit=visit, by=acting_user(request)),
            "Cancelled",
        )

    @admin.action(description="Mark overdue visits as missed (every overdue visit of these visits' clinics)")
    def mark_overdue_visits_missed(self, request: HttpRequest, queryset: QuerySet[Visit]) -> None:
        for clinic in Clinic.objects.filter(pk__in=queryset.values("patient__clinic")):
            if not roles.may(request.user, roles.Action.BOOK_VISITS, clinic):
                self.message_user(
                    request, f"{clinic}: {roles.deny_message(request.user, roles.Action.BOOK_VISITS, clinic)}"
                )
                continue
            count = services.mark_missed_visits(today=clinic_today(clinic), clinic=clinic, by=acting_user(request))
            visits = model_ngettext(Visit._meta, count)
            self.message_user(request, f"{clinic}: {count} overdue {visits} marked as missed.")


@admin.register(TherapySession)
class TherapySessionAdmin(RecordHistoryAdmin):
    action = roles.Action.LOG_ATTENDANCE
    add_form = admin_forms.TherapySessionAddForm
    list_display = ("patient", "kind", "group", "held_on", "status", "counsellor", "patient__clinic")
    list_select_related = ("patient__clinic", "group", "counsellor")
    list_filter = ("kind", "status", ("patient__clinic", RelatedOnly), ("group", RelatedOnly))
    search_fields = PATIENT_SEARCH
    date_hierarchy = "held_on"
    show_full_result_count = False
    autocomplete_fields = ("patient",)
    add_fieldsets = ((None, {"fields": ("patient", "held_on", "status", "counsellor", "note")}),)

    def has_change_permission(self, request: HttpRequest, obj: Model | None = None) -> bool:
        return False  # a logged session is a record; no service rewrites it
