"""Response headers Django has no setting for: Permissions-Policy.

``settings.PERMISSIONS_POLICY`` maps each browser feature to the origins allowed to use it; an
empty list switches the feature off for every page, embedded frames included.
"""

from collections.abc import Callable

from django.conf import settings
from django.http import HttpRequest, HttpResponse


def permissions_policy(policy: dict[str, list[str]]) -> str:
    """The header's value, e.g. ``camera=(), geolocation=(self)``."""
    return ", ".join(f"{feature}=({' '.join(origins)})" for feature, origins in policy.items())


class PermissionsPolicyMiddleware:
    def __init__(self, get_response: Callable[[HttpRequest], HttpResponse]) -> None:
        self.get_response = get_response
        self.header = permissions_policy(settings.PERMISSIONS_POLICY)

    def __call__(self, request: HttpRequest) -> HttpResponse:
        response = self.get_response(request)
        response.headers.setdefault("Permissions-Policy", self.header)
        return response
