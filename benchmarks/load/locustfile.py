"""The coordinators of ``make load``: each is signed in as the demo coordinator and opens the pages
a coordinator's day is made of (the dashboard most, then patients' pages, searches and the
reports), with a short pause between pages.

``benchmarks/load/session.py`` starts it headless, with LOAD_TARGETS naming a JSON file that lists
the patients to open and the names to search for, both taken from the seeded database, and one
session per coordinator. Those sessions come from the sign-in form, filled in before the load
starts: a coordinator signs in once a day, and the password hash, made slow on purpose, would
otherwise fill the first seconds of the figures.

    {"patient_pages": ["/patients/<uuid>/", ...], "searches": ["Okafor", ...],
     "cookie_name": "sessionid", "sessions": ["<session key>", ...], "pause_seconds": [2, 8]}

A request counts as an error unless it answers 200 with the page itself: a redirect to the sign-in
page (a session lost under load) is an error too, although its final answer is a 200.
"""

import itertools
import json
import os
import random
from pathlib import Path
from typing import Any

from locust import HttpUser, between, task
from locust.clients import ResponseContextManager

TARGETS: dict[str, Any] = json.loads(Path(os.environ["LOAD_TARGETS"]).read_text())
SESSIONS = itertools.cycle(TARGETS["sessions"])
SIGN_IN = "/accounts/login/"


class Coordinator(HttpUser):
    wait_time = between(*TARGETS["pause_seconds"])

    def on_start(self) -> None:
        # One signed-in session per coordinator, as the sign-in form gave it before the load.
        self.client.cookies.set(TARGETS["cookie_name"], next(SESSIONS))

    def _open(self, path: str, name: str) -> None:
        with self.client.get(path, name=name, catch_response=True) as response:
            _check(response)

    @task(4)
    def dashboard(self) -> None:
        self._open("/", "dashboard")

    @task(2)
    def search(self) -> None:
        name = random.choice(TARGETS["searches"])  # noqa: S311 (which name to type, not a secret)
        self._open(f"/patients/?q={name}", "patient list, search")

    @task(3)
    def patient_page(self) -> None:
        self._open(random.choice(TARGETS["patient_pages"]), "patient page")  # noqa: S311 (as above)

    @task(1)
    def reports(self) -> None:
        self._open("/reports/", "reports")


def _check(response: ResponseContextManager) -> None:
    if response.status_code != 200:
        response.failure(f"answered {response.status_code}")
    elif response.history or SIGN_IN in response.url:
        response.failure("sent to the sign-in page: the session was lost")
    else:
        response.success()
