"""A patient's change history as their History page tells it, in the coordinator's words.

Every version simple-history kept of the patient and of their placements, visits, therapy sessions
and follow-up calls, each compared with the version before it of the same record: which fields
changed (by their labels), from what to what, who made the change and when, newest first. The page
costs the same number of queries however long the history: one per kind of record, and one per kind
of linked record whose name it shows.
"""

import datetime
import zoneinfo
from collections import defaultdict
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

from django.contrib.auth import get_user_model
from django.db.models import Field, Model
from django.utils import timezone

from patients import formats
from patients.models import FollowUpCall, Patient, Placement, TherapySession, Visit

EMPTY = "—"
ACTIONS = {"+": "Created", "~": "Changed", "-": "Deleted"}


def _placement_name(placement: Any) -> str:
    return f"Placement on {formats.day(placement.placed_on)}"


def _visit_name(visit: Any) -> str:
    return f"{Visit.Kind(visit.kind).label} visit due {formats.day(visit.due_on)}"


def _session_name(session: Any) -> str:
    return f"{TherapySession.Kind(session.kind).label} therapy session on {formats.day(session.held_on)}"


def _call_name(call: Any) -> str:
    return f"Call on {formats.day(call.called_at)}"


# The records of a patient that keep history: how to find the patient's rows, and how to name one.
TRACKED: tuple[tuple[type[Model], str, Callable[[Any], str]], ...] = (
    (Patient, "id", lambda patient: "Patient details"),
    (Placement, "patient_id", _placement_name),
    (Visit, "patient_id", _visit_name),
    (TherapySession, "patient_id", _session_name),
    (FollowUpCall, "patient_id", _call_name),
)
# Fields not worth a line: identifiers, the patient every row of the page belongs to, and the
# calendar file's counter, which moves with every change the page already tells.
HIDDEN_FIELDS = frozenset({"id", "uuid", "patient", "created_at", "calendar_sequence"})


def _user_name(user: Any) -> str:
    return user.get_full_name() or user.get_username()


# How a linked record is named on the page; other models by their ``str``.
LINK_NAMES: dict[type[Model], Callable[[Any], str]] = {
    get_user_model(): _user_name,
    Placement: _placement_name,
    Visit: _visit_name,
}


@dataclass(frozen=True)
class FieldChange:
    label: str
    before: str
    after: str


@dataclass(frozen=True)
class Change:
    at: datetime.datetime
    by: str
    record: str
    action: str
    reason: str
    fields: tuple[FieldChange, ...]


@dataclass
class _Version:
    model: type[Model]
    record: Any
    previous: Any | None
    name: str


def _fields(model: type[Model]) -> list["Field[Any, Any]"]:
    return [field for field in model._meta.concrete_fields if field.name not in HIDDEN_FIELDS]


def patient_changes(patient: Patient) -> list[Change]:
    """Every change to the patient's records, newest first."""
    versions: list[_Version] = []
    links: dict[type[Model], set[Any]] = defaultdict(set)
    user_model = get_user_model()
    for model, key, name in TRACKED:
        history = model.history.filter(**{key: patient.pk}).order_by("id", "history_date", "history_id")  # type: ignore[attr-defined]
        previous_by_record: dict[int, Any] = {}
        for record in history:
            versions.append(_Version(model, record, previous_by_record.get(record.id), name(record)))
            previous_by_record[record.id] = record
            if record.history_user_id is not None:
                links[user_model].add(record.history_user_id)
            for field in _fields(model):
                if field.is_relation and getattr(record, field.attname) is not None:
                    links[field.related_model].add(getattr(record, field.attname))  # type: ignore[index]
    names = _link_names(links)
    zone = patient.clinic.zone
    changes = [
        Change(
            at=version.record.history_date,
            by=names[user_model].get(version.record.history_user_id, "") or "the system",
            record=version.name,
            action=ACTIONS.get(version.record.history_type, version.record.history_type),
            reason=version.record.history_change_reason or "",
            fields=_changed_fields(version, names, zone),
        )
        for version in sorted(
            versions, key=lambda version: (version.record.history_date, version.record.history_id), reverse=True
        )
    ]
    return changes


def _link_names(links: dict[type[Model], set[Any]]) -> dict[type[Model], dict[Any, str]]:
    names: dict[type[Model], dict[Any, str]] = defaultdict(dict)
    for model, ids in links.items():
        name = LINK_NAMES.get(model, str)
        names[model] = {row.pk: name(row) for row in model._default_manager.filter(pk__in=ids)}
    return names


def _changed_fields(
    version: _Version, names: dict[type[Model], dict[Any, str]], zone: zoneinfo.ZoneInfo
) -> tuple[FieldChange, ...]:
    """The fields that differ from the version before; for a new record, the ones filled in."""
    changed = []
    for field in _fields(version.model):
        after = getattr(version.record, field.attname)
        before = getattr(version.previous, field.attname) if version.previous is not None else None
        if after == before or (version.previous is None and after in (None, "")):
            continue
        changed.append(
            FieldChange(
                label=str(field.verbose_name)[:1].upper() + str(field.verbose_name)[1:],
                before=_shown(field, before, names, zone),
                after=_shown(field, after, names, zone),
            )
        )
    return tuple(changed)


def _shown(
    field: "Field[Any, Any]", value: Any, names: dict[type[Model], dict[Any, str]], zone: zoneinfo.ZoneInfo
) -> str:
    if value is None or value == "":
        return EMPTY
    if field.is_relation:
        return names[field.related_model].get(value, "a deleted record")  # type: ignore[index]
    if field.choices:
        return str(dict(field.flatchoices).get(value, value))
    if isinstance(value, bool):
        return "Yes" if value else "No"
    if isinstance(value, datetime.datetime):
        local = timezone.localtime(value, zone)
        return f"{formats.day(local)} {local:%H:%M}"
    if isinstance(value, datetime.date):
        return formats.day(value)
    return str(value)
