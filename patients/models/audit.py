"""The read log: who opened which patient's records, exports and wallet cards, when and from where.

Changes are kept by django-simple-history (a ``history`` on every clinical model); this model keeps
the reads. Rows are written only by ``patients.audit.services.record_access`` and removed only by the
``prune_audit`` command once they are older than ``AUDIT_RETENTION_DAYS``: no page or admin form
changes or deletes them. ``patients.models`` re-exports this model.
"""

from django.conf import settings
from django.db import models
from django.db.models import Q
from django.utils import timezone


class What(models.TextChoices):
    """What was opened; module-level so the model's check constraint can list it."""

    PATIENT_PAGE = "patient_page", "Patient page"
    PATIENT_HISTORY = "patient_history", "Patient history"
    PATIENT_EDIT_FORM = "patient_edit_form", "Patient details form"
    WALLET_CARD = "wallet_card", "Wallet card"
    WALLET_CARD_PDF = "wallet_card_pdf", "Wallet card (PDF)"
    PLACEMENT_FORM = "placement_form", "Placement form"
    VISIT_FINDINGS_FORM = "visit_findings_form", "Visit findings form"
    VISIT_BOOKING_FORM = "visit_booking_form", "Visit booking form"
    FOLLOW_UP_CALL_FORM = "follow_up_call_form", "Follow-up call form"
    SESSION_FORM = "session_form", "Therapy session form"
    EXPORT_MONTHLY_CSV = "export_monthly_csv", "Monthly figures (CSV)"
    EXPORT_PATIENTS_CSV = "export_patients_csv", "Patient list (CSV)"
    EXPORT_RECORDS = "export_records", "Records in the import's columns"
    IMPORT_PREVIEW = "import_preview", "Import check of a file"
    ADMIN_CHANGE = "admin_change", "Admin record page"
    ADMIN_HISTORY = "admin_history", "Admin change history"


class RecordAccess(models.Model):
    What = What

    # The name is kept beside the link: a row outlives the account it names.
    user = models.ForeignKey(settings.AUTH_USER_MODEL, on_delete=models.SET_NULL, null=True, related_name="+")
    username = models.CharField(max_length=150)
    # Empty for a read of many patients at once (an export); the clinic is then the one exported.
    patient = models.ForeignKey(
        "patients.Patient", on_delete=models.PROTECT, null=True, blank=True, related_name="record_accesses"
    )
    clinic = models.ForeignKey(
        "patients.Clinic", on_delete=models.PROTECT, null=True, blank=True, related_name="record_accesses"
    )
    what = models.CharField(max_length=30, choices=What.choices)
    # The page's path, without its query string (search terms name patients).
    path = models.CharField(max_length=500)
    detail = models.CharField(max_length=200, blank=True, help_text="Which record or which rows, in words.")
    at = models.DateTimeField(default=timezone.now)
    address = models.GenericIPAddressField(null=True, blank=True)

    class Meta:
        ordering = ["-at", "-pk"]
        verbose_name = "record access"
        verbose_name_plural = "record accesses"
        constraints = [
            models.CheckConstraint(condition=Q(what__in=What.values), name="record_access_what_valid"),
        ]
        indexes = [
            # A patient's History page: their reads, newest first.
            models.Index(fields=["patient", "-at"], name="record_access_patient_at_idx"),
            # The admin's list of reads, scoped to the user's clinics, newest first.
            models.Index(fields=["clinic", "-at"], name="record_access_clinic_at_idx"),
            # prune_audit: rows older than the retention period.
            models.Index(fields=["at"], name="record_access_at_idx"),
        ]

    def __str__(self) -> str:
        return f"{self.username} opened {self.get_what_display().lower()} at {self.at:%Y-%m-%d %H:%M}"
