"""The fixed cast every test draws on: two clinics, their coordinators, a clinician and an admin.

Every test also runs on the day TEST_TODAY names, when it is set (tests/pinned_day.py).
"""

import os

import pytest

from patients.models import Membership
from tests import pinned_day
from tests.factories import ClinicFactory, MembershipFactory, PatientFactory, ProductFactory, UserFactory
from tests.pinned_day import pinned_clock, still_clock  # noqa: F401
from tests.service_fixtures import chromium_path, postgres_available, redis_url  # noqa: F401


def pytest_configure(config: pytest.Config) -> None:
    # Read once, before any test runs: a bad value stops the run here instead of testing the real day.
    config.stash[pinned_day.day_key] = pinned_day.read_test_today(os.environ.get(pinned_day.TEST_TODAY, ""))


def pytest_report_header(config: pytest.Config) -> str:
    return pinned_day.header(config.stash[pinned_day.day_key])


@pytest.fixture
def clinic():
    return ClinicFactory(name="Riverside Clinic", time_zone="Europe/London")


@pytest.fixture
def other_clinic():
    return ClinicFactory(name="Hillside Clinic", time_zone="America/New_York")


@pytest.fixture
def implant(clinic):
    return ProductFactory(clinic=clinic, name="Three-month implant", coverage_length=3)


@pytest.fixture
def long_implant(clinic):
    return ProductFactory(clinic=clinic, name="Six-month implant", coverage_length=6)


@pytest.fixture
def injection(clinic):
    return ProductFactory(
        clinic=clinic,
        name="Monthly injection",
        formulation="injection",
        coverage_length=4,
        coverage_unit="weeks",
        renewal_window_lead_days=7,
    )


@pytest.fixture
def patient(clinic):
    """A patient of the clinic, consenting to email reminders."""
    return PatientFactory(clinic=clinic, record_number="R-1", first_name="Ada", last_name="Byron")


@pytest.fixture
def coordinator(clinic):
    user = UserFactory(username="coordinator", is_staff=True)
    MembershipFactory(user=user, clinic=clinic, role=Membership.Role.COORDINATOR)
    return user


@pytest.fixture
def other_coordinator(other_clinic):
    user = UserFactory(username="other-coordinator", is_staff=True)
    MembershipFactory(user=user, clinic=other_clinic, role=Membership.Role.COORDINATOR)
    return user


@pytest.fixture
def stranger(other_clinic):
    """A patient of the other clinic, whom nobody of the first may see."""
    return PatientFactory(clinic=other_clinic, record_number="H-1", first_name="Hidden", last_name="Stranger")


@pytest.fixture
def other_clinician(other_clinic):
    user = UserFactory(username="other-clinician", is_staff=True)
    MembershipFactory(user=user, clinic=other_clinic, role=Membership.Role.CLINICIAN)
    return user


@pytest.fixture
def clinician(clinic):
    user = UserFactory(username="clinician", is_staff=True)
    MembershipFactory(user=user, clinic=clinic, role=Membership.Role.CLINICIAN)
    return user


@pytest.fixture
def manager(clinic):
    user = UserFactory(username="manager", is_staff=True)
    MembershipFactory(user=user, clinic=clinic, role=Membership.Role.MANAGER)
    return user


@pytest.fixture
def admin_user_account():
    return UserFactory(username="admin", is_staff=True, is_superuser=True)


@pytest.fixture(autouse=True)
def fast_password_hashing(settings):
    """Real hashing costs a third of a second a user; tests need a hash, not its strength."""
    settings.PASSWORD_HASHERS = ["django.contrib.auth.hashers.MD5PasswordHasher"]


@pytest.hookimpl(tryfirst=True)
def pytest_collection_modifyitems(config: pytest.Config, items: list[pytest.Item]) -> None:
    """Leave PostgreSQL-only tests out of the SQLite run; the PostgreSQL run of `make test` has them.

    Before ``-m`` selects: `workers` was called `services` until that word came to mean the write
    layer only, so a test marked `workers` answers to the old name too, and `-m "not services"` in
    existing scripts still leaves out the same tests. Mark new tests `workers`.
    """
    for item in items:
        if item.get_closest_marker("workers"):
            item.add_marker("services")
    if postgres_available():
        return
    postgres_only = [item for item in items if item.get_closest_marker("requires_postgres")]
    if postgres_only:
        config.hook.pytest_deselected(items=postgres_only)
        items[:] = [item for item in items if item not in postgres_only]


@pytest.fixture
def scripted_mail(settings):
    """Django's test outbox behind a backend told when to fail (``tests.mail_backends``), and a
    dispatcher that gives up after three attempts."""
    from tests.mail_backends import ScriptedBackend

    settings.EMAIL_BACKEND = "tests.mail_backends.ScriptedBackend"
    settings.REMINDER_MAX_ATTEMPTS = 3
    settings.REMINDER_RETRY_BASE_SECONDS = 60
    settings.REMINDER_LEASE_SECONDS = 300
    ScriptedBackend.script = []
    yield ScriptedBackend.script
    ScriptedBackend.script = []
