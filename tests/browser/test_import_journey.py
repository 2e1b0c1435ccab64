"""A manager brings a clinic's earlier records in from spreadsheets, in Chromium, with a real worker.

The page queues the check and the import in Redis; a Celery worker in another process runs them
against the test database (the integration tests' ``stack``), and the page follows each run by
polling until it reloads on the outcome. The first file is refused for one row and saves nothing;
the corrected file is checked, confirmed and imported; then a file of past placements, which the
patient's page says were brought in.

The worker is started only once the first file waits for it, and stopped before the corrected file
is confirmed, so that the page is seen following a run under way both times, whatever the speed
of the machine. Every page met on the way goes through the validators.

Marked ``workers``: the worker runs on the real clock, so the live server does too (TEST_TODAY
leaves the test alone), and every date is counted from the clinic's today on that clock.
"""

import datetime
import re
from pathlib import Path

import pytest
from django.utils import timezone
from playwright.sync_api import Locator, Page, expect

from patients import formats
from patients.clinic_time import clinic_today
from patients.models import ImportRun, Membership, Patient, Placement
from tests.browser.pages import LAPTOP, TABLET, OpenPage, save_screenshots, sign_in
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
from tests.factories import MembershipFactory, UserFactory
from tests.integration.conftest import Stack, broker, smtp_server, stack  # noqa: F401
from tests.integration.processes import Process, wait_until

pytestmark = [pytest.mark.browser, pytest.mark.workers, pytest.mark.django_db(transaction=True)]

PASSWORD = "a long enough sign-in phrase"
# A worker's step on a few rows takes a second; the rest is room for a slow machine.
WORKER_STEP_MS = 60_000
PATIENT_HEADINGS = "Record number,First name,Last name,Date of birth,Email,Phone,Email consent\n"
PATIENT_ROWS = (
    "IMP-1,Ada,Porter,15/01/1980,ada@example.org,0700 000 001,yes\n"
    "IMP-2,Ben,Porter,15/02/1981,,0700 000 002,no\n"
    "IMP-3,Cleo,Marsh,01/12/1979,,,no\n"
)


@pytest.fixture
def clinic_manager(clinic, implant):
    """The manager of Riverside Clinic, whose catalogue has a three-month implant."""
    user = UserFactory(username="mara", first_name="Mara", last_name="Quill", password=PASSWORD)
    MembershipFactory(user=user, clinic=clinic, role=Membership.Role.MANAGER)
    return user


class Checked:
    """The pages of the journey, saved as the browser has them, for the validators at the end."""

    def __init__(self, folder: Path, tools: NodeTools) -> None:
        self.folder = folder
        self.tools = tools
        self.reports: list[PageReport] = []

    def page(self, page: Page, name: str, *, under_way: bool = False) -> None:
        report = PageReport(name=name, html_file=self.folder / f"{len(self.reports) + 1:02d}.html")
        report.html_file.write_text(page.content(), encoding="utf-8")
        report.structure = page.evaluate(LANDMARKS)
        # htmx swaps the progress every 2 s while axe-core walks the page over several turns of the
        # event loop: a page under way is checked for its HTML and structure only.
        if not under_way:
            report.axe_violations = run_axe(page, self.tools)
        page.set_viewport_size(TABLET)
        report.tables_too_wide = page.evaluate(TABLES_TOO_WIDE)
        if (width := page.evaluate("document.documentElement.scrollWidth")) > TABLET["width"]:
            report.tables_too_wide.append(f"the page is {width}px wide")
        page.set_viewport_size(LAPTOP)
        self.reports.append(report)


def upload(page: Page, path: Path, *, kind: str) -> None:
    page.get_by_role("radio", name=kind, exact=True).check()
    page.get_by_label("Dates not written YYYY-MM-DD are").select_option(label="Day first: 31/12/2024")
    page.get_by_label("Spreadsheet").set_input_files(path)
    page.get_by_role("button", name="Check the file").click()


def outcome(page: Page, text: str) -> None:
    """The run's outcome, once the worker is done and the polling page has reloaded on it."""
    expect(page.get_by_role("status").filter(has_text=text)).to_be_visible(timeout=WORKER_STEP_MS)


def row(page: Page, number: int) -> Locator:
    return page.get_by_role("row").filter(has=page.get_by_role("rowheader", name=str(number), exact=True))


def finished_tasks(worker: Process, task: str) -> int:
    return len(re.findall(rf"{re.escape(task)}\[[0-9a-f-]+\] succeeded", worker.log()))


def test_it_walks_a_manager_from_upload_to_the_finished_import(
    open_page: OpenPage,
    artifacts_dir: Path,
    node_tools: NodeTools,
    stack: Stack,  # noqa: F811
    smtp_server,  # noqa: F811
    tmp_path: Path,
    pytestconfig: pytest.Config,
    clinic,
    clinic_manager,
):
    email_url = smtp_server().url
    files = tmp_path / "files"
    files.mkdir()
    pages_folder = tmp_path / "pages"
    pages_folder.mkdir()
    checked = Checked(pages_folder, node_tools)
    today = clinic_today(clinic)
    page = open_page()

    # From the Patients page to the import page.
    page.goto("/accounts/login/")
    sign_in(page, "mara", PASSWORD)
    expect(page.get_by_role("heading", level=1)).to_have_text("Dashboard · Riverside Clinic")
    page.get_by_role("navigation", name="Main").get_by_role("link", name="Patients").click()
    page.get_by_role("link", name="Import from a spreadsheet").click()
    expect(page.get_by_role("heading", level=1)).to_have_text("Import a clinic's records")
    checked.page(page, "import: start")
    too_wide = save_screenshots(page, artifacts_dir, "import-start")

    # The blank template of the patients' columns.
    with page.expect_download() as download_info:
        page.get_by_role("region", name=re.compile(r"^Patients")).get_by_role("link", name="template (CSV)").click()
    download = download_info.value
    assert download.suggested_filename == "patients-template.csv"
    headings = Path(download.path()).read_text(encoding="utf-8-sig").splitlines()[0].split(",")
    assert headings[:4] == ["Record number", "First name", "Last name", "Date of birth"]

    # A file whose first row has no first name. No worker runs yet: the page says it waits.
    patients_csv = files / "patients.csv"
    patients_csv.write_text(PATIENT_HEADINGS + PATIENT_ROWS.replace("IMP-1,Ada,", "IMP-1,,"), encoding="utf-8")
    upload(page, patients_csv, kind="Patients")
    expect(page.get_by_role("heading", level=1)).to_have_text("Patients from patients.csv")
    progress = page.locator("#import-progress")
    expect(progress).to_contain_text("Checking the file: nothing is saved yet.")
    expect(progress).to_contain_text("3 rows; starting.")
    checked.page(page, "import: checking", under_way=True)
    worker = stack.worker(email_url=email_url)
    outcome(page, "Refused: nothing saved.")
    expect(page.get_by_role("status").filter(has_text="Refused")).to_contain_text(
        "1 row cannot be brought in, so nothing was saved."
    )
    expect(row(page, 2)).to_contain_text("Refused")
    expect(row(page, 2)).to_contain_text("First name: This column is required.")
    expect(row(page, 3)).to_contain_text("New patient Ben Porter.")
    expect(page.get_by_role("button", name=re.compile(r"^Import"))).to_have_count(0)
    checked.page(page, "import: refused")
    too_wide += save_screenshots(page, artifacts_dir, "import-refused")
    assert ImportRun.objects.get().status == ImportRun.Status.REFUSED
    assert not Patient.objects.exists()

    # The corrected file: each row in the preview, and nothing saved until it is confirmed.
    page.get_by_role("link", name="Upload the corrected file").click()
    patients_csv.write_text(PATIENT_HEADINGS + PATIENT_ROWS, encoding="utf-8")
    upload(page, patients_csv, kind="Patients")
    outcome(page, "Checked: waiting to be confirmed.")
    expect(page.get_by_role("status").filter(has_text="Checked")).to_contain_text("Nothing is saved yet.")
    expect(page.get_by_text("dates read as Day first: 31/12/2024")).to_be_visible()
    for number, name in ((2, "Ada Porter"), (3, "Ben Porter"), (4, "Cleo Marsh")):
        expect(row(page, number)).to_contain_text(f"New patient {name}.")
    checked.page(page, "import: preview")
    too_wide += save_screenshots(page, artifacts_dir, "import-preview")
    assert not Patient.objects.exists(), "the check saved"

    # Confirmed while no worker runs: the page follows the import under way, then reloads on its end.
    wait_until(
        lambda: finished_tasks(worker, "patients.tasks.check_waiting_imports") == 2,
        timeout=WORKER_STEP_MS / 1000,
        what="the worker acknowledges both checks",
        logs=stack.logs,
    )
    worker.kill()
    page.get_by_role("button", name="Import 3 rows").click()
    expect(progress).to_contain_text("Importing: every row is saved when the last one is, or none.")
    checked.page(page, "import: importing", under_way=True)
    stack.worker(email_url=email_url)
    outcome(page, "Imported.")
    expect(row(page, 2)).to_contain_text("New patient Ada Porter.")
    expect(page.get_by_role("button", name=re.compile(r"^Import"))).to_have_count(0)
    checked.page(page, "import: done")
    too_wide += save_screenshots(page, artifacts_dir, "import-done")
    patients = Patient.objects.filter(clinic=clinic).order_by("record_number")
    assert [(p.record_number, p.full_name, p.date_of_birth) for p in patients] == [
        ("IMP-1", "Ada Porter", datetime.date(1980, 1, 15)),
        ("IMP-2", "Ben Porter", datetime.date(1981, 2, 15)),
        ("IMP-3", "Cleo Marsh", datetime.date(1979, 12, 1)),
    ]

    # The placements the clinic recorded before the tracker, in the past of the clinic's today.
    placed = {"IMP-1": today - datetime.timedelta(days=40), "IMP-2": today - datetime.timedelta(days=10)}
    placements_csv = files / "placements.csv"
    placements_csv.write_text(
        "Record number,Product,Placed on\n"
        + "".join(f"{number},Three-month implant,{day:%d/%m/%Y}\n" for number, day in placed.items()),
        encoding="utf-8",
    )
    page.get_by_role("link", name="Import records").click()
    upload(page, placements_csv, kind="Placements")
    outcome(page, "Checked: waiting to be confirmed.")
    expect(row(page, 2)).to_contain_text(f"Ada Porter: Three-month implant on {formats.day(placed['IMP-1'])}")
    expect(row(page, 3)).to_contain_text(f"Ben Porter: Three-month implant on {formats.day(placed['IMP-2'])}")
    page.get_by_role("button", name="Import 2 rows").click()
    outcome(page, "Imported.")
    run = ImportRun.objects.get(kind=ImportRun.Kind.PLACEMENTS)
    assert run.status == ImportRun.Status.DONE
    assert sorted(Placement.objects.filter(imported_in=run).values_list("patient__record_number", "placed_on")) == [
        ("IMP-1", placed["IMP-1"]),
        ("IMP-2", placed["IMP-2"]),
    ]

    # Ada's page says where her placement came from.
    page.get_by_role("navigation", name="Main").get_by_role("link", name="Patients").click()
    page.get_by_role("link", name="Ada Porter").click()
    expect(page.get_by_role("heading", level=1)).to_have_text("Ada Porter")
    brought_in_on = formats.day(timezone.localtime(run.started_at))
    expect(page.get_by_role("region", name="Visit plan")).to_contain_text(
        f"Brought in from placements.csv on {brought_in_on}; no induction checklist recorded."
    )
    checked.page(page, "patient with an imported placement")
    too_wide += save_screenshots(page, artifacts_dir, "import-patient")

    run_vnu(checked.reports, node_tools)
    figures = table_of_figures(checked.reports)
    (artifacts_dir / "validators-import.txt").write_text(figures + "\n", encoding="utf-8")
    pytestconfig.stash.setdefault(FIGURES, []).append(figures)
    problems = failures(checked.reports)
    assert not problems, f"{len(problems)} problems:\n" + "\n".join(problems)
    assert not too_wide, "pages scroll sideways:\n" + "\n".join(too_wide)
