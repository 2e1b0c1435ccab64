"""Reads shared by several pages, as QuerySet methods. Models import this module, so it imports
no models: related rows are reached through lookups."""

import datetime

from django.db import models


class PatientQuerySet(models.QuerySet):
    def for_user(self, user: models.Model) -> "PatientQuerySet":
        """The patients of the clinics the user works for; a superuser sees every clinic."""
        if getattr(user, "is_superuser", False):
            return self
        return self.filter(clinic__memberships__user=user)

    def in_care(self) -> "PatientQuerySet":
        """Patients whose coverage the clinic still follows (everyone but the discharged)."""
        return self.exclude(status="discharged")


class VisitQuerySet(models.QuerySet):
    def for_user(self, user: models.Model) -> "VisitQuerySet":
        if getattr(user, "is_superuser", False):
            return self
        return self.filter(patient__clinic__memberships__user=user)

    def open(self) -> "VisitQuerySet":
        return self.filter(status="scheduled")

    def overdue(self, today: datetime.date) -> "VisitQuerySet":
        """Scheduled visits whose window closed before ``today``: these become missed."""
        return self.open().filter(window_end__lt=today)
