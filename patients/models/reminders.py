"""The reminder outbox and the records that keep the pipeline honest.

A row exists before anything is sent; the dispatcher claims it, sends, and stamps it. Nothing is
remembered only in Redis. ``patients.models`` re-exports these models.
"""

import uuid

from django.db import models
from django.db.models import Q

from patients.models.visits import Visit


class Reminder(models.Model):
    class Kind(models.TextChoices):
        MONITORING_3_DAYS = "monitoring_3_days", "Monitoring visit in 3 days"
        MONITORING_1_DAY = "monitoring_1_day", "Monitoring visit tomorrow"
        RENEWAL_14_DAYS = "renewal_14_days", "Renewal in 14 days"
        RENEWAL_3_DAYS = "renewal_3_days", "Renewal in 3 days"
        RENEWAL_1_DAY = "renewal_1_day", "Renewal tomorrow"
        MISSED_VISIT = "missed_visit", "Missed visit"
        VISIT_CANCELLED = "visit_cancelled", "Visit cancelled"
        VISIT_MOVED = "visit_moved", "Appointment moved"

    class Channel(models.TextChoices):
        EMAIL = "email", "Email"

    class Status(models.TextChoices):
        PENDING = "pending", "Pending"
        SENDING = "sending", "Sending"
        SENT = "sent", "Sent"
        FAILED = "failed", "Failed"
        SKIPPED = "skipped", "Skipped"
        CANCELLED = "cancelled", "Cancelled"
        EXPIRED = "expired", "Expired"

    # Statuses of a reminder that did not reach the patient, so someone must phone instead: the
    # patient page marks such rows (``needs_a_call``), and the worklists filter by them in SQL
    # (``needing_a_call``).
    NEEDS_A_CALL = (Status.FAILED, Status.SKIPPED, Status.EXPIRED)

    class SkipReason(models.TextChoices):
        NO_CONSENT = "no_consent", "No consent to email: phone instead"
        NO_EMAIL = "no_email", "No email address: phone instead"

    class CancelReason(models.TextChoices):
        """Why a row was withdrawn before it went out: by a service, or by the dispatcher's last check."""

        CONSENT_WITHDRAWN = "consent_withdrawn", "The patient stopped email reminders"
        NO_EMAIL = "no_email", "The patient has no email address"
        DISCHARGED = "discharged", "The patient was discharged"
        VISIT_COMPLETED = "visit_completed", "The visit took place"
        VISIT_CANCELLED = "visit_cancelled", "The visit was cancelled"
        VISIT_MISSED = "visit_missed", "The visit was missed"
        VISIT_BOOKED = "visit_booked", "The visit was booked again"
        MOVED = "moved", "The appointment moved"
        REPLANNED = "replanned", "Written again for the patient's new details"
        # Rows withdrawn before reasons were recorded.
        WITHDRAWN = "withdrawn", "Withdrawn"

    uuid = models.UUIDField(default=uuid.uuid4, unique=True, editable=False)
    patient = models.ForeignKey("patients.Patient", on_delete=models.PROTECT, related_name="reminders")
    visit = models.ForeignKey("patients.Visit", on_delete=models.PROTECT, related_name="reminders")
    kind = models.CharField(max_length=20, choices=Kind.choices)
    # What the row announces: the visit's appointment as it was booked when the row was written, or
    # empty for a visit not booked. A row whose appointment is no longer the visit's is never sent.
    appointment_at = models.DateTimeField(null=True, blank=True)
    channel = models.CharField(max_length=10, choices=Channel.choices, default=Channel.EMAIL)
    send_at = models.DateTimeField(help_text="When the rule says it goes out.")
    next_attempt_at = models.DateTimeField(help_text="When the dispatcher may next try: later after a failure.")
    status = models.CharField(max_length=10, choices=Status.choices, default=Status.PENDING)
    skip_reason = models.CharField(max_length=20, choices=SkipReason.choices, blank=True)
    cancel_reason = models.CharField(max_length=20, choices=CancelReason.choices, blank=True)
    attempts = models.PositiveSmallIntegerField(default=0)
    last_error = models.TextField(blank=True)
    # Set by the dispatcher that claimed the row; only that dispatcher may stamp the outcome.
    claim_token = models.UUIDField(null=True, blank=True)
    lease_expires_at = models.DateTimeField(
        null=True, blank=True, help_text="A row still sending after this moment is returned to pending."
    )
    sent_at = models.DateTimeField(null=True, blank=True)
    # Fixed when the row is written, so every copy of one reminder carries the same Message-ID.
    message_id = models.CharField(max_length=200, unique=True)
    created_at = models.DateTimeField(auto_now_add=True)

    class Meta:
        ordering = ["send_at"]
        constraints = [
            # One live copy of each rule's reminder per visit and appointment: a moved appointment is
            # announced again, a cancelled row may be written again. Two constraints, because NULLs
            # (a visit not booked) are distinct in a unique index.
            models.UniqueConstraint(
                fields=["visit", "kind", "appointment_at"],
                condition=~Q(status="cancelled") & Q(appointment_at__isnull=False),
                name="reminder_one_live_per_appointment",
            ),
            models.UniqueConstraint(
                fields=["visit", "kind"],
                condition=~Q(status="cancelled") & Q(appointment_at__isnull=True),
                name="reminder_one_live_per_unbooked_visit",
            ),
            models.CheckConstraint(
                condition=Q(
                    status="cancelled",
                    cancel_reason__in=[
                        "consent_withdrawn",
                        "no_email",
                        "discharged",
                        "visit_completed",
                        "visit_cancelled",
                        "visit_missed",
                        "visit_booked",
                        "moved",
                        "replanned",
                        "withdrawn",
                    ],
                )
                | (~Q(status="cancelled") & Q(cancel_reason="")),
                name="reminder_cancel_reason_matches_status",
            ),
            models.CheckConstraint(
                condition=Q(status__in=["pending", "sending", "sent", "failed", "skipped", "cancelled", "expired"]),
                name="reminder_status_valid",
            ),
            models.CheckConstraint(
                condition=Q(
                    kind__in=[
                        "monitoring_3_days",
                        "monitoring_1_day",
                        "renewal_14_days",
                        "renewal_3_days",
                        "renewal_1_day",
                        "missed_visit",
                        "visit_cancelled",
                        "visit_moved",
                    ]
                ),
                name="reminder_kind_valid",
            ),
            models.CheckConstraint(condition=Q(channel="email"), name="reminder_channel_valid"),
            models.CheckConstraint(
                condition=~Q(status="sent") | Q(sent_at__isnull=False), name="reminder_sent_has_time"
            ),
            models.CheckConstraint(
                condition=~Q(status="sending") | Q(lease_expires_at__isnull=False), name="reminder_sending_has_lease"
            ),
            models.CheckConstraint(
                condition=Q(status="skipped", skip_reason__in=["no_consent", "no_email"])
                | (~Q(status="skipped") & Q(skip_reason="")),
                name="reminder_skip_reason_matches_status",
            ),
        ]
        indexes = [
            # The dispatcher's due rows: pending, next attempt at or before now.
            models.Index(fields=["status", "next_attempt_at"], name="reminder_due_idx"),
            # The recovery sweep: rows left sending by a worker that died.
            models.Index(fields=["status", "lease_expires_at"], name="reminder_lease_idx"),
            # The dashboard's failed, skipped and expired lists, newest first.
            models.Index(fields=["status", "send_at"], name="reminder_status_send_at_idx"),
            # The dashboard's visits to phone about: the few reminders cancelled because email stopped,
            # among the many withdrawn for other reasons. Not a partial index (WHERE status =
            # 'cancelled'): SQLite uses one only when the query spells the condition as a literal,
            # and Django passes it as a parameter.
            models.Index(fields=["cancel_reason", "status", "visit"], name="reminder_stopped_email_idx"),
        ]

    def __str__(self) -> str:
        return f"{self.get_kind_display()} ({self.get_status_display().lower()})"

    # Kinds about a visit that is over or off. Every other kind announces a visit to come, and a
    # call instead of it is needed only while that visit still is: once the visit took place, was
    # missed (its own list asks for a call), was cancelled, or was over before the clinic's records
    # came here, an announcement that did not reach the patient is history.
    ABOUT_A_CLOSED_VISIT = (Kind.MISSED_VISIT, Kind.VISIT_CANCELLED)

    @property
    def needs_a_call(self) -> bool:
        """Whether someone must phone the patient instead of this reminder; ``needing_a_call`` is
        the same rule for the database."""
        if self.status not in self.NEEDS_A_CALL:
            return False
        return self.kind in self.ABOUT_A_CLOSED_VISIT or self.visit.status == Visit.Status.SCHEDULED

    @classmethod
    def needing_a_call(cls) -> Q:
        """The reminders that need a call instead (``needs_a_call``), as a condition."""
        return Q(status__in=cls.NEEDS_A_CALL) & (
            Q(kind__in=cls.ABOUT_A_CLOSED_VISIT) | Q(visit__status=Visit.Status.SCHEDULED)
        )


class PipelineHeartbeat(models.Model):
    """When a periodic job last ran whole, so a silent pipeline shows on every staff page.

    The dispatcher also keeps one row per clinic (``clinic`` set): when it last served that clinic
    whole, and when and why it last failed there. An error in one clinic is that clinic's: its
    coordinators' banner turns red with the reason while the other clinics' reminders go out.
    """

    DISPATCHER = "dispatcher"

    name = models.CharField(max_length=60, unique=True)
    last_run_at = models.DateTimeField(null=True, blank=True, help_text="The last run that finished.")
    clinic = models.OneToOneField(
        "patients.Clinic", on_delete=models.CASCADE, null=True, blank=True, related_name="dispatch"
    )
    failed_at = models.DateTimeField(null=True, blank=True, help_text="The last run that met an error here.")
    last_error = models.TextField(blank=True)

    def __str__(self) -> str:
        return f"{self.name} at {self.last_run_at:%Y-%m-%d %H:%M}" if self.last_run_at else self.name

    @classmethod
    def dispatcher_name(cls, clinic_id: int) -> str:
        return f"{cls.DISPATCHER}:clinic:{clinic_id}"

    @property
    def is_failing(self) -> bool:
        return self.failed_at is not None and (self.last_run_at is None or self.failed_at >= self.last_run_at)


class DigestRun(models.Model):
    """One coordinators' digest per clinic per day, whatever the number of workers."""

    clinic = models.ForeignKey("patients.Clinic", on_delete=models.CASCADE, related_name="digest_runs")
    day = models.DateField()
    # When a worker took the day on; a claim never stamped sent is taken over after a while.
    claimed_at = models.DateTimeField(null=True, blank=True)
    sent_at = models.DateTimeField(null=True, blank=True)
    created_at = models.DateTimeField(auto_now_add=True)

    class Meta:
        constraints = [models.UniqueConstraint(fields=["clinic", "day"], name="digest_once_per_clinic_day")]

    def __str__(self) -> str:
        return f"Digest for {self.clinic} on {self.day}"
