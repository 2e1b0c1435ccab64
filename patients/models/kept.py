"""Rows derived from the records and kept beside them, so that the dashboard's lists start from a
few rows instead of working out every patient's state on each request.

Each is written by one module, in the same transaction as the records it follows, and can be
rebuilt from those records at any time. They hold no history of their own: the records do.

``patients.models`` re-exports these models.
"""

from django.db import models

from patients import formats


class AttendanceCount(models.Model):
    """A patient's attendance counts as of one clinic day (``patients.therapy.attendance``'s
    inputs), kept so that the lists of low attendance read one row per patient instead of counting
    every session on every request.

    ``patients.therapy.counts`` writes them: with each session logged, in the same transaction, and
    once a day for every patient as the counted days move on (the hourly task). Derived from the
    sessions, which are the record; the rows hold no history of their own.
    """

    patient = models.OneToOneField(
        "patients.Patient", on_delete=models.CASCADE, primary_key=True, related_name="attendance_count"
    )
    counted_on = models.DateField()
    attended = models.PositiveIntegerField()
    missed = models.PositiveIntegerField()
    attended_recently = models.PositiveIntegerField()

    class Meta:
        indexes = [
            # The dashboard's note of counts from an earlier day, and the hourly task's stale rows.
            models.Index(fields=["counted_on"], name="attendance_counted_on_idx"),
        ]

    def __str__(self) -> str:
        return f"{self.attended} attended, {self.missed} missed as of {formats.day(self.counted_on)}"


class NewestPlacement(models.Model):
    """A patient's newest placement and its last protected day (``Placement.coverage_ends_on``).

    ``patients.records.newest`` keeps it with each placement recorded or removed, so that the lapse
    lists read the patients whose cover ended, from an index, instead of finding every patient's
    newest placement. A patient with no placement has no row.
    """

    patient = models.OneToOneField(
        "patients.Patient", on_delete=models.CASCADE, primary_key=True, related_name="newest_placement"
    )
    placement = models.OneToOneField("patients.Placement", on_delete=models.CASCADE, related_name="+")
    ends_on = models.DateField()

    class Meta:
        indexes = [
            # The lapse lists: patients whose newest placement's cover ended before today.
            models.Index(fields=["ends_on"], name="newest_placement_ends_on_idx"),
        ]

    def __str__(self) -> str:
        return f"Newest placement covers until {formats.day(self.ends_on)}"


class ReportFigures(models.Model):
    """A clinic's monthly report figures, kept once worked out (``patients.reports.kept``).

    ``months`` holds each month's figures by its first day. A month that had ended by ``as_of`` (the
    clinic's day they were worked out) never changes by itself; the current month is kept for that
    day only. Any change to the clinic's records raises ``version`` and moves ``changed_from`` back to
    the first month it can touch, in the same transaction: from that month on nothing kept is used.
    Figures are stored only under the version read before their records were, so figures worked
    out while a change was being saved are never kept.
    """

    clinic = models.OneToOneField(
        "patients.Clinic", on_delete=models.CASCADE, primary_key=True, related_name="report_figures"
    )
    version = models.PositiveBigIntegerField(default=0)
    changed_from = models.DateField(null=True, blank=True)
    as_of = models.DateField(null=True, blank=True)
    definitions = models.CharField(max_length=16, blank=True)
    months = models.JSONField(default=dict, blank=True)

    class Meta:
        verbose_name_plural = "report figures"

    def __str__(self) -> str:
        return f"{len(self.months)} months of figures as of {formats.day(self.as_of) if self.as_of else 'never'}"
