"""The performance record as text: one table of every run's figures, then each target, met or not.

Reads the figures ``measure.py`` writes (one dict per database and size) and prints; it asserts
nothing. A page's ratio to raw SQL compares it with the hand-written SQL for the same data: the
dashboard with its worklists, the reports page and its CSV with the monthly figures.
"""

from collections.abc import Iterator
from typing import Any

# Each page measured against the raw SQL for the same data, where the benchmark has it.
RAW_SQL_FOR = {"dashboard": "worklists_ms", "reports": "figures_ms", "monthly CSV": "figures_ms"}
MAX_QUERIES = 10
BASE_SIZE = 1_000
# At most this many times the page's median at BASE_SIZE.
MAX_GROWTH = {20_000: 1.5, 100_000: 2.0}
MAX_DASHBOARD_TO_RAW_SQL = 3.0
REPORTS_SIZE, REPORTS_MAX_MS = 20_000, 100.0
MIN_DISPATCH_TO_SMTPLIB = 0.7

HEADINGS = ("database", "patients", "measure", "figure", "queries", "vs raw SQL", "vs smallest")
WIDTHS = (11, 9, 30, 9, 8, 12, 12)


def _ratio(value: float, base: float) -> str:
    return f"{value / base:.2f}x" if base else "-"


def _line(cells: tuple[object, ...]) -> str:
    database, patients, measure, *figures = cells
    left = f"{database!s:<{WIDTHS[0]}}{patients!s:>{WIDTHS[1]}}  {measure!s:<{WIDTHS[2]}}"
    right = [f"{cell!s:>{width}}" for cell, width in zip(figures, WIDTHS[3:], strict=True)]
    return (left + "".join(right)).rstrip()


def _smallest(runs: list[dict[str, Any]], run: dict[str, Any]) -> dict[str, Any]:
    same_database = [other for other in runs if other["database"] == run["database"]]
    return min(same_database, key=lambda other: other["patients"])


def _rows(run: dict[str, Any], smallest: dict[str, Any]) -> Iterator[tuple[object, ...]]:
    raw, base_raw, dispatch = run["raw_sql"], smallest["raw_sql"], run["dispatch"]
    yield ("seeding, s", f"{run['seed_seconds']:.1f}", "", "", _ratio(run["seed_seconds"], smallest["seed_seconds"]))
    for name, page in run["pages"].items():
        raw_ratio = _ratio(page["median_ms"], raw[RAW_SQL_FOR[name]]) if name in RAW_SQL_FOR else ""
        base = smallest["pages"][name]["median_ms"]
        queries = "/".join(str(count) for count in page["query_counts"])
        yield (f"{name}, ms", f"{page['median_ms']:.1f}", queries, raw_ratio, _ratio(page["median_ms"], base))
    for label, key in (("raw SQL worklists, ms", "worklists"), ("raw SQL monthly figures, ms", "figures")):
        median = raw[f"{key}_ms"]
        yield (label, f"{median:.1f}", raw[f"{key}_queries"], "", _ratio(median, base_raw[f"{key}_ms"]))
    rate, bare = dispatch["dispatch_per_second"], dispatch["smtplib_per_second"]
    yield ("dispatch, messages/s", f"{rate:.0f}", "", f"{_ratio(rate, bare)} (bare)", "")
    yield ("bare smtplib, messages/s", f"{bare:.0f}", "", "", "")


def table(runs: list[dict[str, Any]]) -> str:
    lines = [_line(HEADINGS), "-" * (sum(WIDTHS) + 2)]
    for run in runs:
        smallest = _smallest(runs, run)
        for measure, *figures in _rows(run, smallest):
            lines.append(_line((run["database"], f"{run['patients']:,}", measure, *figures)))
        lines.append("")
    notes = [
        f"  {run['database']}, {run['patients']:,} patients: the raw SQL counts differ from the app's lists; "
        "its figures measure something else"
        for run in runs
        if not run["raw_sql"]["agrees"]
    ]
    dispatch_notes = [
        f"  {run['database']}, {run['patients']:,} patients: {run['dispatch']['sent']} of "
        f"{run['dispatch']['due']} due reminders sent"
        for run in runs
        if run["dispatch"]["sent"] != run["dispatch"]["due"]
    ]
    legend = (
        "Medians of the requests each run makes; queries per request (two figures: it varied). 'vs raw SQL' is "
        "the page over the hand-written SQL\nfor the same data (dispatch: over the bare smtplib loop); "
        "'vs smallest' is the figure over the smallest size on the same database."
    )
    return "\n".join([*lines, legend, *notes, *dispatch_notes])


def _verdict(met: bool) -> str:
    return "met" if met else "NOT met"


def targets(runs: list[dict[str, Any]]) -> str:
    lines = ["Targets:"]
    databases = list(dict.fromkeys(run["database"] for run in runs))
    for database in databases:
        mine = sorted((run for run in runs if run["database"] == database), key=lambda run: run["patients"])
        by_size = {run["patients"]: run for run in mine}
        sizes = ", ".join(f"{size:,}" for size in by_size)
        for name in mine[0]["pages"]:
            # A page may make two counts (the reports: the first request works the figures out, the
            # rest read them kept): the same counts at every size, none over the limit.
            per_size = [sorted(set(run["pages"][name]["query_counts"])) for run in mine]
            counts = sorted({count for run in mine for count in run["pages"][name]["query_counts"]})
            met = all(found == per_size[0] for found in per_size) and counts[-1] <= MAX_QUERIES
            shown = "/".join(map(str, counts))
            lines.append(
                f"  {database}: {name}: {shown} queries at {sizes} patients "
                f"(at most {MAX_QUERIES}, the same at every size): {_verdict(met)}"
            )
        for size, most in MAX_GROWTH.items():
            if BASE_SIZE not in by_size or size not in by_size:
                lines.append(f"  {database}: medians at {size:,} over {BASE_SIZE:,} (at most {most}x): not measured")
                continue
            for name, page in by_size[size]["pages"].items():
                growth = page["median_ms"] / by_size[BASE_SIZE]["pages"][name]["median_ms"]
                lines.append(
                    f"  {database}: {name}: median at {size:,} is {growth:.2f}x that at {BASE_SIZE:,} "
                    f"(at most {most}x): {_verdict(growth <= most)}"
                )
        for run in mine:
            ratio = run["pages"]["dashboard"]["median_ms"] / run["raw_sql"]["worklists_ms"]
            lines.append(
                f"  {database}: dashboard at {run['patients']:,} is {ratio:.2f}x the raw SQL of its worklists "
                f"(at most {MAX_DASHBOARD_TO_RAW_SQL}x): {_verdict(ratio <= MAX_DASHBOARD_TO_RAW_SQL)}"
            )
        if REPORTS_SIZE in by_size:
            median = by_size[REPORTS_SIZE]["pages"]["reports"]["median_ms"]
            lines.append(
                f"  {database}: reports page at {REPORTS_SIZE:,}: {median:.1f} ms (under {REPORTS_MAX_MS:.0f} ms): "
                f"{_verdict(median < REPORTS_MAX_MS)}"
            )
        else:
            lines.append(
                f"  {database}: reports page at {REPORTS_SIZE:,} (under {REPORTS_MAX_MS:.0f} ms): not measured"
            )
        for run in mine:
            dispatch = run["dispatch"]
            ratio = dispatch["dispatch_per_second"] / dispatch["smtplib_per_second"]
            lines.append(
                f"  {database}: dispatch at {run['patients']:,}: {dispatch['dispatch_per_second']:.0f} a second, "
                f"{ratio:.2f}x bare smtplib's {dispatch['smtplib_per_second']:.0f} "
                f"(at least {MIN_DISPATCH_TO_SMTPLIB}x): {_verdict(ratio >= MIN_DISPATCH_TO_SMTPLIB)}"
            )
    return "\n".join(lines)
