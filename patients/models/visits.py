"""A placement's visits: the monitoring visits and the renewal, with what was found at each."""

import datetime
import uuid

from django.conf import settings
from django.core.validators import MaxValueValidator
from django.db import models
from django.db.models import Q
from simple_history.models import HistoricalRecords

from patients import formats
from patients.models.loaded import RemembersLoaded
from patients.models.querysets import VisitQuerySet
from patients.models.records import CheckResult, Patient, Placement


class Visit(RemembersLoaded, models.Model):
    """A monitoring visit or the renewal of one placement, with what was found when it happened."""

    class Kind(models.TextChoices):
        MONITORING = "monitoring", "Monitoring"
        RENEWAL = "renewal", "Renewal"

    class Status(models.TextChoices):
        SCHEDULED = "scheduled", "Scheduled"
        COMPLETED = "completed", "Completed"
        MISSED = "missed", "Missed"
        CANCELLED = "cancelled", "Cancelled"

    class CancelReason(models.TextChoices):
        SUPERSEDED = "superseded", "Superseded by a new placement"
        REMOVED = "removed", "Implant removed"
        DISCHARGED = "discharged", "Patient discharged"
        CLINIC = "clinic", "Cancelled by the clinic"
        NOT_RECORDED = "not_recorded", "Over before the clinic kept its records here"

    class SiteCheck(models.TextChoices):
        NORMAL = "normal", "Healing well"
        REDNESS = "redness", "Redness or swelling"
        INFECTION = "infection", "Signs of infection"
        EXTRUSION = "extrusion", "Implant working out"
        NOT_CHECKED = "not_checked", "Not checked"

    class SubstanceUse(models.TextChoices):
        NONE = "none", "None reported"
        OPIOIDS = "opioids", "Opioids"
        ALCOHOL = "alcohol", "Alcohol"
        OTHER = "other", "Other substances"
        SEVERAL = "several", "More than one"

    uuid = models.UUIDField(default=uuid.uuid4, unique=True, editable=False)
    patient = models.ForeignKey(Patient, on_delete=models.PROTECT, related_name="visits")
    placement = models.ForeignKey(Placement, on_delete=models.PROTECT, related_name="visits")
    kind = models.CharField(max_length=20, choices=Kind.choices)
    due_on = models.DateField()
    window_start = models.DateField()
    window_end = models.DateField()
    appointment_at = models.DateTimeField(null=True, blank=True)
    appointment_override_reason = models.TextField(blank=True)
    confirmed_at = models.DateTimeField(null=True, blank=True, help_text="When the patient confirmed by email.")
    # The SEQUENCE of the visit's calendar entry: raised whenever what the entry says changes (a new
    # time, a cancellation, a missed visit), so the patient's calendar keeps one entry, the newest.
    calendar_sequence = models.PositiveIntegerField(default=0)
    status = models.CharField(max_length=20, choices=Status.choices, default=Status.SCHEDULED)
    cancel_reason = models.CharField(max_length=20, choices=CancelReason.choices, blank=True)
    completed_on = models.DateField(null=True, blank=True)
    # Findings of the visit, all optional: a clinician records what was checked.
    site_check = models.CharField(max_length=20, choices=SiteCheck.choices, blank=True)
    alt_u_per_l = models.PositiveIntegerField(
        "ALT (U/L)",
        null=True,
        blank=True,
        validators=[MaxValueValidator(10000, "ALT above 10,000 U/L is not a plausible result: check the units.")],
    )
    ast_u_per_l = models.PositiveIntegerField(
        "AST (U/L)",
        null=True,
        blank=True,
        validators=[MaxValueValidator(10000, "AST above 10,000 U/L is not a plausible result: check the units.")],
    )
    phq9_total = models.PositiveSmallIntegerField(
        "PHQ-9 total",
        null=True,
        blank=True,
        validators=[MaxValueValidator(27, "The PHQ-9 total is a score from 0 to 27.")],
    )
    phq9_item9 = models.PositiveSmallIntegerField(
        "PHQ-9 item 9", null=True, blank=True, validators=[MaxValueValidator(3, "PHQ-9 item 9 is scored from 0 to 3.")]
    )
    gad7_total = models.PositiveSmallIntegerField(
        "GAD-7 total",
        null=True,
        blank=True,
        validators=[MaxValueValidator(21, "The GAD-7 total is a score from 0 to 21.")],
    )
    urine_drug_screen = models.CharField(max_length=10, choices=CheckResult.choices, blank=True)
    cravings = models.PositiveSmallIntegerField(
        "Cravings (0 to 10)",
        null=True,
        blank=True,
        validators=[MaxValueValidator(10, "Cravings are rated from 0 to 10.")],
    )
    substance_use = models.CharField(
        "Substance use since last visit", max_length=10, choices=SubstanceUse.choices, blank=True
    )
    adverse_events = models.TextField(blank=True)
    notes = models.TextField(blank=True)
    seen_by = models.ForeignKey(
        settings.AUTH_USER_MODEL, on_delete=models.SET_NULL, null=True, blank=True, related_name="+"
    )

    history = HistoricalRecords()
    objects = VisitQuerySet.as_manager()

    class Meta:
        ordering = ["due_on"]
        constraints = [
            models.UniqueConstraint(fields=["placement", "kind", "due_on"], name="visit_unique_per_placement_day"),
            models.CheckConstraint(condition=Q(kind__in=["monitoring", "renewal"]), name="visit_kind_valid"),
            models.CheckConstraint(
                condition=Q(status__in=["scheduled", "completed", "missed", "cancelled"]), name="visit_status_valid"
            ),
            models.CheckConstraint(
                condition=Q(window_start__lte=models.F("due_on")) & Q(due_on__lte=models.F("window_end")),
                name="visit_due_inside_window",
            ),
            models.CheckConstraint(
                condition=Q(
                    status="cancelled",
                    cancel_reason__in=["superseded", "removed", "discharged", "clinic", "not_recorded"],
                )
                | (~Q(status="cancelled") & Q(cancel_reason="")),
                name="visit_cancel_reason_matches_status",
            ),
            models.CheckConstraint(
                condition=Q(status="completed", completed_on__isnull=False)
                | (~Q(status="completed") & Q(completed_on__isnull=True)),
                name="visit_completed_on_matches_status",
            ),
            models.CheckConstraint(condition=Q(phq9_total__lte=27), name="visit_phq9_total_range"),
            models.CheckConstraint(condition=Q(phq9_item9__lte=3), name="visit_phq9_item9_range"),
            models.CheckConstraint(condition=Q(gad7_total__lte=21), name="visit_gad7_total_range"),
            models.CheckConstraint(condition=Q(cravings__lte=10), name="visit_cravings_range"),
            models.CheckConstraint(condition=Q(alt_u_per_l__lte=10000), name="visit_alt_range"),
            models.CheckConstraint(condition=Q(ast_u_per_l__lte=10000), name="visit_ast_range"),
        ]
        indexes = [
            # mark_missed_visits and the dashboard's due and overdue lists: open visits by window end.
            models.Index(fields=["status", "window_end"], name="visit_status_window_end_idx"),
            # The dashboard's "visits today and this week" (the unbooked side, and the first rows in
            # their order: due on, then key), and its missed visits awaiting a call, counted from the
            # index alone: the patient (for the clinic) and the window's end (for the latest call).
            models.Index(
                fields=["status", "due_on", "id", "patient", "window_end"], name="visit_status_due_patient_idx"
            ),
            # The dashboard's renewals due soon, counted from the index alone.
            models.Index(fields=["status", "kind", "due_on", "patient"], name="visit_renewal_due_idx"),
            # The patient list's next scheduled visit per patient, and a patient's visit plan.
            models.Index(fields=["patient", "status", "due_on"], name="visit_patient_status_due_idx"),
            # The dashboard's visits today and this week, and visits to phone about: booked ones by
            # appointment, beside due_on above for the unbooked (one index for each side of the OR).
            models.Index(fields=["status", "appointment_at"], name="visit_status_appointment_idx"),
            # The dashboard's open renewal windows: scheduled renewals whose window has opened (the
            # ones whose window closed are marked missed each night, so these are few).
            models.Index(fields=["status", "kind", "window_start"], name="visit_open_window_idx"),
            # Safety flags: the completed visits of the lookback, to find who may have a flag ...
            models.Index(fields=["status", "completed_on"], name="visit_status_completed_idx"),
            # ... and each one's latest results (without it, the index above would serve each
            # patient's lookup by reading every patient's visits of the lookback).
            models.Index(fields=["patient", "status", "completed_on"], name="visit_patient_completed_idx"),
        ]

    def __str__(self) -> str:
        return f"{self.get_kind_display()} visit due {formats.day(self.due_on)}"

    def is_over(self, today: datetime.date, *, day_starts_at: datetime.datetime) -> bool:
        """``VisitQuerySet.overdue`` for one visit in memory (a test holds the two together)."""
        return (
            self.status == Visit.Status.SCHEDULED
            and self.window_end < today
            and (self.appointment_at is None or self.appointment_at < day_starts_at)
        )
