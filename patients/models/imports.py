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

    class Status(models.TextChoices):
        CHECKING = "checking", "Checking the file"
        PREVIEWED = "previewed", "Checked: waiting to be confirmed"
        IMPORTING = "importing", "Importing"
        DONE = "done", "Imported"
        REFUSED = "refused", "Refused: nothing saved"
        FAILED = "failed", "Stopped by an error: nothing saved"
        EXPIRED = "expired", "Not confirmed in time: nothing saved"

    # The moves a run's status may make: checked, then imported once confirmed. A file whose rows
    # were refused, at the check or when imported, is done with; another upload starts again.
    TRANSITIONS: dict[str, frozenset[str]] = {
        # The import_records command checks and imports at once.
        Status.CHECKING: frozenset({Status.PREVIEWED, Status.DONE, Status.REFUSED, Status.FAILED}),
        # A preview left unconfirmed for IMPORT_CONFIRM_DAYS is let go, with its file.
        Status.PREVIEWED: frozenset({Status.IMPORTING, Status.EXPIRED}),
        Status.IMPORTING: frozenset({Status.DONE, Status.REFUSED, Status.FAILED}),
    }
    # Statuses after which nothing more happens to the run.
    FINISHED = (Status.DONE, Status.REFUSED, Status.FAILED, Status.EXPIRED)

    uuid = models.UUIDField(default=uuid.uuid4, unique=True, editable=False)
    clinic = models.ForeignKey("patients.Clinic", on_delete=models.PROTECT, related_name="import_runs")
    kind = models.CharField(max_length=12, choices=Kind.choices)
    filename = models.CharField(max_length=255)
    # How the file writes dates that are not YYYY-MM-DD (patients.imports.values.DATE_ORDERS).
    date_order = models.CharField(max_length=12, default="iso")
    # Empty when the file came in through the import_records command, run by whoever runs the server.
    started_by = models.ForeignKey(
        settings.AUTH_USER_MODEL, on_delete=models.SET_NULL, null=True, blank=True, related_name="+"
    )
    started_at = models.DateTimeField(auto_now_add=True)
    status = models.CharField(max_length=12, choices=Status.choices, default=Status.CHECKING)
    rows = models.PositiveIntegerField(default=0, help_text="Rows the file held.")
    # The file as uploaded, kept from the check until the import is over (then emptied): the worker
    # that imports it reads it from here.
    content = models.BinaryField(null=True, blank=True, editable=False)
    summary = models.TextField(blank=True, help_text="The rows by outcome, in words.")
    finished_at = models.DateTimeField(null=True, blank=True)

    class Meta:
        constraints = [
            models.CheckConstraint(
                condition=Q(kind__in=["patients", "placements", "sessions"]), name="import_run_kind_valid"
            ),
            models.CheckConstraint(
                condition=Q(status__in=["checking", "previewed", "importing", "done", "refused", "failed", "expired"]),
                name="import_run_status_valid",
            ),
        ]
        indexes = [
            # The import page's list of a clinic's latest runs.
            models.Index(fields=["clinic", "-started_at"], name="import_run_clinic_latest_idx"),
        ]

    def __str__(self) -> str:
        return f"{self.get_kind_display()} from {self.filename}"


class ImportRow(models.Model):
    """What one row of a run's file became, or would become, or why it was refused: the preview
    the manager confirms, and afterwards the record of what was done."""

    run = models.ForeignKey(ImportRun, on_delete=models.CASCADE, related_name="results")
    number = models.PositiveIntegerField(help_text="The row's number in the spreadsheet (the header is row 1).")
    outcome = models.CharField(max_length=40)
    words = models.TextField()
    refused = models.BooleanField(default=False)

    class Meta:
        ordering = ["run", "number"]
        constraints = [models.UniqueConstraint(fields=["run", "number"], name="import_row_once_per_run")]
        indexes = [
            # The preview's refused rows first.
            models.Index(fields=["run", "-refused", "number"], name="import_row_refused_first_idx"),
        ]

    def __str__(self) -> str:
        return f"Row {self.number}: {self.outcome}"
