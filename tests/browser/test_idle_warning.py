"""The idle sign-out warning, and pages that run under the Content-Security-Policy, in Chromium.

Two clocks move together here: the page's (Playwright's ``page.clock``, which the warning's timers
run on) and the live server's (time-machine, which moves the whole test process, the server's
thread included). The warning counts on the page's clock alone and the session ends on the
server's, so the test moves both by the same amount and checks each side.

A Content-Security-Policy violation shows in the console as an error ("Refused to apply inline
style because it violates the following Content Security Policy directive"); the ``open_page``
fixture fails a test on any console error, and the CSP test below also looks for them by name.
"""

import datetime

import pytest
from playwright.sync_api import ConsoleMessage, Page, expect

from patients import services
from patients.clinic_time import clinic_today
from tests.browser.pages import OpenPage, sign_in
from tests.factories import INDUCTION, MembershipFactory, PatientFactory, UserFactory

pytestmark = [pytest.mark.browser, pytest.mark.django_db(transaction=True)]

PASSWORD = "a long enough sign-in phrase"


@pytest.fixture
def rosa(clinic):
    user = UserFactory(username="rosa", password=PASSWORD, is_staff=True, is_superuser=True)
    MembershipFactory(user=user, clinic=clinic)
    return user


def signed_in_page(open_page: OpenPage) -> Page:
    page = open_page()
    page.clock.install()
    page.goto("/accounts/login/")
    sign_in(page, "rosa", PASSWORD)
    expect(page.get_by_role("heading", level=1)).to_contain_text("Dashboard")
    page.wait_for_load_state("domcontentloaded")
    return page


def move_both(page: Page, still_clock, minutes: float) -> None:
    still_clock.shift(datetime.timedelta(minutes=minutes))
    page.clock.fast_forward(int(minutes * 60 * 1000))


def test_it_warns_a_minute_before_and_stay_signed_in_keeps_the_session(open_page: OpenPage, still_clock, rosa):
    page = signed_in_page(open_page)
    warning = page.get_by_role("alert").filter(has_text="signed out in a minute")
    expect(warning).to_be_hidden()

    move_both(page, still_clock, 28.5)
    expect(warning).to_be_hidden()
    move_both(page, still_clock, 0.75)
    expect(warning).to_be_visible()

    page.get_by_role("button", name="Stay signed in").click()
    expect(warning).to_be_hidden()

    # 29 minutes after "stay", not 58 after the page load: the session and the count both moved.
    move_both(page, still_clock, 28.5)
    expect(warning).to_be_hidden()
    page.reload()
    expect(page.get_by_role("heading", level=1)).to_contain_text("Dashboard")


def test_without_a_click_the_page_goes_to_the_sign_in_page(open_page: OpenPage, still_clock, rosa):
    page = signed_in_page(open_page)
    page.get_by_role("navigation", name="Main").get_by_role("link", name="Patients").click()
    # The new page, with its (deferred) script run, before either clock moves: moved while the
    # dashboard was still showing, the count would start again on the patient list half an hour on.
    expect(page).to_have_url("/patients/")
    expect(page.get_by_role("heading", level=1)).to_have_text("Patients")
    page.wait_for_load_state("domcontentloaded")

    move_both(page, still_clock, 29.25)
    expect(page.get_by_role("alert").filter(has_text="signed out in a minute")).to_be_visible()
    move_both(page, still_clock, 1)

    expect(page).to_have_url("/accounts/login/?next=%2Fpatients%2F")
    expect(page.get_by_role("heading", level=1)).to_have_text("Sign in")
    # The server ended the session too: the page it came from asks for a sign-in again.
    page.goto("/patients/")
    expect(page.get_by_role("heading", level=1)).to_have_text("Sign in")


def test_pages_run_under_the_content_security_policy(open_page: OpenPage, clinic, implant, rosa):
    patient = PatientFactory(clinic=clinic, first_name="Ada", last_name="Byron")
    placed_on = clinic_today(clinic) - datetime.timedelta(days=40)
    services.record_placement(patient=patient, product=implant, placed_on=placed_on, **INDUCTION)
    violations: list[str] = []

    def collect(message: ConsoleMessage) -> None:
        if "Content Security Policy" in message.text or "Content-Security-Policy" in message.text:
            violations.append(f"{page.url}: {message.text}")

    page = open_page()
    page.on("console", collect)
    page.goto("/accounts/login/")
    sign_in(page, "rosa", PASSWORD)
    expect(page.get_by_role("heading", level=1)).to_contain_text("Dashboard")
    # The patient list's search runs through htmx: its request and swap must run under the policy.
    page.get_by_role("navigation", name="Main").get_by_role("link", name="Patients").click()
    with page.expect_request(lambda request: "q=Byr" in request.url and request.headers.get("hx-request") == "true"):
        page.get_by_label("Name or record number").fill("Byr")
    expect(page.locator("#patient-results").get_by_text("Byron").first).to_be_visible()
    page.goto(patient.get_absolute_url())
    expect(page.get_by_role("heading", level=1)).to_have_text("Ada Byron")
    expect(page.locator("svg.coverage-timeline")).to_be_visible()
    page.goto("/reports/")
    expect(page.get_by_role("heading", level=1)).to_contain_text("Reports")
    for path in ("/admin/", "/admin/patients/patient/", f"/admin/patients/patient/{patient.pk}/change/"):
        page.goto(path)
        expect(page.locator("#site-name")).to_be_visible()
    page.goto("/accounts/two-factor/")
    page.get_by_role("button", name="Set up two-factor sign-in").click()
    expect(page.locator("svg.qr-code")).to_be_visible()

    assert violations == []
