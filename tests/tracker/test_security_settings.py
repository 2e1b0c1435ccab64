"""Production settings and response headers: `check --deploy` clean, a Content-Security-Policy with
nothing inline allowed, and pages that need nothing inline to work under it.
"""

import base64
import datetime
import os
import secrets
import subprocess
import sys
from html.parser import HTMLParser
from pathlib import Path

import pytest
from django.urls import reverse

from patients import services
from patients.clinic_time import clinic_today
from patients.models import Reminder
from patients.reminders import links
from tests.factories import INDUCTION, PatientFactory, TherapyGroupFactory

ROOT = Path(__file__).resolve().parents[2]
PRODUCTION = {
    "DJANGO_ENV": "production",
    "DATABASE_URL": "sqlite:///tmp/security-settings.sqlite3",
    "SECRET_KEY": base64.b64encode(secrets.token_bytes(48)).decode(),
    "ALLOWED_HOSTS": "clinic.example.org",
}


def run_django(*args: str, **env: str) -> subprocess.CompletedProcess[str]:
    clean = {k: v for k, v in os.environ.items() if k not in {"DATABASE_URL", "SECRET_KEY", "ALLOWED_HOSTS"}}
    return subprocess.run(
        [sys.executable, *args],
        cwd=ROOT,
        env=clean | {"DJANGO_SETTINGS_MODULE": "tracker.settings"} | env,
        capture_output=True,
        text=True,
        timeout=120,
    )


def production_setting(name: str, **env: str) -> str:
    code = (
        "import django; django.setup(); from django.conf import settings; "
        f"print(repr(getattr(settings, {name!r}, None)))"
    )
    result = run_django("-c", code, **(PRODUCTION | env))
    assert result.returncode == 0, result.stderr
    return result.stdout.strip()


def test_the_deploy_check_is_clean_in_production():
    result = run_django("manage.py", "check", "--deploy", "--fail-level", "WARNING", **PRODUCTION)

    assert result.returncode == 0, result.stdout + result.stderr
    assert "no issues" in result.stdout


@pytest.mark.parametrize(
    ("name", "value"),
    [
        ("SECURE_SSL_REDIRECT", "True"),
        ("SECURE_HSTS_SECONDS", "31536000"),
        ("SECURE_HSTS_INCLUDE_SUBDOMAINS", "True"),
        ("SESSION_COOKIE_SECURE", "True"),
        ("CSRF_COOKIE_SECURE", "True"),
        ("SECURE_PROXY_SSL_HEADER", "('HTTP_X_FORWARDED_PROTO', 'https')"),
        ("REQUIRE_TWO_FACTOR", "True"),
    ],
)
def test_production_defaults_are_safe(name, value):
    assert production_setting(name) == value


def test_without_a_proxy_the_forwarded_scheme_is_not_believed():
    assert production_setting("SECURE_PROXY_SSL_HEADER", TRUSTED_PROXY_COUNT="0") == "None"


def test_each_can_be_changed_by_the_environment():
    assert production_setting("SECURE_HSTS_SECONDS", SECURE_HSTS_SECONDS="600") == "600"
    assert production_setting("REQUIRE_TWO_FACTOR", REQUIRE_TWO_FACTOR="false") == "False"
    assert production_setting("SESSION_COOKIE_AGE", SESSION_IDLE_MINUTES="15") == "900"


def test_development_does_not_require_two_factor(settings):
    # The suite runs in development: the demo logins work without an authenticator.
    assert settings.DJANGO_ENV == "development"
    assert settings.REQUIRE_TWO_FACTOR is False


# Headers


@pytest.fixture
def signed_in(client, coordinator):
    client.force_login(coordinator)
    return client


def directives(header: str) -> dict[str, list[str]]:
    parsed = {}
    for part in header.split(";"):
        name, *values = part.split()
        parsed[name] = values
    return parsed


@pytest.mark.django_db
@pytest.mark.parametrize("path", ["/", "/accounts/login/", "/admin/", "/r/not-a-token/confirm/"])
def test_every_page_has_a_policy_that_allows_nothing_inline(signed_in, path):
    response = signed_in.get(path)

    policy = directives(response["Content-Security-Policy"])
    assert policy["default-src"] == ["'self'"]
    assert policy["script-src"] == ["'self'"]
    assert policy["style-src"] == ["'self'"]
    assert policy["frame-ancestors"] == ["'none'"]
    assert policy["object-src"] == ["'none'"]
    assert "unsafe" not in response["Content-Security-Policy"]


@pytest.mark.django_db
def test_every_page_switches_off_browser_features_it_does_not_use(signed_in):
    response = signed_in.get("/")

    features = dict(item.strip().split("=") for item in response["Permissions-Policy"].split(","))
    for feature in ("camera", "microphone", "geolocation", "payment", "usb"):
        assert features[feature] == "()"


@pytest.mark.django_db
def test_other_security_headers(signed_in):
    response = signed_in.get("/")

    assert response["Referrer-Policy"] == "same-origin"
    assert response["X-Content-Type-Options"] == "nosniff"
    assert response["X-Frame-Options"] == "DENY"
    assert response["Cross-Origin-Opener-Policy"] == "same-origin"


# Nothing inline on any page


class InlineCode(HTMLParser):
    """Collects what a Content-Security-Policy without 'unsafe-inline' would refuse to run or apply."""

    def __init__(self) -> None:
        super().__init__()
        self.found: list[str] = []

    def handle_starttag(self, tag: str, attrs: list[tuple[str, str | None]]) -> None:
        names = {name for name, _ in attrs}
        if tag == "script" and "src" not in names:
            self.found.append("<script> without src")
        if tag == "style":
            self.found.append("<style> element")
        if "style" in names:
            self.found.append(f"style attribute on <{tag}>")
        self.found += [f"{name} handler on <{tag}>" for name in names if name.startswith("on")]
        self.found += [
            f"javascript: URL on <{tag}>"
            for name, value in attrs
            if name in {"href", "src", "action"} and (value or "").strip().lower().startswith("javascript:")
        ]


def inline_code(html: str) -> list[str]:
    parser = InlineCode()
    parser.feed(html)
    return parser.found


def test_the_checker_finds_inline_code():
    html = '<script>x()</script><p style="color:red" onclick="y()"><style>p{}</style><a href="javascript:z()">'
    assert inline_code(html) == [
        "<script> without src",
        "style attribute on <p>",
        "onclick handler on <p>",
        "<style> element",
        "javascript: URL on <a>",
    ]
    assert inline_code('<script src="/static/x.js" data-x="1"></script><svg><path fill="#000"/></svg>') == []


@pytest.fixture
def records(clinic, implant, coordinator):
    """A patient with a placement (so visits, reminders and the timeline), a session and a group."""
    patient = PatientFactory(clinic=clinic, record_number="R-9", first_name="Ada", last_name="Byron")
    placed_on = clinic_today(clinic) - datetime.timedelta(days=40)
    services.record_placement(patient=patient, product=implant, placed_on=placed_on, **INDUCTION)
    group = TherapyGroupFactory(clinic=clinic)
    visit = patient.visits.order_by("due_on").first()
    reminder = Reminder.objects.filter(patient=patient).first()
    return {"patient": patient, "group": group, "visit": visit, "reminder": reminder}


def staff_pages(records) -> list[str]:
    patient, group, visit = records["patient"].uuid, records["group"].uuid, records["visit"].uuid
    return [
        reverse("patients:dashboard"),
        reverse("patients:patient_list"),
        reverse("patients:patient_list") + "?q=Ada",
        reverse("patients:patient_create"),
        reverse("patients:patient_detail", args=[patient]),
        reverse("patients:patient_edit", args=[patient]),
        reverse("patients:wallet_card", args=[patient]),
        reverse("patients:placement_create", args=[patient]),
        reverse("patients:follow_up_call_create", args=[patient]),
        reverse("patients:session_create", args=[patient]),
        reverse("patients:visit_findings", args=[visit]),
        reverse("patients:visit_reschedule", args=[visit]),
        reverse("patients:group_list"),
        reverse("patients:group_create"),
        reverse("patients:group_detail", args=[group]),
        reverse("patients:group_attendance", args=[group]),
        reverse("patients:reports"),
        reverse("accounts:two_factor"),
        "/admin/",
        "/admin/patients/patient/",
        f"/admin/patients/patient/{records['patient'].pk}/change/",
        "/admin/patients/patient/add/",
    ]


@pytest.mark.django_db
def test_no_staff_page_needs_inline_code(client, admin_user_account, manager, records):
    client.force_login(manager)  # the role that may open every page
    found = {}
    for path in staff_pages(records):
        response = client.get(path)
        assert response.status_code == 200, path
        if problems := inline_code(response.content.decode()):
            found[path] = problems

    assert found == {}


@pytest.mark.django_db
def test_no_sign_in_or_public_page_needs_inline_code(client, coordinator, records, settings):
    token = links.make_token(records["reminder"])
    pages = {
        "/accounts/login/": client.get("/accounts/login/"),
        "confirm": client.get(f"/r/{token}/confirm/"),
        "unsubscribe": client.get(f"/r/{token}/unsubscribe/"),
    }
    for _ in range(settings.AXES_FAILURE_LIMIT + 1):
        pages["locked out"] = client.post("/accounts/login/", {"username": "x", "password": "y"})
    client.force_login(coordinator)
    client.post("/accounts/two-factor/start/")
    pages["enrolment"] = client.get("/accounts/two-factor/")

    found = {name: problems for name, page in pages.items() if (problems := inline_code(page.content.decode()))}
    assert found == {}


def test_htmx_is_told_not_to_add_its_own_styles():
    base = (ROOT / "templates" / "base.html").read_text()
    assert '"includeIndicatorStyles": false' in base
