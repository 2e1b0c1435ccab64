"""The home page: who is in danger first, then what is due, each row with its next action."""

from django.contrib.auth.decorators import login_required
from django.http import HttpRequest, HttpResponse
from django.shortcuts import render
from django.utils import timezone
from django.views.decorators.http import require_GET

from patients import roles
from patients.access import member_clinics
from patients.worklists.dashboard import dashboard as worklists_of


@login_required
@require_GET
def dashboard(request: HttpRequest) -> HttpResponse:
    now = timezone.now()
    clinics = member_clinics(request.user).order_by("name").annotate(viewer_role=roles.viewer_role(request.user, "pk"))
    for clinic in clinics:  # read once, with the user's role in each: rows offer only what it allows
        roles.remember(request.user, clinic.pk, clinic.viewer_role)
    found = worklists_of(clinics, now=now)
    context = {
        "clinics": clinics,
        "worklists": found.worklists,
        "urgent_count": sum(worklist.count for worklist in found.worklists if worklist.urgency == "urgent"),
        "waiting_reminders": found.waiting_reminders,
    }
    return render(request, "patients/dashboard.html", context)
