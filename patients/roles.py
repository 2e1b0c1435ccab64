"""What each role may do in a clinic: the one table that services, pages and the admin consult.

A member of staff has one role per clinic they work for (``Membership.role``). Each role may do
everything the role before it may, and more:

- a **coordinator** keeps the register: patients, bookings, therapy attendance and groups, calls;
- a **clinician** also records visit findings and placements and gives every clinical override
  (a different coverage end, an early renewal, a booking outside the visit's window, a naloxone
  waiver), and reads a record's history;
- a **manager** also changes the clinic's settings, its product catalogue and its memberships,
  and brings in the clinic's earlier records from a file.

A superuser may do everything in every clinic. Nobody may do anything in a clinic they do not
work for.

Services take an optional keyword ``by``: the user on whose behalf they write. ``require(by, ...)``
refuses with ``PermissionDenied`` what that user's role does not allow; ``by=None`` is a trusted
caller (a command, a task, the importer) and is not checked. Pages and the admin always pass the
signed-in user, and ask ``may`` first so that they offer only what the user may do.
"""

import enum
from typing import Any

from django.core.exceptions import PermissionDenied
from django.db.models import OuterRef, Subquery

from patients.models import Clinic, Membership


class Action(enum.StrEnum):
    """Things a role may be allowed to do; each value completes "… may not …"."""

    MANAGE_PATIENTS = "register patients or change their details and status"
    BOOK_VISITS = "book, move or cancel visits"
    LOG_ATTENDANCE = "log therapy attendance or change therapy groups"
    LOG_CALLS = "log follow-up calls"
    RECORD_FINDINGS = "record what was found at a visit"
    RECORD_PLACEMENTS = "record placements or removals"
    CLINICAL_OVERRIDE = "give a clinical override"
    SEE_HISTORY = "read a record's history"
    MANAGE_CLINIC = "change the clinic's settings"
    MANAGE_CATALOGUE = "change the product catalogue"
    MANAGE_MEMBERSHIPS = "change who works for the clinic"
    IMPORT_RECORDS = "bring in records from a file"


Role = Membership.Role

_COORDINATOR = frozenset({Action.MANAGE_PATIENTS, Action.BOOK_VISITS, Action.LOG_ATTENDANCE, Action.LOG_CALLS})
_CLINICIAN = _COORDINATOR | {
    Action.RECORD_FINDINGS,
    Action.RECORD_PLACEMENTS,
    Action.CLINICAL_OVERRIDE,
    Action.SEE_HISTORY,
}
_MANAGER = _CLINICIAN | {
    Action.MANAGE_CLINIC,
    Action.MANAGE_CATALOGUE,
    Action.MANAGE_MEMBERSHIPS,
    Action.IMPORT_RECORDS,
}

ALLOWED: dict[str, frozenset[Action]] = {
    Role.COORDINATOR: _COORDINATOR,
    Role.CLINICIAN: _CLINICIAN,
    Role.MANAGER: _MANAGER,
}

# Where a user's roles are kept for the life of the user object (one request, in a page).
_CACHE_ATTRIBUTE = "_clinic_roles"
# Roles in single clinics, learnt from the query that read a row of that clinic.
_KNOWN_ATTRIBUTE = "_clinic_roles_known"


def clinic_roles(user: Any) -> dict[int, str]:
    """The user's role in each clinic they work for, by clinic id; read once per user object."""
    if user is None or user.pk is None or not getattr(user, "is_active", True):
        return {}
    roles = getattr(user, _CACHE_ATTRIBUTE, None)
    if roles is None:
        roles = dict(Membership.objects.filter(user_id=user.pk).values_list("clinic_id", "role"))
        setattr(user, _CACHE_ATTRIBUTE, roles)
    return roles


def role_in(user: Any, clinic: Clinic | int) -> str | None:
    """The user's role in ``clinic``, or ``None`` when they do not work there."""
    clinic_id = clinic if isinstance(clinic, int) else clinic.pk
    known = getattr(user, _KNOWN_ATTRIBUTE, {})
    if clinic_id in known and getattr(user, _CACHE_ATTRIBUTE, None) is None:
        return known[clinic_id]
    return clinic_roles(user).get(clinic_id)


def viewer_role(user: Any, clinic_field: str) -> Subquery:
    """An annotation with ``user``'s role in each row's clinic (``clinic_field`` leads to it), so a
    page that reads a row learns the role in the same query; pass the row to ``remember``."""
    memberships = Membership.objects.filter(user_id=user.pk, clinic_id=OuterRef(clinic_field))
    return Subquery(memberships.values("role")[:1])


def remember(user: Any, clinic_id: int, role: str | None) -> None:
    """Keep a role read by a ``viewer_role`` annotation on the user object for this request."""
    known = getattr(user, _KNOWN_ATTRIBUTE, None)
    if known is None:
        known = {}
        setattr(user, _KNOWN_ATTRIBUTE, known)
    known[clinic_id] = role


def may(user: Any, action: Action, clinic: Clinic | int | None = None) -> bool:
    """Whether ``user`` may do ``action`` in ``clinic``; without a clinic, in any clinic of theirs."""
    if user is None or not getattr(user, "is_authenticated", False) or not getattr(user, "is_active", True):
        return False
    if user.is_superuser:
        return True
    if clinic is None:
        return any(action in ALLOWED[role] for role in clinic_roles(user).values())
    role = role_in(user, clinic)
    return role is not None and action in ALLOWED[role]


def clinics_where(user: Any, action: Action) -> list[int]:
    """The ids of the clinics where ``user`` may do ``action`` (every clinic's, to a superuser)."""
    if getattr(user, "is_superuser", False):
        return list(Clinic.objects.values_list("pk", flat=True))
    return [clinic_id for clinic_id, role in clinic_roles(user).items() if action in ALLOWED[role]]


def require(by: Any, action: Action, clinic: Clinic | int) -> None:
    """Refuse ``action`` in ``clinic`` unless ``by`` may do it; ``by=None`` is a trusted caller."""
    if by is None or may(by, action, clinic):
        return
    role = role_in(by, clinic)
    if role is None:
        raise PermissionDenied(f"You do not work for this clinic, so you may not {action}.")
    raise PermissionDenied(
        f"Your role here is {Role(role).label.lower()}: a {Role(role).label.lower()} may not {action}."
    )


def deny_message(user: Any, action: Action, clinic: Clinic | int) -> str:
    """The words ``require`` would refuse with, for a page that explains instead of refusing."""
    try:
        require(user, action, clinic)
    except PermissionDenied as refusal:
        return str(refusal)
    return ""
