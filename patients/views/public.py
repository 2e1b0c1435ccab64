"""The two pages a patient opens from an email, without signing in.

A GET never changes anything: mail scanners and link previews open every link in a message, so
confirming and unsubscribing happen only on POST. The unsubscribe POST is also the RFC 8058
one-click request a mail provider sends on the patient's behalf, which carries no CSRF token.

A link that is forged, garbled, expired or names no reminder gets one friendly page: it cannot say
which clinic sent it, so it asks the patient to call their clinic. The pages show the first name
at most, and ask browsers and proxies neither to keep them nor to pass the address on.
"""

from django.core.exceptions import ValidationError
from django.http import HttpRequest, HttpResponse
from django.shortcuts import render
from django.utils import timezone
from django.views.decorators.cache import never_cache
from django.views.decorators.csrf import csrf_exempt
from django.views.decorators.http import require_http_methods

from patients import services
from patients.models import Reminder, Visit
from patients.reminders.links import read_token
from patients.reminders.message import UPCOMING_KINDS
from patients.reminders.timing import visit_passes_at


def _bad_link(request: HttpRequest) -> HttpResponse:
    return render(request, "patients/public/bad_link.html", status=404)


def _appointment(reminder: Reminder) -> dict[str, object]:
    """The visit as the patient knows it, in the clinic's time."""
    visit, clinic = reminder.visit, reminder.patient.clinic
    appointment_at = timezone.localtime(visit.appointment_at, clinic.zone) if visit.appointment_at else None
    return {
        "first_name": reminder.patient.first_name,
        "clinic": clinic,
        # Naive clinic-local values: the template's date filter would otherwise convert them back.
        "appointment_at": appointment_at.replace(tzinfo=None) if appointment_at else None,
        "due_on": visit.due_on,
        "window_start": visit.window_start,
        "window_end": visit.window_end,
    }


def _can_confirm(reminder: Reminder) -> bool:
    """Only a reminder of a visit still to come; the patient may come until the window closes."""
    visit = reminder.visit
    if reminder.kind not in UPCOMING_KINDS or visit.status != Visit.Status.SCHEDULED:
        return False
    passes_at = visit_passes_at(
        due_on=visit.window_end, appointment_at=visit.appointment_at, zone=reminder.patient.clinic.zone
    )
    return timezone.now() < passes_at


@never_cache
@require_http_methods(["GET", "POST"])
def confirm(request: HttpRequest, token: str) -> HttpResponse:
    reminder = read_token(token)
    if reminder is None:
        return _bad_link(request)
    context = _appointment(reminder)
    if not _can_confirm(reminder):
        return render(request, "patients/public/confirm_closed.html", context, status=409)
    if request.method == "POST":
        try:
            services.confirm_visit(visit=reminder.visit, now=timezone.now())
        except ValidationError:
            # The visit changed between the page and the button (completed, cancelled, missed).
            return render(request, "patients/public/confirm_closed.html", context, status=409)
        return render(request, "patients/public/confirm_done.html", context)
    if reminder.visit.confirmed_at is not None:
        return render(request, "patients/public/confirm_done.html", context)
    return render(request, "patients/public/confirm.html", context)


@csrf_exempt  # RFC 8058: the mail provider's one-click POST has no token; the signed link is the check.
@never_cache
@require_http_methods(["GET", "POST"])
def unsubscribe(request: HttpRequest, token: str) -> HttpResponse:
    reminder = read_token(token)
    if reminder is None:
        return _bad_link(request)
    context = {"first_name": reminder.patient.first_name, "clinic": reminder.patient.clinic}
    if request.method == "POST":
        # Idempotent: a second click, or the provider's retry, finds nothing left to cancel.
        services.withdraw_email_consent(patient=reminder.patient)
        return render(request, "patients/public/unsubscribe_done.html", context)
    return render(request, "patients/public/unsubscribe.html", context)
