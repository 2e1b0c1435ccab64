"""The values a row was read with, so that code reacting to a save can tell what the save changed."""

from typing import Any, Self

from django.db import models
from django.db.models.base import DEFERRED


class RemembersLoaded(models.Model):
    """Keeps each field's value as read from the database (Django's ``from_db`` hook).

    ``loaded()`` gives them by attribute name (``patient_id``, not ``patient``); a row made in
    Python and not yet read back has none. ``remember_current()`` makes the values now held the
    loaded ones, for a row saved again later in the same request.
    """

    class Meta:
        abstract = True

    @classmethod
    def from_db(cls, db: str | None, field_names: Any, values: Any) -> Self:
        instance = super().from_db(db, field_names, values)
        instance._loaded_values = {
            name: value for name, value in zip(field_names, values, strict=True) if value is not DEFERRED
        }
        return instance

    def loaded(self) -> dict[str, Any]:
        return getattr(self, "_loaded_values", {})

    def remember_current(self, attnames: Any) -> None:
        self._loaded_values = {**self.loaded(), **{name: getattr(self, name) for name in attnames}}
