"""The monthly figures, worked out once and kept (``ReportFigures``, one row a clinic).

A month's figures follow from the clinic's records and, until the month is over, from the day. So
the figures of a month that had ended when they were worked out are kept until a record they read
changes, and those of the current month for the day. The first day a change can touch:

- a patient: their registration, status and discharge day; a status counts from the day its
  version was saved, so any change counts from the day before today, whatever the time zone;
- a placement: its cover, lapses and retention from the day it was placed, and the renewal of the
  placement before it, judged by the next placement up to the day after its cover ended: from the
  day before it was placed;
- a visit: the day its window closes, which is the month it is counted in;
- a therapy session: the day it was held.

Every save and delete of these rows (the receivers ``connect`` attaches) and every bulk write of
them (``patients.audit.services``) calls ``forget`` with the earliest of those days, before and
after the change, in the same transaction: the clinic's ``version`` goes up and ``changed_from``
back to that day's month, and no kept month from there on is used again. ``keep`` stores figures
only under the version read before the records were (``clinic_report`` reads it with the clinic):
figures worked out while a change was being saved are dropped, never kept.

A change of definitions (this package's ``figures.py`` or ``queries.py``) drops every kept month.
"""

import datetime
import functools
import hashlib
from collections.abc import Iterable, Mapping, Sequence
from pathlib import Path
from typing import Any

from django.db.models import F, Model, Q, Value
from django.db.models.functions import Coalesce, Least
from django.db.models.signals import post_delete, post_save
from django.utils import timezone

from patients.models import Clinic, Patient, Placement, ReportFigures, TherapySession, Visit
from patients.reports.figures import DAY, Month, MonthFigures

# The fields of each kind of row the figures read (patients.reports.queries): a save that changes
# none of them leaves every kept month as it is.
READ: Mapping[type[Model], tuple[str, ...]] = {
    Patient: ("clinic_id", "created_at", "status", "discharged_on"),
    Placement: ("patient_id", "placed_on", "covers_until", "removed_on"),
    Visit: ("patient_id", "kind", "status", "window_start", "window_end", "completed_on"),
    TherapySession: ("patient_id", "held_on", "status"),
}


@functools.cache
def definitions() -> str:
    """A fingerprint of the code that defines the figures: kept figures of other code are not used."""
    here = Path(__file__).parent
    source = b"".join((here / name).read_bytes() for name in ("figures.py", "queries.py"))
    return hashlib.sha256(source).hexdigest()[:16]


# Reading and keeping.


def kept_row(clinic: Clinic) -> ReportFigures | None:
    """The clinic's kept figures: read with the clinic when it was loaded with
    ``select_related("report_figures")``, else read now. Once only: the clinic does not hold on to
    them, so a second call, after a change perhaps, reads them again."""
    relation = Clinic.report_figures.related  # where the clinic holds the row it was read with
    try:
        return clinic.report_figures
    except ReportFigures.DoesNotExist:
        return None
    finally:
        if relation.is_cached(clinic):
            relation.delete_cached_value(clinic)


def month_of(first: datetime.date) -> Month:
    """The whole calendar month that begins on ``first``."""
    following = (first.replace(day=28) + datetime.timedelta(days=4)).replace(day=1)
    return Month(first=first, last=following - DAY)


def usable(row: ReportFigures | None, *, today: datetime.date) -> dict[datetime.date, MonthFigures]:
    """The kept months that still hold today, by their first day: those before the first month a
    change touched, that had ended by the day they were worked out, or were worked out today."""
    if row is None or row.as_of is None or row.definitions != definitions():
        return {}
    found = {}
    for key, data in row.months.items():
        month = month_of(datetime.date.fromisoformat(key))
        if row.changed_from is not None and month.first >= row.changed_from:
            continue
        if month.last < row.as_of:
            found[month.first] = MonthFigures.from_json(month, data)
        elif row.as_of == today and month.first <= today:
            found[month.first] = MonthFigures.from_json(Month(first=month.first, last=today), data)
    return found


def keep(
    clinic: Clinic, row: ReportFigures | None, months: Mapping[datetime.date, MonthFigures], *, today: datetime.date
) -> bool:
    """Store ``months`` (the usable kept months with those just worked out, by first day) as of
    ``today``, if no change came since ``row`` was read. Every clinic has a row from its creation
    (migration 0014 for those before); one that lacks it gets an empty one, to keep figures from
    next time. Returns whether the figures were kept."""
    if row is None:
        ReportFigures.objects.bulk_create([ReportFigures(clinic=clinic)], ignore_conflicts=True)
        return False
    return bool(
        ReportFigures.objects.filter(pk=clinic.pk, version=row.version).update(
            months={first.isoformat(): month.as_json() for first, month in sorted(months.items())},
            as_of=today,
            changed_from=None,
            definitions=definitions(),
        )
    )


# Forgetting.


def forget(
    *, since: datetime.date, clinic_ids: Iterable[int | None] = (), patient_ids: Iterable[int | None] = ()
) -> None:
    """No kept month of these clinics (or these patients' clinics) from ``since``'s month on is used
    again, and figures being worked out meanwhile are not kept."""
    clinic_ids, patient_ids = set(clinic_ids) - {None}, set(patient_ids) - {None}
    if not clinic_ids and not patient_ids:
        return
    whose = Q(clinic_id__in=clinic_ids) if clinic_ids else Q()
    if patient_ids:
        whose |= Q(clinic_id__in=Patient.objects.filter(pk__in=patient_ids).values("clinic_id"))
    month = Value(since.replace(day=1))
    ReportFigures.objects.filter(whose).update(
        version=F("version") + 1, changed_from=Least(Coalesce("changed_from", month), month)
    )


def _day_before(day: datetime.date) -> datetime.date:
    return day - DAY if day > datetime.date.min else day


def _first_day(model: type[Model], values: Mapping[str, Any]) -> datetime.date:
    """The first day a row with these values counts on (see the module's list)."""
    if model is Patient:
        created_at, discharged_on = values["created_at"], values["discharged_on"]
        days = [timezone.now().date(), discharged_on or datetime.date.max]
        return _day_before(min(*days, created_at.date() if created_at else datetime.date.max))
    if model is Placement:
        return _day_before(values["placed_on"])
    return values["window_end" if model is Visit else "held_on"]


def forget_rows(model: type[Model], rows: Sequence[Mapping[str, Any]]) -> None:
    """Forget what rows of ``model`` with these values (read or written) count in."""
    if model not in READ or not rows:
        return
    if any(set(READ[model]) - set(values) for values in rows):  # a value not known: all of it
        since = datetime.date.min
    else:
        since = min(_first_day(model, values) for values in rows)
    owner = "clinic_id" if model is Patient else "patient_id"
    owners = {values.get(owner) for values in rows}
    if model is Patient:
        forget(since=since, clinic_ids=owners)
    else:
        forget(since=since, patient_ids=owners)


def values_of(model: type[Model], instances: Iterable[Model]) -> list[dict[str, Any]]:
    return [{name: getattr(instance, name) for name in READ[model]} for instance in instances]


def written(model: type[Model], before: Iterable[Model], after: Iterable[Model]) -> None:
    """For bulk writes: forget what the rows counted in before and count in now."""
    if model in READ:
        forget_rows(model, [*values_of(model, before), *values_of(model, after)])


def _saved(sender: type[Model], instance: Any, created: bool, **kwargs: Any) -> None:
    fields = READ[sender]
    now = values_of(sender, [instance])[0]
    before = {} if created else instance.loaded()
    if before and all(name in before and before[name] == now[name] for name in fields):
        return
    # Saved without having been read whole (nor created here): it may have held anything before.
    forget_rows(sender, [now] if created else [before, now])
    instance.remember_current(fields)


def _deleted(sender: type[Model], instance: Any, **kwargs: Any) -> None:
    loaded = instance.loaded()
    forget_rows(sender, [*values_of(sender, [instance]), *([loaded] if loaded else [])])


def _clinic_saved(sender: type[Model], instance: Clinic, created: bool, raw: bool = False, **kwargs: Any) -> None:
    """A new clinic gets its (empty) row; a clinic's time zone decides its days, so any change to a
    clinic drops all its kept months."""
    if created and not raw:
        ReportFigures.objects.get_or_create(clinic=instance)
    else:
        forget(since=datetime.date.min, clinic_ids=[instance.pk])


def connect() -> None:
    """Attach the receivers (``PatientsConfig.ready``)."""
    for model in READ:
        post_save.connect(_saved, sender=model, dispatch_uid=f"reports.kept.saved.{model.__name__}")
        post_delete.connect(_deleted, sender=model, dispatch_uid=f"reports.kept.deleted.{model.__name__}")
    post_save.connect(_clinic_saved, sender=Clinic, dispatch_uid="reports.kept.clinic_saved")
