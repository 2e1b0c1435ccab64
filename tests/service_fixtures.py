"""Fixtures for tests that need real services: Redis, PostgreSQL, Chromium.

`make test` starts a throwaway Redis (and PostgreSQL) of its own and exports where they are:
REDIS_URL, CHROMIUM_PATH, and DATABASE_URL for the PostgreSQL run. A test that needs one of them
asks for the fixture instead of reading the variable, so that a missing service is reported the
same way everywhere: on CI (CI=true) it fails the test, because a green run whose service tests
all skipped proves nothing; on a developer's machine the test skips with a loud reason, and the
rest of the suite still runs.

tests/conftest.py imports the fixtures so that every test module can use them.
"""

import os
from pathlib import Path
from typing import NoReturn

import pytest
import redis

DEFAULT_CHROMIUM = "/usr/bin/chromium"
POSTGRES_SCHEMES = ("postgres://", "postgresql://", "pgsql://", "psql://", "postgis://")


def on_ci() -> bool:
    """CI sets CI=true; only there is a missing service an error rather than a skip."""
    return os.environ.get("CI") == "true"


def service_missing(reason: str) -> NoReturn:
    """Fail on CI, skip elsewhere, saying which service is missing and why."""
    if on_ci():
        pytest.fail(f"SERVICE MISSING on CI: {reason}", pytrace=False)
    pytest.skip(f"SERVICE MISSING (run `make test`, which starts it): {reason}")


def postgres_available() -> bool:
    """True in the PostgreSQL run of `make test`, whose DATABASE_URL names a PostgreSQL server.

    Read from the environment rather than from Django's settings, so it also works at collection
    time. The SQLite run legitimately has no PostgreSQL: tests that only make sense there are left
    out of that run, on CI too (see ``requires_postgres``).
    """
    return os.environ.get("DATABASE_URL", "").startswith(POSTGRES_SCHEMES)


# Tests that only make sense on PostgreSQL are left out of the SQLite run (deselected, not
# skipped: a skip on CI would hide a missing service); tests/conftest.py does the leaving out.
requires_postgres = pytest.mark.requires_postgres


@pytest.fixture(scope="session")
def redis_url() -> str:
    """The REDIS_URL of the tests' own Redis, checked with a PING.

    There is deliberately no fallback to the settings' default (127.0.0.1:6379): that is where a
    developer's `make run` listens, and its worker would take the tests' tasks.
    """
    url = os.environ.get("REDIS_URL", "")
    if not url:
        service_missing("REDIS_URL is not set.")
    client = redis.Redis.from_url(url, socket_connect_timeout=2, socket_timeout=2)
    try:
        client.ping()
    except redis.RedisError as error:
        service_missing(f"Redis at {url} does not answer: {error}")
    finally:
        client.close()
    return url


@pytest.fixture(scope="session")
def chromium_path() -> str:
    """Debian's Chromium, for browser tests (pytest-playwright's ``executable_path``).

    Never a browser that `playwright install` downloads: this network does not allow it.
    """
    path = os.environ.get("CHROMIUM_PATH") or DEFAULT_CHROMIUM
    if not (Path(path).is_file() and os.access(path, os.X_OK)):
        service_missing(f"no Chromium at {path} (Debian's package: apt-get install chromium).")
    return path
