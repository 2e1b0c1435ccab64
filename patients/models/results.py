"""A kept row beside the records (like those of ``patients.models.kept``): each patient's latest
safety results, so that the dashboard's safety flags read one row per patient instead of looking
up every result of the lookback on each request.

``patients.models`` re-exports it.
"""

from django.db import models

from patients import formats


class LatestResults(models.Model):
    """A patient's latest result of each safety test, with the day of the visit that recorded it:
    the latest completed visit at which the test was recorded (``patients.records.safety``'s
    ``latest_result``, without the lookback). The latest result of the lookback is this one when its
    day is in the lookback, and there is none otherwise, so the flags of any day read from here.

    ``patients.records.latest_results`` keeps it with each visit completed, in the same transaction,
    and rebuilds it from the visits at any time. A patient with no result of any test has no row.
    """

    patient = models.OneToOneField(
        "patients.Patient", on_delete=models.CASCADE, primary_key=True, related_name="latest_results"
    )
    item9 = models.PositiveSmallIntegerField(null=True)
    item9_on = models.DateField(null=True)
    alt = models.PositiveIntegerField(null=True)
    alt_on = models.DateField(null=True)
    ast = models.PositiveIntegerField(null=True)
    ast_on = models.DateField(null=True)

    class Meta:
        indexes = [
            # The dashboard's safety flags: the few patients whose latest result of a test calls for
            # action (patients.records.selectors.may_have_safety_flags), one index for each test.
            models.Index(fields=["item9", "item9_on"], name="latest_results_item9_idx"),
            models.Index(fields=["alt", "alt_on"], name="latest_results_alt_idx"),
            models.Index(fields=["ast", "ast_on"], name="latest_results_ast_idx"),
        ]

    def __str__(self) -> str:
        days = [day for day in (self.item9_on, self.alt_on, self.ast_on) if day is not None]
        return f"Latest safety results, the newest from {formats.day(max(days))}" if days else "No safety results"
