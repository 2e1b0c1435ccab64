"""The page checks of the browser tests: the Nu Html Checker (HTML), axe-core (accessibility), and a
measure of tables that scroll sideways.

Both checkers come from the npm registry, pinned in package.json and installed into node_modules/
by scripts/node-tools.sh, which `make test` runs. ``node_tools`` finds them, and like every service
fixture fails on CI (skips elsewhere) when they are missing.
"""

import json
import os
import shutil
import subprocess
from dataclasses import dataclass, field
from pathlib import Path
from urllib.parse import urlsplit

import pytest
from django.conf import settings
from playwright.sync_api import Page

from tests.service_fixtures import service_missing

# The figures tables of this run, printed in the terminal summary (tests/browser/conftest.py).
FIGURES = pytest.StashKey[list[str]]()
# WCAG 2.2 AA, and the levels it builds on.
AXE_TAGS = ["wcag2a", "wcag2aa", "wcag21a", "wcag21aa", "wcag22aa"]
SERIOUS = ("serious", "critical")
# The Nu Html Checker starts a JVM, which takes seconds: it checks every saved page in one run.
VNU_TIMEOUT_SECONDS = 300

# Each violation with the CSS selectors of the elements it was found on.
AXE_RUN = """
async (tags) => (await axe.run(document, {runOnly: {type: 'tag', values: tags}})).violations.map(
  ({id, impact, help, nodes}) => ({id, impact, help, targets: nodes.map((node) => node.target.join(' '))})
)
"""
# One error the Nu Html Checker must find, to prove it read the files.
CANARY_PAGE = '<!doctype html><html lang="en"><title>Canary</title><p hx-get="/">An htmx attribute</p></html>'
# What WCAG leaves to best practice, but every page here has: one main landmark and one h1; and no
# template syntax that reached the page as text.
LANDMARKS = r"""
() => {
  const found = [];
  const main = document.querySelectorAll('main, [role=main]').length;
  const h1 = document.querySelectorAll('h1').length;
  if (main !== 1) found.push(`${main} main landmarks, not one`);
  if (h1 !== 1) found.push(`${h1} h1 headings, not one`);
  // A template comment or tag that spans lines where Django reads only one shows as text.
  const leaked = document.body.innerText.match(/\{[#%][^]{0,60}/);
  if (leaked) found.push(`template syntax shows as text: ${leaked[0]}`);
  return found;
}
"""
# Every table must fit the width it is given, and no box round it may scroll (or clip) it sideways:
# a table that scrolls inside its own box hides columns just as a page that scrolls sideways does.
# Boxes that let their content show (overflow: visible) are left to the page's own width check.
# Answers one line per offender, naming the table by its caption, its labelled region or its first
# header.
TABLES_TOO_WIDE = """
() => {
  const found = [];
  const name = (table) => {
    const caption = table.querySelector('caption');
    const region = table.closest('[aria-labelledby], [aria-label]');
    const label = region && (region.getAttribute('aria-label') ||
      document.getElementById(region.getAttribute('aria-labelledby'))?.textContent);
    const header = table.querySelector('th');
    return (caption?.textContent || label || header?.textContent || 'a table').trim().replace(/\\s+/g, ' ');
  };
  for (const table of document.querySelectorAll('table')) {
    if (!table.getClientRects().length) continue;
    const given = table.parentElement.clientWidth;
    if (table.scrollWidth > given + 1) {
      found.push(`${name(table)}: ${table.scrollWidth}px wide in ${given}px`);
      continue;
    }
    for (let box = table.parentElement; box && box !== document.body; box = box.parentElement) {
      if (getComputedStyle(box).overflowX !== 'visible' && box.scrollWidth > box.clientWidth + 1) {
        found.push(`${name(table)}: ${box.scrollWidth}px of content in ${box.clientWidth}px`);
        break;
      }
    }
  }
  return found;
}
"""


@dataclass(frozen=True)
class NodeTools:
    vnu_jar: Path
    axe_script: Path
    java: str


@pytest.fixture(scope="session")
def node_tools() -> NodeTools:
    """The checkers that scripts/node-tools.sh installs (`npm ci`), and Java for the Nu Html Checker."""
    modules = Path(settings.BASE_DIR) / "node_modules"
    tools = NodeTools(
        vnu_jar=modules / "vnu-jar" / "build" / "dist" / "vnu.jar",
        axe_script=modules / "axe-core" / "axe.min.js",
        java=shutil.which("java") or "",
    )
    for path in (tools.vnu_jar, tools.axe_script):
        if not path.is_file():
            service_missing(f"no {path.relative_to(settings.BASE_DIR)}: run scripts/node-tools.sh (npm ci).")
    if not tools.java:
        service_missing("no java on PATH for the Nu Html Checker (Debian's package: default-jre-headless).")
    return tools


@dataclass
class PageReport:
    """What the checkers found on one page."""

    name: str
    html_file: Path
    vnu_errors: list[str] = field(default_factory=list)
    axe_violations: list[dict] = field(default_factory=list)
    tables_too_wide: list[str] = field(default_factory=list)
    structure: list[str] = field(default_factory=list)

    @property
    def axe_serious(self) -> list[dict]:
        return [violation for violation in self.axe_violations if violation["impact"] in SERIOUS]


def run_axe(page: Page, tools: NodeTools) -> list[dict]:
    """axe-core's WCAG 2.2 AA violations on the page as it stands.

    axe-core goes in through Playwright's evaluate, not a script tag: the pages' Content-Security-
    Policy refuses inline scripts, and a context that bypassed it would hide the pages' own breaches.
    """
    if not page.evaluate("typeof axe !== 'undefined'"):
        page.evaluate(tools.axe_script.read_text(encoding="utf-8"))
    return page.evaluate(AXE_RUN, AXE_TAGS)


def run_vnu(reports: list[PageReport], tools: NodeTools) -> None:
    """Checks every saved page in one run of the Nu Html Checker, and files its errors by page.

    A canary page with one known error goes along: a checker that read nothing (a file it could not
    open, an answer in another shape) would otherwise pass every page.
    """
    canary = reports[0].html_file.with_name("canary.html")
    canary.write_text(CANARY_PAGE, encoding="utf-8")
    by_path = {str(report.html_file.resolve()): report for report in reports}
    result = subprocess.run(
        [tools.java, "-jar", str(tools.vnu_jar), "--format", "json", "--exit-zero-always", str(canary), *by_path],
        capture_output=True,
        text=True,
        timeout=VNU_TIMEOUT_SECONDS,
        check=True,
        env={**os.environ, "LANG": "C.UTF-8"},
    )
    canary_errors = []
    # The JSON report goes to standard error; Java may write warnings before it.
    answer = result.stderr[result.stderr.index('{"') :] if '{"' in result.stderr else result.stdout
    for message in json.loads(answer)["messages"]:
        if message["type"] != "error":
            continue
        path = urlsplit(message.get("url", "")).path
        where = f"line {message['lastLine']}: " if "lastLine" in message else ""
        line = f"{where}{message['message']}"
        if extract := message.get("extract"):
            line += f" [{' '.join(extract.split())}]"
        if path == str(canary.resolve()):
            canary_errors.append(line)
        elif path in by_path:
            by_path[path].vnu_errors.append(line)
        else:
            raise AssertionError(f"the Nu Html Checker answered about something it was not given: {message}")
    assert canary_errors, f"the Nu Html Checker found nothing wrong with a broken page: {answer[:2000]}"


def table_of_figures(reports: list[PageReport]) -> str:
    width = max(len(report.name) for report in reports)
    lines = [f"{'page':<{width}}  {'vnu errors':>10}  {'axe serious+critical':>20}  {'axe total':>9}"]
    for report in reports:
        lines.append(
            f"{report.name:<{width}}  {len(report.vnu_errors):>10}  {len(report.axe_serious):>20}"
            f"  {len(report.axe_violations):>9}"
        )
    lines.append(
        f"{len(reports)} pages: {sum(len(r.vnu_errors) for r in reports)} vnu errors, "
        f"{sum(len(r.axe_serious) for r in reports)} serious or critical axe violations, "
        f"{sum(len(r.axe_violations) for r in reports)} axe violations in all"
    )
    return "\n".join(lines)


def failures(reports: list[PageReport]) -> list[str]:
    found = []
    for report in reports:
        found += [f"{report.name}: Nu Html Checker: {error}" for error in report.vnu_errors]
        for violation in report.axe_serious:
            found.append(
                f"{report.name}: axe {violation['impact']} {violation['id']}: {violation['help']}"
                f" at {violation['targets']}"
            )
        found += [f"{report.name}: {problem}" for problem in report.structure]
        found += [f"{report.name}: scrolls sideways at tablet width: {table}" for table in report.tables_too_wide]
    return found
