"""The worklist's memory: who was phoned about a missed visit or a lapse, and what came of it.

``patients.models`` re-exports this model.
"""

import uuid

from django.conf import settings
from django.db import models
from django.db.models import Q
from simple_history.models import HistoricalRecords

from patients import formats


class FollowUpCall(models.Model):
    class Outcome(models.TextChoices):
        REACHED = "reached", "Reached"
        LEFT_MESSAGE = "left_message", "Left a message"
        NO_ANSWER = "no_answer", "No answer"
        WRONG_NUMBER = "wrong_number", "Wrong number"
        AGREED_TO_COME = "agreed_to_come", "Agreed to come in"
        DECLINED = "declined", "Declined"

    uuid = models.UUIDField(default=uuid.uuid4, unique=True, editable=False)
    patient = models.ForeignKey("patients.Patient", on_delete=models.PROTECT, related_name="follow_up_calls")
    visit = models.ForeignKey(
        "patients.Visit", on_delete=models.PROTECT, null=True, blank=True, related_name="follow_up_calls"
    )
    called_at = models.DateTimeField()
    called_by = models.ForeignKey(
        settings.AUTH_USER_MODEL, on_delete=models.SET_NULL, null=True, blank=True, related_name="+"
    )
    outcome = models.CharField(max_length=20, choices=Outcome.choices)
    note = models.TextField(blank=True)
    try_again_on = models.DateField(null=True, blank=True, help_text="The worklist hides the patient until this day.")

    history = HistoricalRecords()

    class Meta:
        ordering = ["-called_at"]
        get_latest_by = "called_at"
        constraints = [
            models.CheckConstraint(
                condition=Q(
                    outcome__in=["reached", "left_message", "no_answer", "wrong_number", "agreed_to_come", "declined"]
                ),
                name="follow_up_call_outcome_valid",
            ),
        ]
        indexes = [
            # The worklists' "latest call" per patient.
            models.Index(fields=["patient", "-called_at"], name="follow_up_patient_latest_idx"),
        ]

    def __str__(self) -> str:
        return f"{self.get_outcome_display()} on {formats.day(self.called_at)}"
