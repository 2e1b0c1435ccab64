"""The two-factor wall: a signed-in user who has not entered a code this session sees no staff page.

Whoever has a confirmed authenticator is sent to enter a code from it, whatever the settings say:
enrolling means asking for it. With ``REQUIRE_TWO_FACTOR`` on, whoever has none is sent to enrol.
The sign-in and sign-out pages, the two-factor pages themselves, the session keep-alive and the
patients' email links stay open. The admin is behind the wall like every other page.

Whether a user has enrolled is read at sign-in and kept in the session (``ENROLLED``), so the wall
costs no query per page; the two-factor pages update it when they add or remove an authenticator.
A session opened elsewhere before an enrolment learns of it when it ends (at most
``SESSION_IDLE_MINUTES`` idle); with ``REQUIRE_TWO_FACTOR`` on, every session needs a code anyway.
"""

from collections.abc import Callable
from typing import Any
from urllib.parse import urlencode

from django.conf import settings
from django.contrib.auth.base_user import AbstractBaseUser
from django.contrib.auth.models import AnonymousUser
from django.http import HttpRequest, HttpResponse, HttpResponseRedirect
from django.urls import reverse
from django_htmx.http import HttpResponseClientRedirect
from django_otp.plugins.otp_totp.models import TOTPDevice

ENROLLED = "two_factor_enrolled"

# URL namespaces and names, as the resolver reports them, that an unverified user may open.
OPEN_NAMESPACES = frozenset({"accounts", "public"})
OPEN_NAMES = frozenset({("", "login"), ("", "logout"), ("admin", "logout")})


def confirmed_device(user: AbstractBaseUser | AnonymousUser) -> TOTPDevice | None:
    """The user's authenticator, once they have proved they hold it by entering a code."""
    if not user.is_authenticated:
        return None
    return TOTPDevice.objects.filter(user=user, confirmed=True).order_by("pk").first()


def is_verified(request: HttpRequest) -> bool:
    """Whether this session has entered a code (django_otp's OTPMiddleware sets ``is_verified``)."""
    check = getattr(request.user, "is_verified", None)
    return bool(check and check())


def remember_enrolment(
    request: HttpRequest, *, enrolled: bool | None = None, user: AbstractBaseUser | None = None
) -> bool:
    """Records in the session whether its user has a confirmed authenticator (looked up unless given)."""
    if enrolled is None:
        enrolled = TOTPDevice.objects.filter(user=user or request.user, confirmed=True).exists()
    request.session[ENROLLED] = enrolled
    return enrolled


def remember_enrolment_at_sign_in(
    sender: object, request: HttpRequest | None, user: AbstractBaseUser, **kwargs: object
) -> None:
    """``user_logged_in`` receiver (connected in ``accounts.apps``)."""
    if request is not None and hasattr(request, "session"):
        remember_enrolment(request, user=user)


def wall_target(request: HttpRequest) -> str | None:
    """Where a signed-in user must go before any staff page, or None when they may pass."""
    user = request.user
    if not user.is_authenticated or is_verified(request):
        return None
    enrolled = request.session.get(ENROLLED)
    if enrolled is None:
        enrolled = remember_enrolment(request)
    if enrolled:
        return reverse("accounts:two_factor_verify")
    if settings.REQUIRE_TWO_FACTOR:
        return reverse("accounts:two_factor")
    return None


class TwoFactorWallMiddleware:
    def __init__(self, get_response: Callable[[HttpRequest], HttpResponse]) -> None:
        self.get_response = get_response

    def __call__(self, request: HttpRequest) -> HttpResponse:
        return self.get_response(request)

    def process_view(
        self, request: HttpRequest, view_func: Callable[..., Any], view_args: Any, view_kwargs: Any
    ) -> HttpResponse | None:
        match = request.resolver_match
        if match is not None and (
            match.namespace in OPEN_NAMESPACES or (match.namespace, match.url_name) in OPEN_NAMES
        ):
            return None
        target = wall_target(request)
        if target is None:
            return None
        url = f"{target}?{urlencode({'next': request.get_full_path()})}"
        if getattr(request, "htmx", False):
            return HttpResponseClientRedirect(url)
        return HttpResponseRedirect(url)
