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

from django.conf import settings
from django.contrib.auth.models import AbstractBaseUser
from django.db import connection, transaction
from django.db.models import Model, QuerySet
from django.http import HttpRequest
from django.utils import timezone

from accounts import lockout
from patients.models import Clinic, Patient, RecordAccess
from patients.reports import kept as kept_figures

M = TypeVar("M", bound=Model)
# Keys per INSERT ... SELECT of history rows.
HISTORY_BATCH = 2000
# The columns simple-history adds to a tracked model's own, in the order copy_into_history fills them.
HISTORY_COLUMNS = ("history_date", "history_change_reason", "history_type", "history_user_id")


def create_with_history(
    model: type[M], rows: Iterable[M], *, user: AbstractBaseUser | None = None, reason: str = ""
) -> list[M]:
    """``bulk_create`` the rows and a "created" history row for each; returns the saved rows."""
    rows = list(rows)
    if not rows:
        return []
    with transaction.atomic():
        created = model._default_manager.bulk_create(rows)
        copy_into_history(model, [row.pk for row in created], changed=False, user=user, reason=reason)
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
        copy_into_history(model, ids, changed=True, user=user, reason=reason)
        kept_figures.written(model, before, changed)
    return count


def copy_into_history(
    model: type[Model], ids: list[Any], *, changed: bool, user: AbstractBaseUser | None, reason: str
) -> None:
    """A history row for each row of ``ids``, as it is stored now: "created" ("+"), or ``changed``
    ("~"). The rows simple-history's ``bulk_history_create`` would write, but copied by the
    database (``INSERT ... SELECT``) instead of made into objects one by one, which was most of the
    cost of a bulk write. The user is ``user``, else simple-history's default (the signed-in user of
    the request being served); every row of one call has the same moment.
    """
    if not ids or not getattr(settings, "SIMPLE_HISTORY_ENABLED", True):
        return
    history = model.history.model  # type: ignore[attr-defined]
    if user is None:
        user = history.get_default_history_user(None)
    source = {field.attname: field.column for field in model._meta.concrete_fields}
    tracked = [(field.column, source[field.attname]) for field in history.tracked_fields]
    quote = connection.ops.quote_name
    # Only names from the models' own metadata, quoted, go into the text; values are parameters.
    columns = ", ".join(quote(column) for column in [*(column for column, _ in tracked), *HISTORY_COLUMNS])
    into = f"{quote(history._meta.db_table)} ({columns})"
    copied = ", ".join(quote(column) for _, column in tracked)
    source_table, key = quote(model._meta.db_table), quote(model._meta.pk.column)
    moment = history._meta.get_field("history_date").get_db_prep_save(timezone.now(), connection)
    fixed = [moment, reason, "~" if changed else "+", user.pk if user is not None else None]
    # A batch of keys at a time, well inside every database's limit on parameters.
    for start in range(0, len(ids), HISTORY_BATCH):
        batch = ids[start : start + HISTORY_BATCH]
        keys = ", ".join(["%s"] * len(batch))
        sql = f"INSERT INTO {into} SELECT {copied}, %s, %s, %s, %s FROM {source_table} WHERE {key} IN ({keys})"  # noqa: S608  # nosec B608: names from the models' metadata
        with connection.cursor() as cursor:
            cursor.execute(sql, [*fixed, *batch])


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
