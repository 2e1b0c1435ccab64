"""A clinic's morning, in Chromium: sign in, register a patient, record the first placement
after seeing its plan, record a visit's findings, log a group session, watch the dashboard follow,
and print the wallet card.

The live server runs on the tests' clock (the real one, or the day TEST_TODAY pins), so every date
is counted from the clinic's today and every date in a text is written by patients.formats. The one
placement is dated 28 days ago: its first monitoring visit is then due between today and three days
from now (months are 28 to 31 days long), so its window is open and it is on "Visits this week".
"""

import datetime
from pathlib import Path

import pytest
from playwright.sync_api import Page, expect

from patients import formats, services
from patients.clinic_time import clinic_today
from patients.models import Membership, Patient, Placement, TherapySession, Visit
from patients.records.schedule import add_months
from tests.browser.pages import OpenPage, save_screenshots, sign_in, worklist
from tests.factories import INDUCTION, MembershipFactory, PatientFactory, UserFactory

pytestmark = [pytest.mark.browser, pytest.mark.django_db(transaction=True)]

PASSWORD = "a long enough sign-in phrase"


def open_dashboard(page: Page) -> None:
    page.get_by_role("navigation", name="Main").get_by_role("link", name="Dashboard").click()
    expect(page.get_by_role("heading", level=1)).to_have_text("Dashboard · Riverside Clinic")


@pytest.fixture
def coordinator(clinic, implant):
    """A clinician of Riverside Clinic, whose catalogue has a three-month implant: the morning takes
    both a coordinator's work and a clinician's (placements, findings), which a clinician may do."""
    user = UserFactory(username="rosa", first_name="Rosa", last_name="Diaz", password=PASSWORD)
    MembershipFactory(user=user, clinic=clinic, role=Membership.Role.CLINICIAN)
    return user


@pytest.fixture
def lapsed_patient(clinic, implant):
    """Placed a little over three months ago: 3 to 6 days without cover today, not yet re-induction."""
    patient = PatientFactory(clinic=clinic, record_number="RC-0900", first_name="Lena", last_name="Marsh")
    placed_on = add_months(clinic_today(clinic) - datetime.timedelta(days=3), -3)
    services.record_placement(patient=patient, product=implant, placed_on=placed_on, **INDUCTION)
    return patient


def test_it_walks_a_coordinator_through_the_morning(open_page: OpenPage, artifacts_dir, coordinator, lapsed_patient):
    page = open_page()
    today = clinic_today(coordinator.memberships.get().clinic)
    placed_on = today - datetime.timedelta(days=28)
    covers_until = add_months(placed_on, 3)

    # Signing in lands on the dashboard, where the lapsed patient is the first thing to act on.
    page.goto("/accounts/login/")
    sign_in(page, "rosa", PASSWORD)
    expect(page.get_by_role("heading", level=1)).to_have_text("Dashboard · Riverside Clinic")
    expect(worklist(page, "Coverage lapsed")).to_contain_text("Lena Marsh")

    # Register a patient through the New patient form.
    page.get_by_role("link", name="New patient").click()
    page.get_by_label("Record number").fill("RC-1042")
    page.get_by_label("First name").fill("Nora")
    page.get_by_label("Last name").fill("Quinn")
    page.get_by_label("Date of birth").fill("1988-04-02")
    page.get_by_label("Phone", exact=True).fill("07700 900123")
    page.get_by_label("Email", exact=True).fill("nora.quinn@example.org")
    page.get_by_label("Email consent").check()
    page.get_by_role("button", name="Register patient").click()
    expect(page.get_by_role("status")).to_contain_text("Nora Quinn is registered.")
    expect(page.get_by_role("heading", level=1)).to_have_text("Nora Quinn")
    expect(page.get_by_text("No placement recorded yet.")).to_be_visible()
    patient_url = page.url

    # Record the first placement: the preview shows the plan, and only the second button saves it.
    page.get_by_role("group", name="Actions").get_by_role("link", name="Record placement").click()
    expect(page.get_by_text("This is the patient's first placement.")).to_be_visible()
    page.get_by_label("Placed on").fill(placed_on.isoformat())
    page.get_by_label("Lot number").fill("LOT-4471")
    page.get_by_label("Opioid-free days").fill("10")
    page.get_by_label("Urine screen").select_option(label="Negative")
    page.get_by_label("Naloxone challenge").select_option(label="Negative")
    page.get_by_role("button", name="Preview").click()
    plan = page.get_by_role("region", name="What this placement will create")
    expect(plan).to_contain_text(f"Covered until {covers_until:%a} {formats.day(covers_until)}")
    expect(plan.get_by_role("cell", name="Monitoring", exact=True)).to_have_count(2)
    expect(plan.get_by_role("cell", name="Renewal", exact=True)).to_have_count(1)
    expect(plan.get_by_text("Renewal in 14 days")).to_be_visible()
    expect(plan.get_by_text("Will be sent").first).to_be_visible()
    too_wide = save_screenshots(page, artifacts_dir, "placement-preview")
    assert not Placement.objects.filter(patient__record_number="RC-1042").exists(), "the preview saved"
    page.get_by_role("button", name="Record placement").click()
    expect(page.get_by_role("status")).to_contain_text(f"Nora Quinn is covered until {formats.day(covers_until)}")
    expect(page.get_by_text(f"placed on {formats.day(placed_on)}")).to_be_visible()

    # The dashboard now lists her first monitoring visit, and her therapy as not yet attended.
    open_dashboard(page)
    expect(worklist(page, "Visits this week")).to_contain_text("Nora Quinn")
    expect(worklist(page, "Low therapy attendance")).to_contain_text("Nora Quinn")
    expect(worklist(page, "Coverage lapsed")).not_to_contain_text("Nora Quinn")

    # Record what was found at that visit, opened from the patient's visit plan.
    page.goto(patient_url)
    visit = Visit.objects.get(
        patient__record_number="RC-1042", kind=Visit.Kind.MONITORING, due_on__lte=today + datetime.timedelta(days=3)
    )
    visit_row = page.get_by_role("row").filter(
        has=page.get_by_role("cell", name=formats.day(visit.due_on), exact=True)
    )
    visit_row.get_by_role("link", name="Findings").click()
    expect(page.get_by_role("heading", level=1)).to_have_text("Record what was found")
    expect(page.get_by_label("Seen on")).to_have_value(today.isoformat())
    page.get_by_label("Site check").select_option(label="Healing well")
    page.get_by_label("ALT (U/L)").fill("32")
    page.get_by_label("AST (U/L)").fill("28")
    page.get_by_label("PHQ-9 total").fill("6")
    page.get_by_label("PHQ-9 item 9").fill("0")
    page.get_by_label("Cravings (0 to 10)").fill("3")
    page.get_by_role("button", name="Record visit").click()
    expect(page.get_by_role("status")).to_contain_text("The monitoring visit is recorded as done.")
    expect(visit_row.get_by_text("Completed", exact=True)).to_be_visible()
    expect(visit_row.get_by_role("link", name="Findings")).to_have_count(0)

    # The visit has left this week's list.
    open_dashboard(page)
    expect(worklist(page, "Visits this week")).not_to_contain_text("Nora Quinn")

    # Set up a group with Nora in it, and log a session's attendance for the whole roster.
    page.get_by_role("navigation", name="Main").get_by_role("link", name="Groups").click()
    page.get_by_role("link", name="New group").click()
    page.get_by_label("Name").fill("Tuesday evening group")
    page.get_by_label("Facilitator").fill("Sam Whitfield")
    page.get_by_label("Meets").fill("Tuesdays 18:00")
    page.get_by_role("button", name="Create group").click()
    expect(page.get_by_role("status")).to_contain_text("Tuesday evening group is set up.")
    page.get_by_label("Quinn, Nora (RC-1042)").check()
    page.get_by_role("button", name="Save members").click()
    expect(page.get_by_role("status")).to_contain_text("Tuesday evening group now has 1 member")
    page.get_by_role("link", name="Log attendance").click()
    expect(page.get_by_label("Session held on")).to_have_value(today.isoformat())
    page.get_by_role("group", name="Attendance of Nora Quinn").get_by_label("Attended").check()
    page.get_by_role("button", name="Save attendance").click()
    expect(page.get_by_role("status")).to_contain_text(f"Attendance on {formats.day(today)} is saved for 1 patient")
    sessions = page.get_by_role("region", name="Recent sessions")
    todays_session = sessions.get_by_role("row").filter(has_text=f"{today:%a} {formats.day(today)}")
    expect(todays_session.get_by_role("cell", name="1", exact=True)).to_have_count(2)  # attended, and logged
    assert TherapySession.objects.get().status == TherapySession.Status.ATTENDED

    # Attending today takes her off the low-attendance list; the lapsed patient is still first.
    open_dashboard(page)
    expect(worklist(page, "Low therapy attendance")).not_to_contain_text("Nora Quinn")
    expect(worklist(page, "Coverage lapsed")).to_contain_text("Lena Marsh")
    too_wide += save_screenshots(page, artifacts_dir, "dashboard")

    # The patient page shows all of it: the visit done, the session in the therapy log.
    page.goto(patient_url)
    expect(page.get_by_role("region", name="Therapy log")).to_contain_text("Tuesday evening group")
    too_wide += save_screenshots(page, artifacts_dir, "patient")

    # The wallet card shows the placement, when it runs out, and whom to call.
    page.get_by_role("link", name="Wallet card").click()
    front = page.get_by_role("region", name="Front of the card")
    expect(front).to_contain_text("Nora Quinn")
    expect(front.get_by_role("row", name="Implant placed")).to_contain_text(formats.day(placed_on))
    expect(front.get_by_role("row", name="Protection runs out")).to_contain_text(formats.day(covers_until))
    expect(front).to_contain_text("020 7946 0000")
    back = page.get_by_role("region", name="Back of the card")
    expect(back).to_contain_text("Opioid pain relief")
    expect(back).to_contain_text("Every doctor, dentist and emergency team must be told")
    page.screenshot(path=artifacts_dir / "wallet-card-laptop.png", full_page=True)

    # Printed, the card loses the page's buttons.
    page.emulate_media(media="print")
    expect(page.get_by_role("link", name="Download PDF")).to_be_hidden()
    page.pdf(path=artifacts_dir / "wallet-card-printed.pdf", format="A4")
    page.emulate_media(media="screen")

    # And the PDF link downloads a PDF.
    with page.expect_download() as download_info:
        page.get_by_role("link", name="Download PDF").click()
    download = download_info.value
    assert download.suggested_filename == "wallet-card.pdf"
    pdf = Path(download.path()).read_bytes()
    assert pdf.startswith(b"%PDF-")
    download.save_as(artifacts_dir / "wallet-card.pdf")
    answer = page.request.get(page.get_by_role("link", name="Download PDF").get_attribute("href") or "")
    assert answer.headers["content-type"] == "application/pdf"

    assert not too_wide, "pages scroll sideways:\n" + "\n".join(too_wide)


def test_it_sends_an_anonymous_visitor_to_sign_in(open_page: OpenPage, live_server, coordinator):
    page = open_page()
    page.goto("/")
    expect(page).to_have_url(f"{live_server.url}/accounts/login/?next=/")
    expect(page.get_by_role("heading", name="Sign in")).to_be_visible()
    expect(page.get_by_role("navigation", name="Main").get_by_role("link", name="Patients")).to_have_count(0)

    # Signing in from there goes where the visitor was heading.
    sign_in(page, "rosa", PASSWORD)
    expect(page.get_by_role("heading", level=1)).to_have_text("Dashboard · Riverside Clinic")


def test_it_refuses_a_wrong_password_and_keeps_the_username(open_page: OpenPage, coordinator):
    page = open_page()
    page.goto("/accounts/login/")
    sign_in(page, "rosa", "not the password")
    expect(page.get_by_role("heading", name="Sign in")).to_be_visible()
    expect(page.get_by_text("Please enter a correct username and password")).to_be_visible()
    expect(page.get_by_label("Username")).to_have_value("rosa")


def test_it_works_without_javascript(open_page: OpenPage, coordinator, lapsed_patient):
    page = open_page(java_script_enabled=False)
    page.goto("/")
    expect(page.get_by_role("heading", name="Sign in")).to_be_visible()
    sign_in(page, "rosa", PASSWORD)
    expect(page.get_by_role("heading", level=1)).to_have_text("Dashboard · Riverside Clinic")
    expect(worklist(page, "Coverage lapsed")).to_contain_text("Lena Marsh")

    # A form posts, and a refusal comes back beside its field with what was typed kept.
    page.get_by_role("link", name="New patient").click()
    page.get_by_label("Record number").fill("RC-0900")
    page.get_by_label("First name").fill("Owen")
    page.get_by_label("Last name").fill("Price")
    page.get_by_label("Date of birth").fill("1979-11-23")
    page.get_by_role("button", name="Register patient").click()
    expect(page.get_by_text("Another patient of this clinic already has this record number.")).to_be_visible()
    expect(page.get_by_label("First name")).to_have_value("Owen")
    page.get_by_label("Record number").fill("RC-0901")
    page.get_by_role("button", name="Register patient").click()
    expect(page.get_by_role("status")).to_contain_text("Owen Price is registered.")
    assert Patient.objects.filter(record_number="RC-0901").exists()

    # The placement form's folded sections open without scripts (they are <details>).
    page.get_by_role("group", name="Actions").get_by_role("link", name="Record placement").click()
    page.get_by_text("Coverage override").click()
    expect(page.get_by_label("Covers until (override)")).to_be_visible()


def test_the_patient_list_follows_the_search_as_it_is_typed(open_page: OpenPage, coordinator, lapsed_patient, clinic):
    PatientFactory(clinic=clinic, record_number="RC-0901", first_name="Otto", last_name="Brandt")
    page = open_page()
    page.goto("/patients/")
    sign_in(page, "rosa", PASSWORD)
    table = page.get_by_role("table")
    expect(table).to_contain_text("Otto Brandt")
    page.get_by_label("Name or record number").fill("marsh")  # no button pressed: htmx asks as you type
    expect(table).not_to_contain_text("Otto Brandt")
    expect(table).to_contain_text("Lena Marsh")
    assert "q=marsh" in page.url
