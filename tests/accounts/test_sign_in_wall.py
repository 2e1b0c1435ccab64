"""Every staff page needs a sign-in; only the patients' own email links open without one."""

import uuid

import pytest
from django.urls import URLPattern, reverse

from patients import urls as staff_urls

pytestmark = pytest.mark.django_db


def staff_paths() -> list[str]:
    paths = []
    for pattern in staff_urls.urlpatterns:
        assert isinstance(pattern, URLPattern)
        arguments = [uuid.uuid4() for _ in pattern.pattern.converters]
        paths.append(reverse(f"patients:{pattern.name}", args=arguments))
    return paths


@pytest.mark.parametrize("path", staff_paths())
@pytest.mark.parametrize("method", ["get", "post"])
def test_every_staff_page_sends_a_visitor_to_sign_in(client, path, method):
    response = getattr(client, method)(path)
    assert response.status_code == 302
    assert response["Location"].startswith("/accounts/login/?next=")


def test_the_admin_needs_a_sign_in_too(client):
    response = client.get("/admin/patients/patient/")
    assert response.status_code == 302
    assert response["Location"].startswith("/admin/login/")
