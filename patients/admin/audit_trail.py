"""The audit trail in the admin: change history pages, and the read log, both look-only.

History pages (``…/<id>/history/`` and ``…/<id>/history/<version>/``) answer exactly as the record's
own page does for a record of another clinic, or one that does not exist: 404, giving nothing away.
Within the user's clinics they are for clinicians and managers (``patients.access.history_clinics``),
like the History page of the coordinators' site. Nothing here writes a record or reverts one, and
opening a history page is logged like every other read of a patient's records.
"""

from typing import Any

from django.contrib import admin
from django.contrib.admin.utils import unquote
from django.core.exceptions import PermissionDenied
from django.db.models import Model, QuerySet
from django.http import Http404, HttpRequest, HttpResponse
from django.utils.text import capfirst
from simple_history.admin import SimpleHistoryAdmin

from patients.admin.access import clinic_of, history_clinic_ids
from patients.audit import services as audit
from patients.models import Patient, RecordAccess
from patients.records.bounds import is_row_id


def patient_of(obj: Model) -> Patient | None:
    """The patient whose records ``obj`` belongs to, if any (a product or a clinic has none)."""
    if isinstance(obj, Patient):
        return obj
    patient = getattr(obj, "patient", None)
    return patient if isinstance(patient, Patient) else None


def record_admin_access(request: HttpRequest, obj: Model, *, what: str) -> None:
    detail = str(capfirst(obj._meta.verbose_name))
    audit.record_access(request, what=what, patient=patient_of(obj), clinic=clinic_of(obj), detail=detail)


class ScopedHistoryAdmin(SimpleHistoryAdmin):
    """Change history on view, never reverted: a revert would write without the services."""

    def _history_object(self, request: HttpRequest, object_id: str) -> Model:
        obj = self.get_object(request, unquote(object_id))  # scoped by the admin's get_queryset
        if obj is None:
            raise Http404("No such record.")
        if not request.user.is_superuser and clinic_of(obj).pk not in history_clinic_ids(request):
            raise PermissionDenied
        return obj

    def history_view(
        self, request: HttpRequest, object_id: str, extra_context: dict[str, Any] | None = None
    ) -> HttpResponse:
        obj = self._history_object(request, object_id)
        response = super().history_view(request, object_id, extra_context)
        record_admin_access(request, obj, what=RecordAccess.What.ADMIN_HISTORY)
        return response

    def history_form_view(
        self, request: HttpRequest, object_id: str, version_id: str, extra_context: dict[str, Any] | None = None
    ) -> HttpResponse:
        if request.method == "POST":
            raise PermissionDenied
        obj = self._history_object(request, object_id)
        if not is_row_id(version_id):
            raise Http404("No such version.")
        response = super().history_form_view(request, object_id, version_id, extra_context)
        record_admin_access(request, obj, what=RecordAccess.What.ADMIN_HISTORY)
        return response

    def revert_disabled(self, request: HttpRequest, obj: Model | None = None) -> bool:
        return True


@admin.register(RecordAccess)
class RecordAccessAdmin(admin.ModelAdmin):
    """Who opened what: to read, for clinicians and managers of the clinic; nobody adds, changes or
    deletes a row (``prune_audit`` removes them once past keeping)."""

    list_display = ("at", "username", "what", "patient", "clinic", "address")
    list_select_related = ("patient", "clinic")
    list_filter = ("what", ("clinic", admin.RelatedOnlyFieldListFilter))
    search_fields = ("username", "patient__record_number")
    date_hierarchy = "at"
    show_full_result_count = False

    def get_queryset(self, request: HttpRequest) -> QuerySet[Any]:
        rows = super().get_queryset(request)
        if request.user.is_superuser:
            return rows
        return rows.filter(clinic__in=history_clinic_ids(request))

    def has_module_permission(self, request: HttpRequest) -> bool:
        return request.user.is_superuser or bool(history_clinic_ids(request))

    def has_view_permission(self, request: HttpRequest, obj: Any = None) -> bool:
        if request.user.is_superuser:
            return True
        clinic_ids = history_clinic_ids(request)
        return bool(clinic_ids) and (obj is None or obj.clinic_id in clinic_ids)

    def has_add_permission(self, request: HttpRequest) -> bool:
        return False

    def has_change_permission(self, request: HttpRequest, obj: Any = None) -> bool:
        return False

    def has_delete_permission(self, request: HttpRequest, obj: Any = None) -> bool:
        return False
