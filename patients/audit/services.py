"""The audit trail's writes: history for bulk writes, and the read log.

Changes. django-simple-history writes a history row (who, when, every field as it now is) for each
``save()`` of a tracked model, but nothing for ``bulk_create()`` or ``QuerySet.update()``. Every
bulk write to a tracked model goes through ``create_with_history`` or ``update_with_history``
instead: one extra bulk insert of history rows, inside the caller's transaction, so a change and its
history are saved together or not at all. Both also drop the report figures kept from the rows'
months (``patients.reports.kept``), as a ``save()`` does through its receiver. The user is the one
given, else the signed-in user of the request being served (simple-history's
``HistoryRequestMiddleware``); a command, task or the dispatcher leaves it empty.

Reads. ``record_access`` writes one ``RecordAccess`` row for a page, form or file that shows a
patient's records; views and admin pages call it once they know the user may see them.
"""

from collections.abc import Iterable
from typing import Any, TypeVar

from django.contrib.auth.models import AbstractBaseUser
from django.db import transaction
from django.db.models import Model, QuerySet
from django.http import HttpRequest

from accounts import lockout
from patients.models import Clinic, Patient, RecordAccess
from patients.reports import kept as kept_figures

M = TypeVar("M", bound=Model)


def create_with_history(
    model: type[M], rows: Iterable[M], *, user: AbstractBaseUser | None = None, reason: str = ""
) -> list[M]:
    """``bulk_create`` the rows and a "created" history row for each; returns the saved rows."""
    rows = list(rows)
    if not rows:
        return []
    with transaction.atomic():
        created = model._default_manager.bulk_create(rows)
        model.history.bulk_history_create(  # type: ignore[attr-defined]
            created, default_user=user, default_change_reason=reason
        )
        kept_figures.written(model, [], created)
    return created


def update_with_history(
    rows: QuerySet[M], *, user: AbstractBaseUser | None = None, reason: str = "", **changes: Any
) -> int:
    """``rows.update(**changes)``, then a "changed" history row for each row as it now is.

    ``changes`` may hold expressions (``F("calendar_sequence") + 1``): the rows are read again after
    the update, so history holds the values the database computed. Returns how many rows changed.
    """
    model = rows.model
    with transaction.atomic():
        before = list(rows.order_by())
        if not before:
            return 0
        ids = [row.pk for row in before]
        count = rows.filter(pk__in=ids).update(**changes)
        changed = list(model._default_manager.filter(pk__in=ids))
        model.history.bulk_history_create(  # type: ignore[attr-defined]
            changed, update=True, default_user=user, default_change_reason=reason
        )
        kept_figures.written(model, before, changed)
    return count


def client_address(request: HttpRequest) -> str | None:
    """The address the request came from: the one the sign-in lockout counts by, behind as many
    trusted proxies as ``TRUSTED_PROXY_COUNT`` says."""
    return lockout.client_address(request) or None


def record_access(
    request: HttpRequest,
    *,
    what: str,
    patient: Patient | None = None,
    clinic: Clinic | None = None,
    detail: str = "",
) -> RecordAccess:
    """Log that the signed-in user opened ``what``: one patient's records, or (``patient=None``) a
    file about many of ``clinic``'s patients."""
    user = request.user if request.user.is_authenticated else None
    clinic_id = clinic.pk if clinic is not None else patient.clinic_id if patient is not None else None
    return RecordAccess.objects.create(
        user=user,
        username=user.get_username() if user is not None else "",
        patient=patient,
        clinic_id=clinic_id,
        what=what,
        path=request.path[:500],
        detail=detail[:200],
        address=client_address(request),
    )
