"""Template context every staff page shares."""

import datetime
from typing import Any

from django.conf import settings
from django.db.models import Q
from django.http import HttpRequest
from django.utils import timezone

from patients.access import member_clinics
from patients.models import PipelineHeartbeat


def pipeline_health(request: HttpRequest) -> dict[str, Any]:
    """Whether the reminder dispatcher has gone quiet: a silent pipeline is a safety failure.

    Only signed-in staff see it; the patients' open pages neither need nor show it.
    """
    user = getattr(request, "user", None)
    if user is None or not user.is_authenticated or not user.is_staff:
        return {}
    # One query: the dispatcher's heartbeat, and the rows of the user's own clinics where its latest
    # run met an error (their reminders are stuck while the others' go out).
    beats = list(
        PipelineHeartbeat.objects.filter(
            Q(name=PipelineHeartbeat.DISPATCHER) | Q(clinic__in=member_clinics(user), failed_at__isnull=False)
        ).select_related("clinic")
    )
    last_run_at = next((beat.last_run_at for beat in beats if beat.name == PipelineHeartbeat.DISPATCHER), None)
    failing = [beat for beat in beats if beat.clinic_id is not None and beat.is_failing]
    quiet_for = datetime.timedelta(minutes=settings.DISPATCHER_SILENT_AFTER_MINUTES)
    return {
        "reminders_silent": last_run_at is None or timezone.now() - last_run_at > quiet_for,
        "reminders_last_run_at": last_run_at,
        "reminders_failing": failing,
    }
