"""Settings come from the environment; production refuses to start on guesses."""

import os
import subprocess
import sys
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[2]


def start_django(**env: str) -> subprocess.CompletedProcess[str]:
    """Load the settings in a fresh interpreter, as a process would at startup."""
    clean = {k: v for k, v in os.environ.items() if k not in {"DATABASE_URL", "SECRET_KEY", "ALLOWED_HOSTS"}}
    code = (
        "import django; django.setup(); from django.conf import settings; "
        "print(settings.DEBUG, settings.DATABASES['default']['ENGINE'])"
    )
    return subprocess.run(
        [sys.executable, "-c", code],
        cwd=ROOT,
        env=clean | {"DJANGO_SETTINGS_MODULE": "tracker.settings"} | env,
        capture_output=True,
        text=True,
        timeout=60,
    )


def test_it_starts_in_development_with_debug_and_sqlite():
    result = start_django(DJANGO_ENV="development")
    assert result.returncode == 0, result.stderr
    assert result.stdout.split() == ["True", "django.db.backends.sqlite3"]


def test_production_refuses_to_start_without_its_secrets():
    result = start_django(DJANGO_ENV="production")
    assert result.returncode != 0
    assert "Production needs these environment variables: SECRET_KEY, ALLOWED_HOSTS, DATABASE_URL" in result.stderr


def test_production_starts_with_debug_off_when_configured():
    result = start_django(
        DJANGO_ENV="production",
        SECRET_KEY="x" * 60,
        ALLOWED_HOSTS="tracker.example.org",
        DATABASE_URL="postgres://tracker@127.0.0.1:5432/tracker",
    )
    assert result.returncode == 0, result.stderr
    assert result.stdout.split() == ["False", "django.db.backends.postgresql"]


@pytest.mark.parametrize(
    ("env", "message"),
    [
        ({"DJANGO_ENV": "staging"}, "DJANGO_ENV must be one of development, production, not 'staging'"),
        ({"MONITORING_WINDOW_DAYS": "a week"}, "MONITORING_WINDOW_DAYS must be a whole number, not 'a week'"),
        ({"MONITORING_INTERVAL_MONTHS": "0"}, "MONITORING_INTERVAL_MONTHS must be at least 1, not 0"),
        ({"AUDIT_RETENTION_DAYS": "0"}, "AUDIT_RETENTION_DAYS must be at least 1, not 0"),
    ],
)
def test_it_stops_loudly_on_a_bad_value(env, message):
    result = start_django(**env)
    assert result.returncode != 0
    assert message in result.stderr
