"""Reads shared by several pages, as QuerySet methods. Models import this module, so it imports
no models: related rows are reached through lookups. Scoping to a user's clinics lives in
``patients.access``, the one path every page takes."""

import datetime

from django.db import models
from django.db.models.functions import Coalesce, Least


class PlacementQuerySet(models.QuerySet):
    def with_ends_on(self) -> "PlacementQuerySet":
        """Each placement's last protected day as ``ends_on``: ``Placement.coverage_ends_on`` in SQL."""
        return self.annotate(ends_on=Least("covers_until", Coalesce("removed_on", "covers_until")))


class VisitQuerySet(models.QuerySet):
    def open(self) -> "VisitQuerySet":
        return self.filter(status="scheduled")

    def overdue(self, today: datetime.date, *, day_starts_at: datetime.datetime) -> "VisitQuerySet":
        """Scheduled visits that are over on ``today`` (which starts at ``day_starts_at`` in the
        clinic): the window closed before today, and an appointment booked after the window, if
        any, was on an earlier day. These become missed. ``Visit.is_over`` is the same for one visit
        in memory."""
        return (
            self.open()
            .filter(window_end__lt=today)
            .filter(models.Q(appointment_at__isnull=True) | models.Q(appointment_at__lt=day_starts_at))
        )
