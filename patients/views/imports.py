"""The import page: a manager uploads a clinic's spreadsheet, sees what each row would become,
confirms, and follows the import to its end; with the blank templates and the exports in the same
columns.

The file is read here only to refuse what cannot be read at all; the rows are checked and imported
by the worker (``patients.tasks.check_waiting_imports``, ``import_confirmed_files``), through
``patients.imports.run``, and the page follows the run's status.
"""

import uuid

from django.conf import settings
from django.contrib import messages
from django.contrib.auth.decorators import login_required
from django.core.exceptions import PermissionDenied
from django.db import transaction
from django.db.models import Count, Q, QuerySet
from django.http import Http404, HttpResponse, StreamingHttpResponse
from django.shortcuts import get_object_or_404, redirect, render
from django.utils import timezone
from django.views.decorators.http import require_GET, require_http_methods, require_POST
from django_htmx.http import HttpResponseClientRefresh

from patients import roles, tasks
from patients.audit import services as audit
from patients.forms.imports import ImportForm
from patients.imports import columns, export
from patients.imports.files import FileRefused, read_table
from patients.imports.progress import progress_of
from patients.imports.values import DATE_ORDERS
from patients.models import Clinic, ImportRun, RecordAccess
from patients.views.record_forms import AuthenticatedRequest

# Rows of a preview shown on the page: the refused ones first, then the others in file order.
ROWS_SHOWN = 500
XLSX = "application/vnd.openxmlformats-officedocument.spreadsheetml.sheet"
EXTENSIONS = ("csv", "xlsx")


def _import_clinics(request: AuthenticatedRequest) -> QuerySet[Clinic]:
    clinics = Clinic.objects.filter(pk__in=roles.clinics_where(request.user, roles.Action.IMPORT_RECORDS))
    return clinics.order_by("name")


def _run_for(request: AuthenticatedRequest, run_uuid: uuid.UUID) -> ImportRun:
    """A run of a clinic the user may import for; any other is a 404."""
    runs = ImportRun.objects.filter(clinic__in=_import_clinics(request)).select_related("clinic", "started_by")
    return get_object_or_404(runs, uuid=run_uuid)


@login_required
@require_http_methods(["GET", "POST"])
def import_start(request: AuthenticatedRequest) -> HttpResponse:
    clinics = _import_clinics(request)
    if not clinics.exists():
        raise PermissionDenied("Only a clinic's managers may bring records in.")
    form = ImportForm(request.POST or None, request.FILES or None, clinics=clinics)
    if form.is_bound and form.is_valid():
        upload = form.cleaned_data["file"]
        data = upload.read()
        try:
            table = read_table(data, filename=upload.name)
            columns.match_columns(table.headers, form.cleaned_data["kind"])
        except FileRefused as refused:
            form.add_error("file", refused)
        else:
            run = ImportRun.objects.create(
                clinic=form.cleaned_data["clinic"],
                kind=form.cleaned_data["kind"],
                filename=upload.name[:255],
                date_order=form.cleaned_data["date_order"],
                started_by=request.user,
                rows=len(table.rows),
                content=data,
            )
            transaction.on_commit(tasks.check_waiting_imports.delay)
            return redirect("patients:import_detail", run_uuid=run.uuid)
    recent = ImportRun.objects.filter(clinic__in=clinics).select_related("clinic", "started_by")[:10]
    return render(
        request,
        "patients/imports/start.html",
        {"form": form, "recent": recent, "kinds": [(kind, columns.columns_of(kind)) for kind in columns.KINDS]},
    )


@login_required
@require_GET
def import_detail(request: AuthenticatedRequest, run_uuid: uuid.UUID) -> HttpResponse:
    """The run as it stands: being checked or imported (with how far it has got), the preview to
    confirm, or what was done."""
    run = _run_for(request, run_uuid)
    under_way = run.status in (ImportRun.Status.CHECKING, ImportRun.Status.IMPORTING)
    context = {
        "run": run,
        "under_way": under_way,
        "progress": progress_of(run) if under_way else None,
        "date_order_label": DATE_ORDERS.get(run.date_order, run.date_order),
        "confirm_days": settings.IMPORT_CONFIRM_DAYS,
    }
    if request.htmx:  # type: ignore[attr-defined]
        if under_way:
            return render(request, "patients/imports/_progress.html", context)
        # The run has moved on: the whole page, with the preview or the outcome.
        return HttpResponseClientRefresh()
    if not under_way:
        audit.record_access(
            request, what=RecordAccess.What.IMPORT_PREVIEW, clinic=run.clinic, detail=run.filename[:200]
        )
        counted = run.results.aggregate(rows=Count("pk"), refused=Count("pk", filter=Q(refused=True)))
        context |= {
            "results": run.results.order_by("-refused", "number")[:ROWS_SHOWN],
            "more": max(counted["rows"] - ROWS_SHOWN, 0),
            "refused": counted["refused"],
        }
    return render(request, "patients/imports/detail.html", context)


@login_required
@require_POST
def import_confirm(request: AuthenticatedRequest, run_uuid: uuid.UUID) -> HttpResponse:
    run = _run_for(request, run_uuid)
    # Only a checked run moves on, once: a second click finds it importing already.
    moved = ImportRun.objects.filter(pk=run.pk, status=ImportRun.Status.PREVIEWED).update(
        status=ImportRun.Status.IMPORTING, started_at=timezone.now()
    )
    if moved:
        transaction.on_commit(tasks.import_confirmed_files.delay)
    else:
        messages.info(request, "This file is not waiting to be confirmed.")
    return redirect("patients:import_detail", run_uuid=run.uuid)


@login_required
@require_GET
def import_template(request: AuthenticatedRequest, kind: str, extension: str) -> HttpResponse:
    """A blank file with every column of ``kind``; the page lists which are required and what each takes."""
    if kind not in columns.KINDS or extension not in EXTENSIONS:
        raise Http404("No such template.")
    if extension == "csv":
        response = HttpResponse(columns.template_csv(kind), content_type="text/csv; charset=utf-8")
    else:
        response = HttpResponse(columns.template_xlsx(kind), content_type=XLSX)
    response["Content-Disposition"] = f'attachment; filename="{kind}-template.{extension}"'
    return response


@login_required
@require_GET
def import_export(request: AuthenticatedRequest, kind: str, extension: str) -> HttpResponse | StreamingHttpResponse:
    """A clinic's records of ``kind`` in the import's columns: what it brings in, it can take out."""
    if kind not in columns.KINDS or extension not in EXTENSIONS:
        raise Http404("No such export.")
    clinics = _import_clinics(request)
    clinic = get_object_or_404(clinics, uuid=request.GET.get("clinic")) if "clinic" in request.GET else clinics.first()
    if clinic is None:
        raise PermissionDenied("Only a clinic's managers may take its records out.")
    audit.record_access(request, what=RecordAccess.What.EXPORT_RECORDS, clinic=clinic, detail=kind)
    filename = f"{kind}-{timezone.localdate():%Y-%m-%d}.{extension}"
    response: HttpResponse | StreamingHttpResponse
    if extension == "csv":
        response = StreamingHttpResponse(export.export_csv(kind, clinic), content_type="text/csv; charset=utf-8")
    else:
        response = HttpResponse(export.export_xlsx(kind, clinic), content_type=XLSX)
    response["Content-Disposition"] = f'attachment; filename="{filename}"'
    return response
