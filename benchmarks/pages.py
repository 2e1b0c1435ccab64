"""The pages whose cost is the performance record: the benchmark times them, and the suite holds
each to ``QUERY_LIMIT`` queries, the same at every size (tests/test_query_counts.py)."""

from typing import Any

# Queries a page may make, whatever the number of patients: sign-in and banner reads included.
QUERY_LIMIT = 10


def pages(patient: Any) -> dict[str, str]:
    """Each measured page's name and address, the patient page and the search on ``patient``."""
    return {
        "dashboard": "/",
        "patient list, search": f"/patients/?q={patient.last_name}",
        "patient page": patient.get_absolute_url(),
        "reports": "/reports/",
        "monthly CSV": "/reports/monthly.csv",
        "patients CSV": "/reports/patients.csv",
    }
