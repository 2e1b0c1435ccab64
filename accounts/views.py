"""The two-factor pages and the session keep-alive.

``two_factor``: a user's own page. It shows whether their sign-in asks for a code, starts an
enrolment (a new secret, shown as a QR code and as text), confirms it with a first code, and
removes the authenticator. ``two_factor_verify``: the code step of every sign-in once enrolled.
A user with a confirmed authenticator who has not entered a code this session can neither replace
nor remove it: the wall (``accounts.two_factor``) sends them to the code step first.
"""

import textwrap
from base64 import b32encode

import segno
from django.conf import settings
from django.contrib import messages
from django.contrib.auth.decorators import login_required
from django.db import transaction
from django.http import HttpRequest, HttpResponse, HttpResponseRedirect, JsonResponse
from django.shortcuts import redirect, render, resolve_url
from django.urls import reverse
from django.utils import timezone
from django.utils.http import url_has_allowed_host_and_scheme, urlencode
from django.views.decorators.http import require_POST
from django_otp import login as otp_login
from django_otp import verify_token
from django_otp.plugins.otp_totp.models import TOTPDevice

from accounts.forms import CodeForm
from accounts.idle import session_ends_at
from accounts.two_factor import confirmed_device, is_verified, remember_enrolment

DEVICE_NAME = "Authenticator app"


def next_url(request: HttpRequest) -> str:
    """Where to go once done: the page the user was sent away from, if it is one of ours."""
    target = request.POST.get("next") or request.GET.get("next") or ""
    if url_has_allowed_host_and_scheme(target, allowed_hosts={request.get_host()}, require_https=request.is_secure()):
        return target
    return resolve_url(settings.LOGIN_REDIRECT_URL)


def with_next(request: HttpRequest, name: str) -> HttpResponseRedirect:
    target = request.POST.get("next") or request.GET.get("next")
    url = reverse(name)
    return HttpResponseRedirect(f"{url}?{urlencode({'next': target})}" if target else url)


@login_required
def two_factor(request: HttpRequest) -> HttpResponse:
    device = confirmed_device(request.user)
    if device is not None and not is_verified(request):
        return with_next(request, "accounts:two_factor_verify")
    pending = TOTPDevice.objects.filter(user=request.user, confirmed=False).order_by("-pk").first()
    form = CodeForm(request.POST or None)
    if request.method == "POST":
        if pending is None:
            messages.error(request, "Start the set-up again: there is no authenticator waiting to be confirmed.")
            return with_next(request, "accounts:two_factor")
        if form.is_valid():
            if pending.verify_token(form.cleaned_data["code"]):
                confirm(request, pending)
                messages.success(request, "Two-factor sign-in is on: every sign-in now asks for a code from your app.")
                return HttpResponseRedirect(next_url(request))
            form.add_error("code", "That code is not the one your app shows now. Check the app and try again.")
    context = {
        "device": device,
        "pending": pending,
        "form": form,
        "next": request.GET.get("next", ""),
        "require_two_factor": settings.REQUIRE_TWO_FACTOR,
    }
    if pending is not None:
        context |= {
            # Grouped in fours, as apps that take a typed key show it.
            "secret": " ".join(textwrap.wrap(b32encode(pending.bin_key).decode(), 4)),
            "qr_code": segno.make(pending.config_url, error="m").svg_inline(
                scale=4, title="QR code to scan with your authenticator app", svgclass="qr-code", lineclass=None
            ),
            "config_url": pending.config_url,
        }
    return render(request, "accounts/two_factor.html", context)


@transaction.atomic
def confirm(request: HttpRequest, pending: TOTPDevice) -> None:
    """The new authenticator replaces any earlier one, and counts as this session's code."""
    TOTPDevice.objects.filter(user=request.user).exclude(pk=pending.pk).delete()
    pending.confirmed = True
    pending.save(update_fields=["confirmed"])
    request.session.cycle_key()
    otp_login(request, pending)
    remember_enrolment(request, enrolled=True)


@login_required
@require_POST
def two_factor_start(request: HttpRequest) -> HttpResponse:
    if confirmed_device(request.user) is not None and not is_verified(request):
        return with_next(request, "accounts:two_factor_verify")
    with transaction.atomic():
        TOTPDevice.objects.filter(user=request.user, confirmed=False).delete()
        TOTPDevice.objects.create(user=request.user, name=DEVICE_NAME, confirmed=False)
    return with_next(request, "accounts:two_factor")


@login_required
@require_POST
def two_factor_remove(request: HttpRequest) -> HttpResponse:
    if confirmed_device(request.user) is not None and not is_verified(request):
        return with_next(request, "accounts:two_factor_verify")
    TOTPDevice.objects.filter(user=request.user).delete()
    remember_enrolment(request, enrolled=False)
    if settings.REQUIRE_TWO_FACTOR:
        messages.warning(request, "Your authenticator is removed. Set up a new one to go on using the tracker.")
    else:
        messages.success(request, "Your authenticator is removed: sign-in no longer asks for a code.")
    return redirect("accounts:two_factor")


@login_required
def two_factor_verify(request: HttpRequest) -> HttpResponse:
    device = confirmed_device(request.user)
    if device is None:
        # Removed since this session began (by an administrator, for a lost phone).
        remember_enrolment(request, enrolled=False)
        return with_next(request, "accounts:two_factor")
    if is_verified(request):
        return HttpResponseRedirect(next_url(request))
    form = CodeForm(request.POST or None)
    if request.method == "POST" and form.is_valid():
        allowed, _ = device.verify_is_allowed()
        if not allowed:
            form.add_error(None, "Too many wrong codes. Wait a minute, then enter the code your app shows then.")
        elif verify_token(request.user, device.persistent_id, form.cleaned_data["code"]) is not None:
            request.session.cycle_key()
            otp_login(request, device)
            return HttpResponseRedirect(next_url(request))
        else:
            form.add_error("code", "That code is not the one your app shows now. Check the app and try again.")
    return render(request, "accounts/two_factor_verify.html", {"form": form, "next": request.GET.get("next", "")})


@require_POST
def session_keepalive(request: HttpRequest) -> JsonResponse:
    """Answers the "Stay signed in" button: the request itself moves the session's end."""
    if not request.user.is_authenticated:
        return JsonResponse({"signed_in": False}, status=401)
    seconds = int((session_ends_at(request) - timezone.now()).total_seconds())
    return JsonResponse({"signed_in": True, "seconds": seconds})
