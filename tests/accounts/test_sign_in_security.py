"""Sign-in that resists attack: lockout by user name and by address, two-factor codes, idle sign-out.

Every test runs on the tests' clock (frozen when TEST_TODAY pins it) and moves it with time_machine
where time must pass: a lockout's cool-off, a session's idle limit, a new 30-second code step.
"""

import datetime

import pytest
from axes.models import AccessAttempt
from django.contrib.auth import authenticate
from django.contrib.sessions.models import Session
from django.core.management import call_command
from django.http import HttpRequest
from django.test import Client
from django.urls import reverse
from django.utils import timezone
from django_otp.oath import totp
from django_otp.plugins.otp_totp.models import TOTPDevice

from accounts.lockout import client_address
from patients.public_urls import urlpatterns as public_patterns
from tests.accounts.test_sign_in_wall import staff_paths
from tests.factories import MembershipFactory, UserFactory

pytestmark = pytest.mark.django_db

PASSWORD = "a long enough sign-in phrase"
LOGIN = "/accounts/login/"


@pytest.fixture
def rosa(clinic):
    user = UserFactory(username="rosa", password=PASSWORD, is_staff=True)
    MembershipFactory(user=user, clinic=clinic)
    return user


def sign_in(client: Client, username: str, password: str, address: str = "10.0.0.1", path: str = LOGIN):
    return client.post(path, {"username": username, "password": password}, REMOTE_ADDR=address)


def signed_in(response) -> bool:
    return response.status_code == 302 and not response["Location"].startswith(LOGIN)


def code_for(device: TOTPDevice) -> str:
    return f"{totp(device.bin_key, step=device.step, t0=device.t0, digits=device.digits, drift=device.drift):06d}"


def enrolled(user) -> TOTPDevice:
    return TOTPDevice.objects.create(user=user, name="Authenticator app", confirmed=True)


# Lockout


def test_twelve_wrong_passwords_from_one_address_lock_out_the_right_one(client, rosa):
    for _ in range(12):
        sign_in(client, "rosa", "wrong", address="10.9.9.9")

    response = sign_in(client, "rosa", PASSWORD, address="10.9.9.9")

    assert response.status_code == 429
    assert "_auth_user_id" not in client.session


def test_it_locks_a_user_name_tried_from_many_addresses(client, rosa, settings):
    for n in range(settings.AXES_FAILURE_LIMIT):
        sign_in(client, "rosa", "wrong", address=f"10.1.0.{n}")

    assert sign_in(client, "rosa", PASSWORD, address="10.2.0.1").status_code == 429
    # Another user at one of those addresses is not affected: the address stayed under its limit.
    UserFactory(username="other", password=PASSWORD)
    assert signed_in(sign_in(Client(), "other", PASSWORD, address="10.1.0.1"))


def test_it_locks_an_address_that_tries_many_user_names(client, rosa, settings):
    for n in range(settings.AXES_FAILURE_LIMIT):
        sign_in(client, f"guess{n}", "wrong", address="10.3.0.1")

    assert sign_in(client, "rosa", PASSWORD, address="10.3.0.1").status_code == 429
    assert signed_in(sign_in(Client(), "rosa", PASSWORD, address="10.3.0.2"))


def test_it_allows_a_few_mistakes(client, rosa, settings):
    for _ in range(settings.AXES_FAILURE_LIMIT - 1):
        sign_in(client, "rosa", "wrong")

    assert signed_in(sign_in(client, "rosa", PASSWORD))


def test_the_lockout_page_says_why_and_who_can_unlock(client, rosa, settings):
    for _ in range(settings.AXES_FAILURE_LIMIT):
        sign_in(client, "rosa", "wrong")

    response = sign_in(client, "rosa", PASSWORD)

    assert response.status_code == 429
    assert "registration/locked_out.html" in [t.name for t in response.templates]
    page = response.content.decode()
    assert "Sign-in locked for now" in page
    assert "Try again in 30 minutes" in page
    assert "administrator" in page


def test_the_admin_sign_in_is_locked_too(client, rosa, settings):
    rosa.is_superuser = True
    rosa.save()
    for _ in range(settings.AXES_FAILURE_LIMIT):
        sign_in(client, "rosa", "wrong", path="/admin/login/")

    assert sign_in(client, "rosa", PASSWORD, path="/admin/login/").status_code == 429


def test_a_lockout_ends_after_its_cool_off(client, rosa, settings, still_clock):
    for _ in range(settings.AXES_FAILURE_LIMIT):
        sign_in(client, "rosa", "wrong")
    still_clock.shift(datetime.timedelta(minutes=29))
    assert sign_in(client, "rosa", PASSWORD).status_code == 429

    # A refused attempt during the lockout started the cool-off again.
    still_clock.shift(datetime.timedelta(minutes=31))
    assert signed_in(sign_in(client, "rosa", PASSWORD))


def test_the_reset_command_unlocks_a_user(client, rosa, settings):
    for n in range(settings.AXES_FAILURE_LIMIT):
        sign_in(client, "rosa", "wrong", address=f"10.4.0.{n}")

    call_command("axes_reset_username", "rosa", verbosity=0)

    assert signed_in(sign_in(client, "rosa", PASSWORD, address="10.4.0.1"))


def test_an_admin_unlocks_a_user_by_deleting_the_attempts(client, rosa, admin_user_account, settings):
    for n in range(settings.AXES_FAILURE_LIMIT):
        sign_in(Client(), "rosa", "wrong", address=f"10.5.0.{n}")
    attempts = list(AccessAttempt.objects.filter(username="rosa").values_list("pk", flat=True))
    client.force_login(admin_user_account)

    listing = client.get("/admin/axes/accessattempt/")
    assert listing.status_code == 200
    assert "rosa" in listing.content.decode()
    client.post(
        "/admin/axes/accessattempt/",
        {"action": "delete_selected", "_selected_action": attempts, "post": "yes"},
    )

    assert not AccessAttempt.objects.filter(username="rosa").exists()
    assert signed_in(sign_in(Client(), "rosa", PASSWORD, address="10.5.0.1"))


def test_forwarded_addresses_are_ignored_without_a_trusted_proxy(client, rosa, settings):
    settings.TRUSTED_PROXY_COUNT = 0
    for n in range(settings.AXES_FAILURE_LIMIT):
        client.post(LOGIN, {"username": f"guess{n}", "password": "x"}, HTTP_X_FORWARDED_FOR=f"192.0.2.{n}")

    assert sign_in(client, "rosa", PASSWORD, address="127.0.0.1").status_code == 429


@pytest.mark.parametrize(
    ("proxies", "forwarded", "address"),
    [
        (0, "192.0.2.1", "127.0.0.1"),
        (1, "192.0.2.1", "192.0.2.1"),
        # The left entry is whatever the client sent; the proxy appended the address it saw.
        (1, "203.0.113.9, 192.0.2.1", "192.0.2.1"),
        (2, "203.0.113.9, 192.0.2.1, 10.0.0.2", "192.0.2.1"),
        # Fewer entries than proxies: a request that did not pass through them all.
        (2, "192.0.2.1", "127.0.0.1"),
    ],
)
def test_it_takes_the_address_the_outermost_trusted_proxy_saw(settings, proxies, forwarded, address):
    settings.TRUSTED_PROXY_COUNT = proxies
    request = HttpRequest()
    request.META = {"REMOTE_ADDR": "127.0.0.1", "HTTP_X_FORWARDED_FOR": forwarded}

    assert client_address(request) == address


def test_signing_in_without_a_request_is_refused_loudly(rosa):
    """Lockout counts by address, so a sign-in must say where it comes from; none slips past unseen."""
    with pytest.raises(ValueError, match="requires a request"):
        authenticate(username="rosa", password=PASSWORD)
    assert authenticate(HttpRequest(), username="rosa", password=PASSWORD) == rosa


# Idle sign-out


def test_a_session_idle_for_31_minutes_is_signed_out(client, rosa, still_clock):
    client.force_login(rosa)
    assert client.get("/").status_code == 200

    still_clock.shift(datetime.timedelta(minutes=31))
    response = client.get("/")

    assert response.status_code == 302
    assert response["Location"].startswith(f"{LOGIN}?next=")


def test_each_request_moves_the_end(client, rosa, still_clock):
    client.force_login(rosa)
    for _ in range(3):
        still_clock.shift(datetime.timedelta(minutes=25))
        assert client.get("/").status_code == 200


def test_it_moves_the_end_at_most_once_a_minute(client, rosa, still_clock, settings):
    client.force_login(rosa)
    key = client.session.session_key
    first_end = Session.objects.get(session_key=key).expire_date

    still_clock.shift(datetime.timedelta(seconds=30))
    client.get("/")
    assert Session.objects.get(session_key=key).expire_date == first_end

    still_clock.shift(datetime.timedelta(seconds=45))
    client.get("/")
    assert Session.objects.get(session_key=key).expire_date == timezone.now() + datetime.timedelta(
        minutes=settings.SESSION_IDLE_MINUTES
    )


def test_the_session_cookie_ends_with_the_browser(client, rosa):
    response = sign_in(client, "rosa", PASSWORD)

    cookie = response.cookies["sessionid"]
    assert cookie["max-age"] == ""
    assert cookie["expires"] == ""


def test_the_page_tells_its_warning_when_the_session_ends(client, rosa, still_clock):
    client.force_login(rosa)
    still_clock.shift(datetime.timedelta(seconds=20))

    page = client.get("/").content.decode()

    # Signed in 20 seconds ago, so the session was not saved again: 29 min 40 s are left.
    assert 'data-session-seconds="1780"' in page
    assert 'data-warning-seconds="60"' in page
    assert 'role="alert" hidden' in page
    assert "Stay signed in" in page


def test_stay_signed_in_moves_the_end(client, rosa, still_clock):
    client.force_login(rosa)
    still_clock.shift(datetime.timedelta(minutes=29))

    answer = client.post(reverse("accounts:session_keepalive"))

    assert answer.json() == {"signed_in": True, "seconds": 1800}
    still_clock.shift(datetime.timedelta(minutes=29))
    assert client.get("/").status_code == 200


def test_stay_signed_in_cannot_revive_an_ended_session(client, rosa, still_clock):
    client.force_login(rosa)
    still_clock.shift(datetime.timedelta(minutes=31))

    assert client.post(reverse("accounts:session_keepalive")).status_code == 401
    assert client.get(reverse("accounts:session_keepalive")).status_code == 405


# Two-factor codes


def test_a_user_enrols_by_scanning_and_entering_a_first_code(client, rosa, settings, still_clock):
    settings.REQUIRE_TWO_FACTOR = True
    client.force_login(rosa)
    assert client.get("/")["Location"] == "/accounts/two-factor/?next=%2F"

    page = client.get("/accounts/two-factor/").content.decode()
    assert "Set up two-factor sign-in" in page
    client.post("/accounts/two-factor/start/")
    device = TOTPDevice.objects.get(user=rosa)
    assert not device.confirmed
    response = client.get("/accounts/two-factor/")
    assert "no-store" in response["Cache-Control"]
    page = response.content.decode()
    assert '<svg width="' in page  # the QR code
    assert "otpauth://totp/Implant%20monitoring%3Arosa?secret=" in page
    assert device.config_url.split("secret=")[1][:4] in page.replace(" ", "")

    refused = client.post("/accounts/two-factor/", {"code": "000000" if code_for(device) != "000000" else "111111"})
    assert "not the one your app shows" in refused.content.decode()
    assert client.get("/").status_code == 302

    still_clock.shift(datetime.timedelta(seconds=2))  # past the one-second wait after a wrong code
    done = client.post("/accounts/two-factor/", {"code": code_for(device), "next": "/patients/"})

    assert done["Location"] == "/patients/"
    device.refresh_from_db()
    assert device.confirmed
    assert client.get("/").status_code == 200


def test_the_next_sign_in_asks_for_the_code(client, rosa, still_clock):
    device = enrolled(rosa)

    assert signed_in(sign_in(client, "rosa", PASSWORD))
    assert client.get("/patients/")["Location"] == "/accounts/two-factor/verify/?next=%2Fpatients%2F"
    assert client.get("/admin/")["Location"] == "/accounts/two-factor/verify/?next=%2Fadmin%2F"
    wrong = client.post("/accounts/two-factor/verify/?next=/patients/", {"code": "12345x"})
    assert "Enter the 6 digits" in wrong.content.decode()

    done = client.post("/accounts/two-factor/verify/", {"code": code_for(device), "next": "/patients/"})

    assert done["Location"] == "/patients/"
    assert client.get("/patients/").status_code == 200


def test_a_code_works_once(client, rosa):
    device = enrolled(rosa)
    code = code_for(device)
    client.force_login(rosa)
    client.post("/accounts/two-factor/verify/", {"code": code})

    other = Client()
    other.force_login(rosa)
    response = other.post("/accounts/two-factor/verify/", {"code": code})

    assert response.status_code == 200
    assert other.get("/").status_code == 302


def test_wrong_codes_slow_the_next_attempt(client, rosa, still_clock):
    device = enrolled(rosa)
    client.force_login(rosa)
    client.post("/accounts/two-factor/verify/", {"code": "000001"})
    client.post("/accounts/two-factor/verify/", {"code": "000002"})

    # The clock has not moved: the wait after two wrong codes has not passed, right code or not.
    response = client.post("/accounts/two-factor/verify/", {"code": code_for(device)})

    assert "Too many wrong codes" in response.content.decode()
    assert client.get("/").status_code == 302


def test_without_a_code_an_enrolled_user_can_neither_replace_nor_remove_it(client, rosa):
    device = enrolled(rosa)
    client.force_login(rosa)

    assert client.post("/accounts/two-factor/start/")["Location"].startswith("/accounts/two-factor/verify/")
    assert client.post("/accounts/two-factor/remove/")["Location"].startswith("/accounts/two-factor/verify/")
    assert client.get("/accounts/two-factor/")["Location"].startswith("/accounts/two-factor/verify/")
    assert list(TOTPDevice.objects.filter(user=rosa)) == [device]


def test_a_verified_user_removes_and_enrols_again(client, rosa, settings, still_clock):
    settings.REQUIRE_TWO_FACTOR = True
    device = enrolled(rosa)
    client.force_login(rosa)
    client.post("/accounts/two-factor/verify/", {"code": code_for(device)})

    client.post("/accounts/two-factor/remove/")

    assert not TOTPDevice.objects.filter(user=rosa).exists()
    assert client.get("/")["Location"] == "/accounts/two-factor/?next=%2F"
    client.post("/accounts/two-factor/start/")
    new = TOTPDevice.objects.get(user=rosa)
    still_clock.shift(datetime.timedelta(seconds=30))
    client.post("/accounts/two-factor/", {"code": code_for(new)})
    assert client.get("/").status_code == 200


def test_a_replacement_keeps_the_old_authenticator_until_it_is_confirmed(client, rosa, still_clock):
    old = enrolled(rosa)
    client.force_login(rosa)
    client.post("/accounts/two-factor/verify/", {"code": code_for(old)})

    client.post("/accounts/two-factor/start/")
    assert TOTPDevice.objects.filter(user=rosa, confirmed=True).get() == old
    new = TOTPDevice.objects.get(user=rosa, confirmed=False)
    still_clock.shift(datetime.timedelta(seconds=30))
    client.post("/accounts/two-factor/", {"code": code_for(new)})

    assert list(TOTPDevice.objects.filter(user=rosa)) == [new]


def test_an_authenticator_removed_by_an_admin_sends_the_user_to_enrol(client, rosa, settings):
    settings.REQUIRE_TWO_FACTOR = True
    enrolled(rosa)
    client.force_login(rosa)
    TOTPDevice.objects.filter(user=rosa).delete()

    # The session still believes the user enrolled; the code step finds no authenticator.
    assert client.get("/")["Location"].startswith("/accounts/two-factor/verify/")
    assert client.get("/accounts/two-factor/verify/?next=/")["Location"] == "/accounts/two-factor/?next=%2F"
    assert client.get("/")["Location"] == "/accounts/two-factor/?next=%2F"


@pytest.mark.parametrize("path", [*staff_paths(), "/admin/", "/admin/patients/patient/", "/accounts/password_change/"])
def test_with_two_factor_required_no_staff_page_opens_without_a_code(client, rosa, settings, path):
    settings.REQUIRE_TWO_FACTOR = True
    client.force_login(rosa)

    response = client.get(path)

    assert response.status_code == 302
    assert response["Location"].startswith("/accounts/two-factor/?next=")


def test_htmx_requests_are_sent_on_with_a_full_page_redirect(client, rosa, settings):
    settings.REQUIRE_TWO_FACTOR = True
    client.force_login(rosa)

    response = client.get("/patients/?q=a", HTTP_HX_REQUEST="true")

    assert response["HX-Redirect"] == "/accounts/two-factor/?next=%2Fpatients%2F%3Fq%3Da"


@pytest.mark.parametrize("name", [pattern.name for pattern in public_patterns])
def test_the_patients_email_links_stay_open(client, rosa, settings, name):
    settings.REQUIRE_TWO_FACTOR = True
    client.force_login(rosa)

    response = client.get(reverse(f"public:{name}", args=["not-a-real-token"]))

    # The page itself answers (this link is not a real one), not the wall.
    assert response.status_code == 404
    assert "patients/public/bad_link.html" in [t.name for t in response.templates]


def test_sign_out_stays_open(client, rosa, settings):
    settings.REQUIRE_TWO_FACTOR = True
    client.force_login(rosa)

    assert client.post("/accounts/logout/")["Location"] == LOGIN
    assert "_auth_user_id" not in client.session


def test_with_two_factor_off_a_user_who_never_enrolled_needs_no_code(client, rosa, settings):
    settings.REQUIRE_TWO_FACTOR = False
    client.force_login(rosa)

    assert client.get("/").status_code == 200


def test_an_admin_finds_and_removes_a_users_authenticator(client, rosa, admin_user_account):
    device = enrolled(rosa)
    client.force_login(admin_user_account)

    index = client.get("/admin/").content.decode()
    assert "Two-factor sign-in" in index
    change = client.get(f"/admin/otp_totp/totpdevice/{device.pk}/change/").content.decode()
    assert device.key not in change  # the secret stays hidden, even from an administrator
    client.post(f"/admin/otp_totp/totpdevice/{device.pk}/delete/", {"post": "yes"})

    assert not TOTPDevice.objects.filter(user=rosa).exists()
