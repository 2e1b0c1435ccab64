"""The coordinator pages with the demo clinic's data, at laptop and tablet width, for a person to look at.

The demo's 60 patients show every state a page can draw; the screenshots go to test-artifacts/ and
each page must fit the screen at both widths without scrolling sideways.
"""

import io

import pytest
from django.core.management import call_command
from django.db.models import Count
from playwright.sync_api import expect

from patients.management.commands.seed_demo import LOGINS
from patients.models import Patient
from tests.browser.pages import OpenPage, save_screenshots, sign_in

pytestmark = [pytest.mark.browser, pytest.mark.django_db(transaction=True)]


@pytest.fixture
def demo_clinic():
    call_command("seed_demo", stdout=io.StringIO())


def test_it_shows_the_demo_clinic_at_laptop_and_tablet_width(open_page: OpenPage, artifacts_dir, demo_clinic):
    _title, username, password, _role = next(login for login in LOGINS if login[1] == "coordinator")
    page = open_page()
    page.goto("/accounts/login/")
    sign_in(page, username, password)
    expect(page.get_by_role("heading", level=1)).to_contain_text("Dashboard")
    too_wide = save_screenshots(page, artifacts_dir, "demo-dashboard")

    page.get_by_role("navigation", name="Main").get_by_role("link", name="Patients").click()
    expect(page.get_by_role("heading", level=1)).to_be_visible()
    too_wide += save_screenshots(page, artifacts_dir, "demo-patient-list")

    # The patient with the longest history draws the most on their page.
    busiest = Patient.objects.annotate(placements_made=Count("placements")).order_by("-placements_made", "pk")[0]
    page.goto(busiest.get_absolute_url())
    expect(page.get_by_role("heading", level=1)).to_have_text(busiest.full_name)
    too_wide += save_screenshots(page, artifacts_dir, "demo-patient")

    page.get_by_role("navigation", name="Main").get_by_role("link", name="Reports").click()
    expect(page.get_by_role("heading", level=1)).to_be_visible()
    too_wide += save_screenshots(page, artifacts_dir, "demo-reports")

    assert not too_wide, "pages scroll sideways:\n" + "\n".join(too_wide)
