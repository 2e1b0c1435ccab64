"""A patient's History page: who changed their records and who opened them.

Clinicians and managers of the patient's clinic (and superusers) see it; a coordinator gets a 403,
and another clinic's patient is a 404 as everywhere. Opening it is itself logged.
"""

import uuid

from django.contrib.auth.decorators import login_required
from django.core.exceptions import PermissionDenied
from django.core.paginator import Paginator
from django.http import HttpRequest, HttpResponse
from django.shortcuts import render
from django.views.decorators.http import require_safe

from patients.access import can_see_history, get_patient_for
from patients.audit import queries as audit_reads
from patients.audit import services as audit
from patients.models import RecordAccess

PER_PAGE = 50


@login_required
@require_safe
def patient_history(request: HttpRequest, patient_uuid: uuid.UUID) -> HttpResponse:
    patient = get_patient_for(request.user, patient_uuid)
    if not can_see_history(request.user, patient.clinic):
        raise PermissionDenied("Only clinicians and managers of the patient's clinic see its history.")
    audit.record_access(request, what=RecordAccess.What.PATIENT_HISTORY, patient=patient)
    changes = Paginator(audit_reads.patient_changes(patient), PER_PAGE).get_page(request.GET.get("changes"))
    reads = Paginator(patient.record_accesses.order_by("-at", "-pk"), PER_PAGE).get_page(request.GET.get("reads"))
    context = {"patient": patient, "changes": changes, "reads": reads, "zone": patient.clinic.time_zone}
    return render(request, "patients/patient_history.html", context)
