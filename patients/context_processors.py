"""Template context every staff page shares."""

import datetime
from typing import Any

from django.conf import settings
from django.http import HttpRequest
from django.utils import timezone

from patients.access import member_clinics
from patients.models import ClinicDispatch, PipelineHeartbeat


def pipeline_health(request: HttpRequest) -> dict[str, Any]:
    """Whether the reminder dispatcher has gone quiet: a silent pipeline is a safety failure.

    Only signed-in staff see it; the patients' open pages neither need nor show it.
    """
    user = getattr(request, "user", None)
    if user is None or not user.is_authenticated or not user.is_staff:
        return {}
    last_run_at = (
        PipelineHeartbeat.objects.filter(name=PipelineHeartbeat.DISPATCHER)
        .values_list("last_run_at", flat=True)
        .first()
    )
    quiet_for = datetime.timedelta(minutes=settings.DISPATCHER_SILENT_AFTER_MINUTES)
    # A clinic whose latest dispatch met an error, among the user's own: its reminders are stuck
    # while the others' go out, and its coordinators need to know why.
    failing = [
        dispatch
        for dispatch in ClinicDispatch.objects.filter(
            clinic__in=member_clinics(user), failed_at__isnull=False
        ).select_related("clinic")
        if dispatch.is_failing
    ]
    return {
        "reminders_silent": last_run_at is None or timezone.now() - last_run_at > quiet_for,
        "reminders_last_run_at": last_run_at,
        "reminders_failing": failing,
    }
