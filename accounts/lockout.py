"""What django-axes asks of the project: the address a sign-in comes from, and the lockout page.

Behind ``TRUSTED_PROXY_COUNT`` proxies that each append the address they received a request from
to X-Forwarded-For, the client is the entry that many places from the right: entries further left
were written by the client itself and prove nothing. With no proxy, the connection's own address.
"""

from typing import Any

from django.conf import settings
from django.http import HttpRequest, HttpResponse
from django.shortcuts import render


def client_address(request: HttpRequest) -> str:
    proxies = settings.TRUSTED_PROXY_COUNT
    forwarded = [part.strip() for part in request.META.get("HTTP_X_FORWARDED_FOR", "").split(",") if part.strip()]
    if proxies and len(forwarded) >= proxies:
        return forwarded[-proxies]
    return request.META.get("REMOTE_ADDR", "")


def locked_out(request: HttpRequest, original_response: HttpResponse | None, credentials: Any) -> HttpResponse:
    """The page a refused sign-in gets: why, for how long, and who can unlock it. 429 Too Many Requests."""
    minutes = int(settings.AXES_COOLOFF_TIME.total_seconds() // 60)
    return render(request, "registration/locked_out.html", {"minutes": minutes}, status=429)
