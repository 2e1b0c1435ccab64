"""What the idle sign-out warning needs on every signed-in page."""

from typing import Any

from django.conf import settings
from django.http import HttpRequest
from django.utils import timezone

from accounts.idle import session_ends_at


def session_timer(request: HttpRequest) -> dict[str, Any]:
    """Seconds until the session ends if the page is left alone, and how early the page warns."""
    user = getattr(request, "user", None)
    if user is None or not user.is_authenticated:
        return {}
    return {
        "session_seconds": int((session_ends_at(request) - timezone.now()).total_seconds()),
        # Never more than half the session, so that a short one is not all warning.
        "session_warning_seconds": min(settings.SESSION_WARNING_SECONDS, settings.SESSION_COOKIE_AGE // 2),
    }
