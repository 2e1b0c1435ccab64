"""Therapy groups and the attendance logged for them (and for individual sessions).

``patients.models`` re-exports these models.
"""

import uuid

from django.conf import settings
from django.db import models
from django.db.models import Q
from simple_history.models import HistoricalRecords

from patients import formats
from patients.models.loaded import RemembersLoaded


class TherapyGroup(models.Model):
    uuid = models.UUIDField(default=uuid.uuid4, unique=True, editable=False)
    clinic = models.ForeignKey("patients.Clinic", on_delete=models.PROTECT, related_name="therapy_groups")
    name = models.CharField(max_length=120)
    facilitator = models.CharField(max_length=200, blank=True)
    meets = models.CharField(max_length=120, blank=True, help_text="When the group meets, e.g. Tuesdays 18:00.")
    members = models.ManyToManyField("patients.Patient", blank=True, related_name="therapy_groups")
    is_active = models.BooleanField(default=True)

    # The roster is kept with each version of the group: who joined and who left, and when.
    history = HistoricalRecords(m2m_fields=[members])

    class Meta:
        ordering = ["name"]
        constraints = [models.UniqueConstraint(fields=["clinic", "name"], name="therapy_group_unique_name_per_clinic")]

    def __str__(self) -> str:
        return self.name


class TherapySession(RemembersLoaded, models.Model):
    """One patient's attendance at an individual or group therapy session."""

    class Kind(models.TextChoices):
        INDIVIDUAL = "individual", "Individual"
        GROUP = "group", "Group"

    class Status(models.TextChoices):
        ATTENDED = "attended", "Attended"
        MISSED = "missed", "Missed"
        EXCUSED = "excused", "Excused"
        CANCELLED = "cancelled", "Cancelled by clinic"

    uuid = models.UUIDField(default=uuid.uuid4, unique=True, editable=False)
    patient = models.ForeignKey("patients.Patient", on_delete=models.PROTECT, related_name="therapy_sessions")
    group = models.ForeignKey(TherapyGroup, on_delete=models.PROTECT, null=True, blank=True, related_name="sessions")
    kind = models.CharField(max_length=20, choices=Kind.choices)
    held_on = models.DateField()
    status = models.CharField(max_length=20, choices=Status.choices)
    counsellor = models.ForeignKey(
        settings.AUTH_USER_MODEL, on_delete=models.SET_NULL, null=True, blank=True, related_name="+"
    )
    note = models.TextField(blank=True)

    history = HistoricalRecords()

    class Meta:
        ordering = ["-held_on"]
        constraints = [
            models.CheckConstraint(condition=Q(kind__in=["individual", "group"]), name="therapy_session_kind_valid"),
            models.CheckConstraint(
                condition=Q(status__in=["attended", "missed", "excused", "cancelled"]),
                name="therapy_session_status_valid",
            ),
            models.CheckConstraint(
                condition=Q(kind="group", group__isnull=False) | Q(kind="individual", group__isnull=True),
                name="therapy_session_group_matches_kind",
            ),
            # A group session is logged once per patient; logging the roster again updates it.
            models.UniqueConstraint(
                fields=["patient", "group", "held_on"],
                condition=Q(group__isnull=False),
                name="therapy_session_one_group_entry_per_day",
            ),
        ]
        indexes = [
            # Attendance rates over the last 90 days, per patient.
            models.Index(fields=["patient", "held_on"], name="therapy_patient_held_on_idx"),
        ]

    def __str__(self) -> str:
        return f"{self.get_kind_display()} session on {formats.day(self.held_on)}: {self.get_status_display()}"
