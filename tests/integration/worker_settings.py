"""Settings for the integration tests' Celery processes that need what the real settings cannot give.

Everything is ``tracker.settings``, read from the same environment variables, with two test-only
changes, each off unless a test asks for it:

- templates in ``tests/integration/templates/`` come first, so that one patient's reminder fails
  to render for real (see ``emails/reminder-body.txt`` there);
- ``INTEGRATION_DISPATCH_SECONDS`` shortens beat's dispatcher interval, so that a Redis outage of
  a few seconds spans several of beat's runs.
"""

import os
from pathlib import Path

from tracker.settings import *  # noqa: F403
from tracker.settings import BASE_DIR, CELERY_BEAT_SCHEDULE, TEMPLATES

# The real templates stay reachable as "templates/emails/..." (BASE_DIR), for the override to include.
TEMPLATES = [
    {**TEMPLATES[0], "DIRS": [Path(__file__).resolve().parent / "templates", *TEMPLATES[0]["DIRS"], BASE_DIR]}
]

if os.environ.get("INTEGRATION_DISPATCH_SECONDS"):
    CELERY_BEAT_SCHEDULE = {
        **CELERY_BEAT_SCHEDULE,
        "dispatch-due-reminders": {
            **CELERY_BEAT_SCHEDULE["dispatch-due-reminders"],
            "schedule": float(os.environ["INTEGRATION_DISPATCH_SECONDS"]),
        },
    }
