"""Files brought in from a clinic's spreadsheets: to read, for its managers (the import page brings
them in; nobody adds, changes or deletes one here)."""

from typing import Any

from django.contrib import admin
from django.db.models import Model
from django.http import HttpRequest
from django.urls import reverse
from django.utils.html import format_html

from patients import roles
from patients.admin.access import ClinicScopedAdmin
from patients.models import ImportRun


@admin.register(ImportRun)
class ImportRunAdmin(ClinicScopedAdmin):
    # What each row became names patients: the import's own role reads it, as on the import page.
    action = roles.Action.IMPORT_RECORDS
    list_display = ("started_at", "filename", "kind", "status", "rows", "started_by", "clinic", "finished_at")
    list_select_related = ("clinic", "started_by")
    list_filter = ("status", "kind", ("clinic", admin.RelatedOnlyFieldListFilter))
    search_fields = ("filename",)
    date_hierarchy = "started_at"
    fields = readonly_fields = (
        "clinic",
        "kind",
        "filename",
        "date_order",
        "started_by",
        "started_at",
        "status",
        "rows",
        "summary",
        "finished_at",
        "rows_page",
    )

    @admin.display(description="What each row became")
    def rows_page(self, run: ImportRun) -> str:
        return format_html(
            '<a href="{}">The import page of {}</a>',
            reverse("patients:import_detail", kwargs={"run_uuid": run.uuid}),
            run.filename,
        )

    def has_module_permission(self, request: HttpRequest) -> bool:
        return self.may_do(request)

    def has_view_permission(self, request: HttpRequest, obj: Model | None = None) -> bool:
        return self.may_do(request, obj)

    def has_add_permission(self, request: HttpRequest) -> bool:
        return False

    def has_change_permission(self, request: HttpRequest, obj: Any = None) -> bool:
        return False
