"""Files of a clinic's earlier records brought in: who brought each in, and what it held.

``patients.models`` re-exports this model.
"""

import uuid

from django.conf import settings
from django.db import models
from django.db.models import Q


class ImportRun(models.Model):
    """One file brought in. A placement it recorded points back to it: such a placement happened
    before the clinic kept its records here, so its induction checklist was not asked for."""

    class Kind(models.TextChoices):
        PATIENTS = "patients", "Patients"
        PLACEMENTS = "placements", "Placements"
        SESSIONS = "sessions", "Therapy sessions"

    uuid = models.UUIDField(default=uuid.uuid4, unique=True, editable=False)
    clinic = models.ForeignKey("patients.Clinic", on_delete=models.PROTECT, related_name="import_runs")
    kind = models.CharField(max_length=12, choices=Kind.choices)
    filename = models.CharField(max_length=255)
    # Empty when the file came in through the import_records command, run by whoever runs the server.
    started_by = models.ForeignKey(
        settings.AUTH_USER_MODEL, on_delete=models.SET_NULL, null=True, blank=True, related_name="+"
    )
    started_at = models.DateTimeField(auto_now_add=True)
    rows = models.PositiveIntegerField(default=0, help_text="Rows the file held.")

    class Meta:
        constraints = [
            models.CheckConstraint(
                condition=Q(kind__in=["patients", "placements", "sessions"]), name="import_run_kind_valid"
            )
        ]

    def __str__(self) -> str:
        return f"{self.get_kind_display()} from {self.filename}"
