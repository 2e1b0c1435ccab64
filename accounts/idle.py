"""Idle sign-out: a session ends ``SESSION_COOKIE_AGE`` (``SESSION_IDLE_MINUTES``) after its last request.

Each request moves the session's end by saving it, but at most once a minute (``MOVE_EVERY``): a
page view then writes to the database only when its session's end has not moved for a minute,
instead of every time. The end is so never later than the idle limit after the last request, and
at most a minute earlier. ``session_ends_at`` also tells the page when that is, for its warning.
"""

import datetime
from collections.abc import Callable

from django.conf import settings
from django.contrib.sessions.backends.db import SessionStore as DatabaseSessionStore
from django.contrib.sessions.models import Session
from django.http import HttpRequest, HttpResponse
from django.utils import timezone

MOVE_EVERY = datetime.timedelta(minutes=1)


class SessionStore(DatabaseSessionStore):
    """Django's database sessions (``SESSION_ENGINE = "accounts.idle"``), remembering when the row
    read for this request expires, so that deciding whether to move it costs no query."""

    expires_at: datetime.datetime | None = None

    def _get_session_from_db(self) -> Session | None:
        row = super()._get_session_from_db()  # type: ignore[misc]  # Django's own, missing from its stubs
        self.expires_at = row.expire_date if row is not None else None
        return row


def session_ends_at(request: HttpRequest) -> datetime.datetime:
    """When this session ends if no request follows this one; marks it to be saved when its end is due to move."""
    session = request.session
    now = timezone.now()
    full = now + datetime.timedelta(seconds=settings.SESSION_COOKIE_AGE)
    stored = getattr(session, "expires_at", None)
    if session.modified or stored is None or stored < full - MOVE_EVERY:
        session.modified = True
        return full
    return stored


class IdleSignOutMiddleware:
    """Moves the end of every signed-in session a request uses (see the module's docstring)."""

    def __init__(self, get_response: Callable[[HttpRequest], HttpResponse]) -> None:
        self.get_response = get_response

    def __call__(self, request: HttpRequest) -> HttpResponse:
        response = self.get_response(request)
        session = getattr(request, "session", None)
        if session is not None and not session.is_empty():
            session_ends_at(request)
        return response
