"""A patient's records: the person and their placements (their visits are in ``visits``)."""

import datetime
import uuid

from django.conf import settings
from django.db import models
from django.db.models import Q
from django.urls import reverse
from simple_history.models import HistoricalRecords

from patients import formats
from patients.models.clinics import Clinic, Product
from patients.models.loaded import RemembersLoaded
from patients.models.querysets import PlacementQuerySet
from patients.records.schedule import last_protected_day


class Patient(RemembersLoaded, models.Model):
    class Status(models.TextChoices):
        ACTIVE = "active", "Active"
        PAUSED = "paused", "Paused"
        DISCHARGED = "discharged", "Discharged"
        LOST_TO_FOLLOW_UP = "lost_to_follow_up", "Lost to follow-up"

    class Treats(models.TextChoices):
        OPIOIDS = "opioids", "Opioids"
        ALCOHOL = "alcohol", "Alcohol"
        BOTH = "both", "Opioids and alcohol"

    uuid = models.UUIDField(default=uuid.uuid4, unique=True, editable=False)
    clinic = models.ForeignKey(Clinic, on_delete=models.PROTECT, related_name="patients")
    record_number = models.CharField(max_length=40, help_text="The clinic's own record number.")
    first_name = models.CharField(max_length=100)
    last_name = models.CharField(max_length=100)
    date_of_birth = models.DateField()
    email = models.EmailField(blank=True)
    phone = models.CharField(max_length=40, blank=True)
    email_consent = models.BooleanField(default=False, help_text="The patient agreed to email reminders.")
    email_consent_at = models.DateTimeField(null=True, blank=True)
    status = models.CharField(max_length=20, choices=Status.choices, default=Status.ACTIVE)
    discharged_on = models.DateField(null=True, blank=True)
    treats = models.CharField(max_length=10, choices=Treats.choices, default=Treats.OPIOIDS)
    liver_condition = models.BooleanField(default=False, help_text="A liver condition known before treatment.")
    liver_condition_note = models.TextField(blank=True)
    emergency_contact_name = models.CharField(max_length=200, blank=True)
    emergency_contact_phone = models.CharField(max_length=40, blank=True)
    counsellor = models.ForeignKey(
        settings.AUTH_USER_MODEL, on_delete=models.SET_NULL, null=True, blank=True, related_name="counselled_patients"
    )
    created_at = models.DateTimeField(auto_now_add=True)

    history = HistoricalRecords()

    class Meta:
        ordering = ["last_name", "first_name"]
        constraints = [
            models.UniqueConstraint(
                fields=["clinic", "record_number"],
                name="patient_unique_record_number_per_clinic",
                violation_error_message="Another patient of this clinic already has this record number.",
            ),
            models.CheckConstraint(
                condition=Q(status__in=["active", "paused", "discharged", "lost_to_follow_up"]),
                name="patient_status_valid",
            ),
            models.CheckConstraint(
                condition=Q(treats__in=["opioids", "alcohol", "both"]), name="patient_treats_valid"
            ),
            models.CheckConstraint(
                condition=Q(email_consent=False) | Q(email_consent_at__isnull=False), name="patient_consent_has_time"
            ),
            models.CheckConstraint(
                condition=Q(status="discharged", discharged_on__isnull=False)
                | (~Q(status="discharged") & Q(discharged_on__isnull=True)),
                name="patient_discharged_on_matches_status",
            ),
        ]
        indexes = [
            # The patient list's search by name within a clinic.
            models.Index(fields=["clinic", "last_name", "first_name"], name="patient_clinic_name_idx"),
            # Safety flags: the few patients with a known liver condition.
            models.Index(fields=["clinic"], condition=Q(liver_condition=True), name="patient_liver_condition_idx"),
        ]

    def __str__(self) -> str:
        return f"{self.full_name} ({self.record_number})"

    def get_absolute_url(self) -> str:
        return reverse("patients:patient_detail", args=[self.uuid])

    @property
    def full_name(self) -> str:
        return f"{self.first_name} {self.last_name}"


class CheckResult(models.TextChoices):
    """The outcome of a urine screen (and, with ``WAIVED``, of a naloxone challenge)."""

    NEGATIVE = "negative", "Negative"
    POSITIVE = "positive", "Positive"
    NOT_DONE = "not_done", "Not done"


class NaloxoneChallenge(models.TextChoices):
    NEGATIVE = "negative", "Negative"
    POSITIVE = "positive", "Positive"
    NOT_DONE = "not_done", "Not done"
    WAIVED = "waived", "Waived (reason given)"


class Placement(RemembersLoaded, models.Model):
    """One dose: an implant placed or an injection given. The source of every visit and reminder."""

    class BodySite(models.TextChoices):
        ABDOMEN_LEFT = "abdomen_left", "Lower abdomen, left"
        ABDOMEN_RIGHT = "abdomen_right", "Lower abdomen, right"
        GLUTEAL_LEFT = "gluteal_left", "Buttock, left"
        GLUTEAL_RIGHT = "gluteal_right", "Buttock, right"
        ARM_LEFT = "arm_left", "Upper arm, left"
        ARM_RIGHT = "arm_right", "Upper arm, right"
        OTHER = "other", "Other (see notes)"

    uuid = models.UUIDField(default=uuid.uuid4, unique=True, editable=False)
    patient = models.ForeignKey(Patient, on_delete=models.PROTECT, related_name="placements")
    product = models.ForeignKey(Product, on_delete=models.PROTECT, related_name="placements")
    placed_on = models.DateField()
    dose_mg = models.DecimalField(max_digits=7, decimal_places=1, null=True, blank=True)
    lot_number = models.CharField(max_length=60, blank=True)
    body_site = models.CharField(max_length=20, choices=BodySite.choices, blank=True)
    placed_by = models.ForeignKey(
        settings.AUTH_USER_MODEL, on_delete=models.SET_NULL, null=True, blank=True, related_name="+"
    )
    opioid_free_days = models.PositiveSmallIntegerField(null=True, blank=True)
    urine_screen = models.CharField(max_length=10, choices=CheckResult.choices, default=CheckResult.NOT_DONE)
    naloxone_challenge = models.CharField(
        max_length=10, choices=NaloxoneChallenge.choices, default=NaloxoneChallenge.NOT_DONE
    )
    naloxone_waiver_reason = models.TextField(blank=True)
    covers_until = models.DateField(help_text="The last day of protection: from the product, or overridden.")
    covers_until_override_reason = models.TextField(blank=True)
    early_renewal_reason = models.TextField(blank=True, help_text="Why a renewal was placed before its window.")
    removed_on = models.DateField(null=True, blank=True)
    removal_reason = models.TextField(blank=True)
    notes = models.TextField(blank=True)
    # Set for a placement brought in from the clinic's earlier records (``record_placement``'s
    # ``imported_in``): it is history, so its induction checklist was not asked for.
    imported_in = models.ForeignKey(
        "patients.ImportRun", on_delete=models.PROTECT, null=True, blank=True, related_name="placements"
    )
    created_at = models.DateTimeField(auto_now_add=True)

    history = HistoricalRecords()
    objects = PlacementQuerySet.as_manager()

    class Meta:
        ordering = ["-placed_on"]
        get_latest_by = "placed_on"
        constraints = [
            models.UniqueConstraint(
                fields=["patient", "placed_on"],
                name="placement_one_per_patient_day",
                violation_error_message="This patient already has a placement on that day.",
            ),
            models.CheckConstraint(
                condition=Q(covers_until__gt=models.F("placed_on")), name="placement_covers_after_placed"
            ),
            models.CheckConstraint(
                condition=Q(removed_on__isnull=True) | Q(removed_on__gte=models.F("placed_on")),
                name="placement_removed_after_placed",
            ),
            models.CheckConstraint(
                condition=~Q(naloxone_challenge="waived") | ~Q(naloxone_waiver_reason=""),
                name="placement_waiver_has_reason",
            ),
            models.CheckConstraint(
                condition=Q(urine_screen__in=["negative", "positive", "not_done"]), name="placement_urine_screen_valid"
            ),
            models.CheckConstraint(
                condition=Q(naloxone_challenge__in=["negative", "positive", "not_done", "waived"]),
                name="placement_naloxone_challenge_valid",
            ),
        ]
        indexes = [
            # Coverage state: a patient's newest placement, and the dashboard's "covers until" ranges.
            models.Index(fields=["patient", "-placed_on"], name="placement_patient_latest_idx"),
            models.Index(fields=["covers_until"], name="placement_covers_until_idx"),
        ]

    def __str__(self) -> str:
        return f"{self.product.name} on {formats.day(self.placed_on)}"

    @property
    def coverage_ends_on(self) -> datetime.date:
        return last_protected_day(covers_until=self.covers_until, removed_on=self.removed_on)
