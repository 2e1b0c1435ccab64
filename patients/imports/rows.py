"""What each row of a file becomes: a patient, a placement or a therapy session, written through
the services, so that visits, reminders and refusals are exactly what the forms would give.

Each writer takes one row's cells (by column name, already read from the file) and returns what it
did in the coordinator's words, or raises ``ValidationError`` keyed by column name. A row that
matches what the clinic already holds changes nothing, so a file can be brought in again.

A check (the preview, a dry run) goes through the same writers without saving (``Context.saving``
false): each row meets the checks the services run before they write, those that need no query
(``new_patient``, ``changed_patient``, ``check_imported_placement``, ``new_therapy_session``, beside
their services); what the services would otherwise read row by row (the patients, their
placements, their sessions) is read once for the whole file and kept up to date as the rows go, so
that thousands of rows are checked in seconds. What only the database can refuse (a coordinator's
change since the check) refuses the import itself, which goes through the services.
"""

import datetime
import decimal
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from typing import Any

from django.contrib.auth.models import User
from django.core.exceptions import ValidationError

from patients import formats, services
from patients.clinic_time import clinic_midnight
from patients.imports import values
from patients.models import Clinic, ImportRun, Patient, Placement, Product, TherapySession
from patients.records.services import patients as patient_checks
from patients.records.services import placements as placement_checks
from patients.therapy import services as session_checks


class Outcome:
    """What a row became; the preview and the summary count rows by these words."""

    NEW_PATIENT = "new patient"
    UPDATED = "patient updated"
    PLACEMENT = "placement added"
    SESSION = "session logged"
    UNCHANGED = "already recorded"
    REFUSED = "refused"


@dataclass(frozen=True)
class Written:
    outcome: str
    words: str


@dataclass(frozen=True)
class Context:
    """What every row of one import shares, and what the rows so far have made of the records."""

    clinic: Clinic
    run: ImportRun
    date_order: str
    by: User | None
    saving: bool
    # Patients of the clinic by record number, filled as the file's patients are written.
    patients: dict[str, Patient]
    products: dict[str, Product]
    # A placements file's: each patient's placements by day (their product's id and name) and
    # latest day.
    placements: dict[tuple[int, datetime.date], tuple[int, str]] = field(default_factory=dict)
    latest: dict[int, datetime.date] = field(default_factory=dict)
    # A sessions file's: the statuses of the individual sessions logged on each patient's day that
    # no row of the file has matched yet (a patient may have two on one day, and each row stands
    # for one of them).
    sessions: dict[tuple[int, datetime.date], list[str]] = field(default_factory=dict)


def context(
    *,
    clinic: Clinic,
    run: ImportRun,
    date_order: str,
    by: User | None,
    saving: bool = True,
    days: tuple[datetime.date, datetime.date] | None = None,
) -> Context:
    """What the rows of a ``run.kind`` file need, read at once; ``days``, the first and last day the
    file names, bounds the sessions read."""
    patients = {}
    for patient in Patient.objects.filter(clinic=clinic):
        patient.clinic = clinic
        patients[patient.record_number] = patient
    products = {product.name.casefold(): product for product in Product.objects.filter(clinic=clinic)}
    ctx = Context(
        clinic=clinic, run=run, date_order=date_order, by=by, saving=saving, patients=patients, products=products
    )
    if run.kind == ImportRun.Kind.PLACEMENTS:
        placed = Placement.objects.filter(patient__clinic=clinic).values_list(
            "patient_id", "placed_on", "product_id", "product__name"
        )
        for patient_pk, placed_on, product_pk, product_name in placed:
            ctx.placements[patient_pk, placed_on] = (product_pk, product_name)
            ctx.latest[patient_pk] = max(placed_on, ctx.latest.get(patient_pk, placed_on))
    if run.kind == ImportRun.Kind.SESSIONS and days is not None:
        logged = TherapySession.objects.filter(
            patient__clinic=clinic, kind=TherapySession.Kind.INDIVIDUAL, held_on__range=days
        ).order_by("pk")
        for patient_pk, held_on, status in logged.values_list("patient_id", "held_on", "status"):
            ctx.sessions.setdefault((patient_pk, held_on), []).append(status)
    return ctx


class Cells:
    """One row's cells by column name, read into values; each problem is kept under its column, so
    that the row reports all of them at once."""

    def __init__(self, cells: Mapping[str, str], *, date_order: str) -> None:
        self.cells = cells
        self.date_order = date_order
        self.problems: dict[str, list[str]] = {}

    def text(self, name: str) -> str:
        return self.cells.get(name, "").strip()

    def given(self, name: str) -> bool:
        return bool(self.text(name))

    def required(self, name: str) -> str:
        text = self.text(name)
        if not text:
            self.problems.setdefault(name, []).append("This column is required.")
        return text

    def read(self, name: str, parse: Callable[[str], Any], *, required: bool = False) -> Any:
        text = self.required(name) if required else self.text(name)
        if not text:
            return None
        try:
            return parse(text)
        except ValueError as error:
            self.problems.setdefault(name, []).append(str(error))
            return None

    def date(self, name: str, *, required: bool = False) -> datetime.date | None:
        value: datetime.date | None = self.read(
            name, lambda text: values.parse_date(text, order=self.date_order), required=required
        )
        return value

    def check(self) -> None:
        if self.problems:
            raise ValidationError(self.problems)


def parse_dose(text: str) -> decimal.Decimal:
    try:
        dose = decimal.Decimal(text.replace(",", "."))
    except decimal.InvalidOperation:
        raise ValueError(f"“{text}” is not a dose in mg (a number such as 1000 or 380.5).") from None
    if not dose.is_finite() or dose <= 0:
        raise ValueError(f"“{text}” is not a dose in mg (a number such as 1000 or 380.5).")
    return dose


def parse_past_visits(text: str) -> bool:
    """True for "missed"; "unknown" is False (the visits are closed as not recorded)."""
    answer = values.folded(text)
    if answer in ("missed", "unknown"):
        return answer == "missed"
    raise ValueError(f"“{text}” is not missed or unknown.")


def patient_of(row: Cells, ctx: Context) -> Patient | None:
    record_number = row.required("record_number")
    if record_number and record_number not in ctx.patients:
        row.problems.setdefault("record_number", []).append(
            f"No patient of {ctx.clinic.name} has record number {record_number}: bring the patients in first."
        )
    return ctx.patients.get(record_number)


def write_patient(cells: Mapping[str, str], ctx: Context) -> Written:
    row = Cells(cells, date_order=ctx.date_order)
    details: dict[str, Any] = {
        "record_number": row.required("record_number"),
        "first_name": row.required("first_name"),
        "last_name": row.required("last_name"),
        "date_of_birth": row.date("date_of_birth", required=True),
    }
    for name in ("email", "phone"):
        if row.given(name):
            details[name] = row.text(name)
    if row.given("treats"):
        details["treats"] = row.read("treats", lambda text: values.parse_choice(text, Patient.Treats))
    consent = bool(row.read("email_consent", values.parse_yes_no))
    consent_on = row.date("email_consent_at")
    if consent_on and not consent:
        row.problems.setdefault("email_consent_at", []).append(
            "A day of consent is given, but the consent column does not say yes."
        )
    row.check()
    consent_at = clinic_midnight(consent_on, ctx.clinic) if consent_on else None
    patient = ctx.patients.get(details["record_number"])
    if patient is None:
        if ctx.saving:
            patient = services.register_patient(
                clinic=ctx.clinic, email_consent=consent, email_consent_at=consent_at, by=ctx.by, **details
            )
        else:
            patient = patient_checks.new_patient(
                clinic=ctx.clinic, email_consent=consent, email_consent_at=consent_at, **details
            )
        ctx.patients[patient.record_number] = patient
        return Written(Outcome.NEW_PATIENT, f"New patient {patient.full_name}.")
    changed = {name: value for name, value in details.items() if getattr(patient, name) != value}
    # Consent is brought in only where the file says it was given: a "no" never withdraws it.
    gives_consent = consent and not patient.email_consent
    if not changed and not gives_consent:
        return Written(Outcome.UNCHANGED, f"{patient.full_name}: nothing new.")
    consent_change: dict[str, Any] = {"email_consent": True, "email_consent_at": consent_at} if gives_consent else {}
    if ctx.saving:
        patient = services.update_patient(patient=patient, by=ctx.by, **consent_change, **changed)
    else:
        patient = patient_checks.changed_patient(patient, **consent_change, **changed)
    ctx.patients[patient.record_number] = patient
    what = [name.replace("_", " ") for name in changed] + (["email consent"] if gives_consent else [])
    return Written(Outcome.UPDATED, f"{patient.full_name}: {', '.join(what)} updated.")


def write_placement(cells: Mapping[str, str], ctx: Context) -> Written:
    row = Cells(cells, date_order=ctx.date_order)
    patient = patient_of(row, ctx)
    product_name = row.required("product")
    product = ctx.products.get(product_name.casefold())
    if product_name and product is None:
        known = ", ".join(sorted(product.name for product in ctx.products.values())) or "none yet"
        row.problems.setdefault("product", []).append(
            f"{product_name} is not in {ctx.clinic.name}'s catalogue (it holds: {known})."
        )
    placed_on = row.date("placed_on", required=True)
    dose_mg = row.read("dose_mg", parse_dose)
    past_missed = row.read("past_visits", parse_past_visits) or False
    row.check()
    assert patient is not None
    assert product is not None
    assert placed_on is not None
    existing = ctx.placements.get((patient.pk, placed_on))
    if existing is not None:
        existing_pk, existing_name = existing
        if existing_pk != product.pk:
            raise ValidationError(
                {"product": f"{patient.full_name} already has a placement of {existing_name} that day."}
            )
        return Written(Outcome.UNCHANGED, f"{patient.full_name}: the placement of {formats.day(placed_on)}.")
    details = {"dose_mg": dose_mg, "lot_number": row.text("lot_number"), "notes": row.text("notes")}
    if ctx.saving:
        placement = services.record_placement(
            patient=patient, product=product, placed_on=placed_on, imported_in=ctx.run, by=ctx.by, **details
        )
        past = services.settle_past_visits(placement=placement, missed=past_missed, by=ctx.by)
        visits = placement.visits.count()
    else:
        checked = placement_checks.check_imported_placement(
            patient=patient,
            product=product,
            placed_on=placed_on,
            previous_on=ctx.latest.get(patient.pk),
            imported_in=ctx.run,
            **details,
        )
        placement, past, visits = checked.placement, len(checked.over), len(checked.visits)
    ctx.placements[patient.pk, placed_on] = (product.pk, product.name)
    ctx.latest[patient.pk] = max(placed_on, ctx.latest.get(patient.pk, placed_on))
    settled = f" ({past} already over: {'missed' if past_missed else 'not recorded'})" if past else ""
    return Written(
        Outcome.PLACEMENT,
        f"{patient.full_name}: {product.name} on {formats.day(placed_on)}, covers until "
        f"{formats.day(placement.covers_until)}, {visits} visit{'' if visits == 1 else 's'} planned{settled}.",
    )


def write_session(cells: Mapping[str, str], ctx: Context) -> Written:
    row = Cells(cells, date_order=ctx.date_order)
    patient = patient_of(row, ctx)
    held_on = row.date("held_on", required=True)
    status = row.read("status", lambda text: values.parse_choice(text, TherapySession.Status), required=True)
    row.check()
    assert patient is not None
    assert held_on is not None
    # Matched on patient and day: each row to a session that day no earlier row took, the same
    # status first. A session already logged is never changed by a file.
    logged = ctx.sessions.get((patient.pk, held_on), [])
    if logged:
        match = status if status in logged else logged[0]
        if match != status:
            raise ValidationError(
                {"status": f"A session that day is already logged as {TherapySession.Status(match).label.lower()}."}
            )
        logged.remove(match)
        return Written(Outcome.UNCHANGED, f"{patient.full_name}: the session of {formats.day(held_on)}.")
    details = {"patient": patient, "held_on": held_on, "status": status, "note": row.text("note")}
    if ctx.saving:
        session = services.log_therapy_session(by=ctx.by, **details)
    else:
        session = session_checks.new_therapy_session(**details)
    return Written(
        Outcome.SESSION,
        f"{patient.full_name}: {session.get_status_display().lower()} on {formats.day(held_on)}.",
    )


WRITERS: dict[str, Callable[[Mapping[str, str], Context], Written]] = {
    ImportRun.Kind.PATIENTS: write_patient,
    ImportRun.Kind.PLACEMENTS: write_placement,
    ImportRun.Kind.SESSIONS: write_session,
}

# The column whose date orders a kind's rows: a patient's placements are written oldest first,
# whatever the file's order, so each renewal follows the placement before it.
ORDERED_BY: dict[str, str] = {ImportRun.Kind.PLACEMENTS: "placed_on", ImportRun.Kind.SESSIONS: "held_on"}
