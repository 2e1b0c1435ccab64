"""Every page the demo reaches, signed in and public, passes the validators.

Each page is opened in Chromium as the demo login that would open it, saved as the browser has it,
and checked: the Nu Html Checker finds no error (one run over all the saved pages: its JVM is slow
to start), axe-core finds no serious or critical WCAG 2.2 AA violation, and at tablet width no table
makes the page, or its own box, scroll sideways. The figures of every page are printed at the end
of the run and kept in test-artifacts/browser/<database>/validators.txt.
"""

import io
import uuid
from collections.abc import Callable
from pathlib import Path

import pytest
from django.core.management import call_command
from django.db.models import Count
from django.urls import reverse
from playwright.sync_api import Page, expect

from patients import demo
from patients.management.commands.seed_demo import LOGINS
from patients.models import Patient, Reminder, TherapyGroup, Visit
from patients.reminders import links
from patients.reminders.message import UPCOMING_KINDS
from tests.browser.conftest import BrowserProblems
from tests.browser.pages import LAPTOP, TABLET, OpenPage, sign_in
from tests.browser.validators import (
    FIGURES,
    LANDMARKS,
    TABLES_TOO_WIDE,
    NodeTools,
    PageReport,
    failures,
    run_axe,
    run_vnu,
    table_of_figures,
)

pytestmark = [pytest.mark.browser, pytest.mark.django_db(transaction=True)]

# Pages that answer an error status on purpose.
ERROR_PAGES = {"bad link (public)": 404, "403 (history, coordinator)": 403, "404": 404}
# A step on a page before it is checked: fill a form and press a button, or nothing.
Step = Callable[[Page], None] | None


@pytest.fixture
def demo_clinic() -> None:
    call_command("seed_demo", stdout=io.StringIO())


def login(role: str) -> tuple[str, str]:
    _title, username, password, _role = next(entry for entry in LOGINS if entry[1] == role)
    return username, password


def demo_patient(scenario: demo.Scenario) -> Patient:
    number = next(number for number in range(1, len(demo.CYCLE) + 1) if demo.scenario_for(number)[0] == scenario)
    return Patient.objects.get(record_number=demo.record_number(number))


def preview_placement(page: Page) -> None:
    page.get_by_label("Lot number").fill("LOT-4471")
    page.get_by_role("button", name="Preview").click()
    expect(page.get_by_role("region", name="What this placement will create")).to_contain_text("Covered until")


def search_patients(page: Page) -> None:
    """Types a search: htmx replaces the results, and the page is checked as the swap left it."""
    page.get_by_role("searchbox").fill("Ma")
    expect(page.get_by_role("status")).to_contain_text("match")
    expect(page.locator("form.htmx-request")).to_have_count(0)


def pages_to_check() -> list[tuple[str, str, str, Step]]:
    """(name, login or "" for none, address, step) for every page the demo reaches."""
    busiest = Patient.objects.annotate(placements_made=Count("placements")).order_by("-placements_made", "pk")[0]
    lapsed = demo_patient(demo.Scenario.LAPSED)
    new_referral = demo_patient(demo.Scenario.NEW_REFERRAL)
    open_visit = Visit.objects.filter(patient=busiest, status=Visit.Status.SCHEDULED).order_by("due_on").first()
    assert open_visit, "the busiest demo patient has no visit to come"
    group = TherapyGroup.objects.annotate(roster_size=Count("members")).order_by("-roster_size", "pk")[0]
    reminder = (
        Reminder.objects.filter(kind__in=UPCOMING_KINDS, visit__status=Visit.Status.SCHEDULED)
        .order_by("send_at")
        .last()
    )
    assert reminder, "the demo has no reminder of a visit to come"
    token = links.make_token(reminder)

    def patient_page(name: str, patient: Patient) -> str:
        return reverse(f"patients:{name}", args=[patient.uuid])

    return [
        ("sign-in", "", reverse("login"), None),
        ("confirm (public)", "", reverse("public:confirm", args=[token]), None),
        ("unsubscribe (public)", "", reverse("public:unsubscribe", args=[token]), None),
        ("bad link (public)", "", reverse("public:confirm", args=["not-a-token"]), None),
        ("dashboard", "coordinator", reverse("patients:dashboard"), None),
        ("patient list", "coordinator", reverse("patients:patient_list"), None),
        ("patient search", "coordinator", reverse("patients:patient_list"), search_patients),
        ("patient (busiest)", "coordinator", busiest.get_absolute_url(), None),
        ("patient (lapsed)", "coordinator", lapsed.get_absolute_url(), None),
        ("patient (new referral)", "coordinator", new_referral.get_absolute_url(), None),
        ("wallet card", "coordinator", patient_page("wallet_card", busiest), None),
        ("wallet card (empty)", "coordinator", patient_page("wallet_card", new_referral), None),
        ("new patient", "coordinator", reverse("patients:patient_create"), None),
        ("edit patient", "coordinator", patient_page("patient_edit", busiest), None),
        ("booking", "coordinator", reverse("patients:visit_reschedule", args=[open_visit.uuid]), None),
        ("follow-up call", "coordinator", patient_page("follow_up_call_create", lapsed), None),
        ("therapy session", "coordinator", patient_page("session_create", busiest), None),
        ("groups", "coordinator", reverse("patients:group_list"), None),
        ("new group", "coordinator", reverse("patients:group_create"), None),
        ("group roster", "coordinator", reverse("patients:group_detail", args=[group.uuid]), None),
        ("group attendance", "coordinator", reverse("patients:group_attendance", args=[group.uuid]), None),
        ("reports", "coordinator", reverse("patients:reports"), None),
        ("two-factor", "coordinator", reverse("accounts:two_factor"), None),
        ("two-factor enrolment", "coordinator", reverse("accounts:two_factor"), start_enrolment),
        ("403 (history, coordinator)", "coordinator", patient_page("patient_history", busiest), None),
        ("404", "coordinator", reverse("patients:patient_detail", args=[uuid.UUID(int=0)]), None),
        ("dashboard (clinician)", "clinician", reverse("patients:dashboard"), None),
        ("patient (clinician)", "clinician", busiest.get_absolute_url(), None),
        ("history", "clinician", patient_page("patient_history", busiest), None),
        ("new placement", "clinician", patient_page("placement_create", busiest), None),
        ("new placement preview", "clinician", patient_page("placement_create", busiest), preview_placement),
        ("findings", "clinician", reverse("patients:visit_findings", args=[open_visit.uuid]), None),
        ("dashboard (manager)", "manager", reverse("patients:dashboard"), None),
        ("patient (manager)", "manager", lapsed.get_absolute_url(), None),
        ("reports (manager)", "manager", reverse("patients:reports"), None),
    ]


def start_enrolment(page: Page) -> None:
    page.get_by_role("button", name="Set up two-factor sign-in").click()
    expect(page.get_by_role("heading", name="Set up your authenticator")).to_be_visible()


def check_page(page: Page, report: PageReport, tools: NodeTools) -> None:
    report.html_file.write_text(page.content(), encoding="utf-8")
    report.axe_violations = run_axe(page, tools)
    report.structure = page.evaluate(LANDMARKS)
    page.set_viewport_size(TABLET)
    report.tables_too_wide = page.evaluate(TABLES_TOO_WIDE)
    if (width := page.evaluate("document.documentElement.scrollWidth")) > TABLET["width"]:
        report.tables_too_wide.append(f"the page is {width}px wide")
    page.set_viewport_size(LAPTOP)


def test_every_page_passes_the_validators(
    open_page: OpenPage,
    browser_problems: BrowserProblems,
    node_tools: NodeTools,
    demo_clinic,
    tmp_path: Path,
    artifacts_dir: Path,
    pytestconfig: pytest.Config,
):
    signed_in: dict[str, Page] = {}
    reports = []
    for number, (name, role, address, step) in enumerate(pages_to_check(), start=1):
        if role not in signed_in:
            signed_in[role] = open_page()
            if role:
                signed_in[role].goto(reverse("login"))
                sign_in(signed_in[role], *login(role))
                expect(signed_in[role].get_by_role("heading", level=1)).to_be_visible()
        page = signed_in[role]
        if name in ERROR_PAGES:
            browser_problems.expect_status(ERROR_PAGES[name], address)
        answer = page.goto(address)
        assert answer, f"{name}: no answer"
        assert answer.status == ERROR_PAGES.get(name, 200), f"{name} answered {answer.status}"
        if step:
            step(page)
        report = PageReport(name=name, html_file=tmp_path / f"{number:02d}.html")
        check_page(page, report, node_tools)
        reports.append(report)
    run_vnu(reports, node_tools)

    figures = table_of_figures(reports)
    (artifacts_dir / "validators.txt").write_text(figures + "\n", encoding="utf-8")
    pytestconfig.stash.setdefault(FIGURES, []).append(figures)
    problems = failures(reports)
    assert not problems, f"{len(problems)} problems:\n" + "\n".join(problems)
