"""Clinics, their staff (one role per clinic) and their product catalogue."""

import uuid
import zoneinfo

from django.conf import settings
from django.core.exceptions import ValidationError
from django.core.validators import MinValueValidator
from django.db import models
from django.db.models import Q
from simple_history.models import HistoricalRecords


def validate_no_control_characters(value: str) -> None:
    """Refuse text that would end up in an email header with a line break or other control character."""
    if any(ord(character) < 32 or ord(character) == 127 for character in value):
        raise ValidationError("Remove the line breaks and other control characters from this text.")


def validate_time_zone(value: str) -> None:
    if value not in zoneinfo.available_timezones():
        raise ValidationError(f"{value!r} is not a time zone name such as Europe/London.")


def default_renewal_lead_days() -> int:
    return settings.RENEWAL_WINDOW_LEAD_DAYS


# A fixed year rather than one counted back from today: the same clinic row means the same bound
# on every day, in every test, and for records brought in from years before the tracker.
DEFAULT_FIRST_YEAR = 2000
EARLIEST_FIRST_YEAR = 1900


class Clinic(models.Model):
    uuid = models.UUIDField(default=uuid.uuid4, unique=True, editable=False)
    # The name and the reply-to address travel in email headers: no control characters.
    name = models.CharField(max_length=200, unique=True, validators=[validate_no_control_characters])
    time_zone = models.CharField(max_length=64, default="Europe/London", validators=[validate_time_zone])
    phone = models.CharField(max_length=40, validators=[validate_no_control_characters])
    address = models.TextField(blank=True)
    reply_to_email = models.EmailField(blank=True, validators=[validate_no_control_characters])
    # The hours in which patients may be emailed, in clinic time; both empty means the settings'
    # default. One without the other would leave the dispatcher guessing.
    reminder_daytime_start = models.TimeField(null=True, blank=True)
    reminder_daytime_end = models.TimeField(null=True, blank=True)
    first_year = models.PositiveSmallIntegerField(
        default=DEFAULT_FIRST_YEAR,
        validators=[MinValueValidator(EARLIEST_FIRST_YEAR, f"The first year cannot be before {EARLIEST_FIRST_YEAR}.")],
        help_text=(
            "The year of the clinic's earliest records. A placement, session, visit, removal, discharge or "
            "call typed before it is refused as a typing mistake. 2000 unless set: before long-acting "
            "naltrexone was in clinical use, so no real record is refused; the year the clinic opened is a "
            "tighter check."
        ),
    )

    history = HistoricalRecords()

    class Meta:
        ordering = ["name"]
        constraints = [
            models.CheckConstraint(
                condition=Q(reminder_daytime_start__isnull=True, reminder_daytime_end__isnull=True)
                | Q(reminder_daytime_start__isnull=False, reminder_daytime_end__isnull=False),
                name="clinic_daytime_both_or_neither",
                violation_error_message="Set both reminder hours, or leave both empty to use the default hours.",
            ),
            models.CheckConstraint(
                condition=Q(reminder_daytime_start__isnull=True)
                | Q(reminder_daytime_end__isnull=True)
                | Q(reminder_daytime_start__lt=models.F("reminder_daytime_end")),
                name="clinic_daytime_starts_before_it_ends",
                violation_error_message="The reminder hours must start before they end.",
            ),
            models.CheckConstraint(
                condition=Q(first_year__gte=EARLIEST_FIRST_YEAR),
                name="clinic_first_year_plausible",
                violation_error_message=f"The first year cannot be before {EARLIEST_FIRST_YEAR}.",
            ),
        ]

    def __str__(self) -> str:
        return self.name

    @property
    def zone(self) -> zoneinfo.ZoneInfo:
        return zoneinfo.ZoneInfo(self.time_zone)


class Membership(models.Model):
    """Which clinics a staff member works for; every query for patients goes through it."""

    class Role(models.TextChoices):
        COORDINATOR = "coordinator", "Coordinator"
        CLINICIAN = "clinician", "Clinician"
        MANAGER = "manager", "Manager"

    user = models.ForeignKey(settings.AUTH_USER_MODEL, on_delete=models.CASCADE, related_name="memberships")
    clinic = models.ForeignKey(Clinic, on_delete=models.CASCADE, related_name="memberships")
    role = models.CharField(max_length=20, choices=Role.choices, default=Role.COORDINATOR)

    history = HistoricalRecords()

    class Meta:
        constraints = [
            models.UniqueConstraint(fields=["user", "clinic"], name="membership_unique_user_clinic"),
            models.CheckConstraint(
                condition=Q(role__in=["coordinator", "clinician", "manager"]), name="membership_role_valid"
            ),
        ]

    def __str__(self) -> str:
        return f"{self.user} at {self.clinic} ({self.get_role_display()})"


class Product(models.Model):
    """A long-acting formulation in the clinic's catalogue; coverage is the product's, not the code's."""

    class Formulation(models.TextChoices):
        IMPLANT = "implant", "Implant"
        INJECTION = "injection", "Injection"
        TABLET = "tablet", "Tablet"

    class CoverageUnit(models.TextChoices):
        MONTHS = "months", "Months"
        WEEKS = "weeks", "Weeks"

    uuid = models.UUIDField(default=uuid.uuid4, unique=True, editable=False)
    clinic = models.ForeignKey(Clinic, on_delete=models.PROTECT, related_name="products")
    name = models.CharField(max_length=120)
    formulation = models.CharField(max_length=20, choices=Formulation.choices, default=Formulation.IMPLANT)
    coverage_length = models.PositiveSmallIntegerField(help_text="How long one dose protects, in the unit beside it.")
    coverage_unit = models.CharField(max_length=10, choices=CoverageUnit.choices, default=CoverageUnit.MONTHS)
    renewal_window_lead_days = models.PositiveSmallIntegerField(
        default=default_renewal_lead_days, help_text="Days before coverage ends from which the renewal may be booked."
    )
    is_active = models.BooleanField(default=True, help_text="Inactive products stay on old placements only.")

    history = HistoricalRecords()

    class Meta:
        ordering = ["clinic", "name"]
        constraints = [
            models.UniqueConstraint(fields=["clinic", "name"], name="product_unique_name_per_clinic"),
            models.CheckConstraint(condition=Q(coverage_length__gte=1), name="product_coverage_positive"),
            models.CheckConstraint(
                condition=Q(formulation__in=["implant", "injection", "tablet"]), name="product_formulation_valid"
            ),
            models.CheckConstraint(
                condition=Q(coverage_unit__in=["months", "weeks"]), name="product_coverage_unit_valid"
            ),
        ]

    def __str__(self) -> str:
        return f"{self.name} ({self.coverage_length} {self.get_coverage_unit_display().lower()})"
