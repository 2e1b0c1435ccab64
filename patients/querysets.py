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

    def overdue(self, today: datetime.date) -> "VisitQuerySet":
        """Scheduled visits whose window closed before ``today``: these become missed."""
        return self.open().filter(window_end__lt=today)
