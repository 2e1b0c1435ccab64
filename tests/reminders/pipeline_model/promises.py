"""The reminder rows the app promises for visits still to come, checked after every step of
tests/reminders/pipeline_model/test_pipeline_model.py against the machine's own records."""

import datetime
from collections.abc import Iterable, Mapping
from typing import Any

from patients.models import Reminder, Visit
from patients.reminders import timing as reminder_timing
from patients.reminders.dispatcher import ABANDONED
from tests.reminders.pipeline_model.records import LONDON, PatientRecord, VisitRecord, local, passes_at

ROW_FIELDS = (
    "visit_id",
    "kind",
    "appointment_at",
    "status",
    "send_at",
    "created_at",
    "cancel_reason",
    "skip_reason",
    "last_error",
    "attempts",
)
Row = Mapping[str, Any]


def missing_reminders(
    *,
    visits: Iterable[VisitRecord],
    patients: Mapping[int, PatientRecord],
    rows: Iterable[Row],
    now: datetime.datetime,
    max_attempts: int,
) -> list[str]:
    """Where the rows (``ROW_FIELDS`` of every reminder) break the promise, as problems.

    Every scheduled visit of a consenting, non-discharged patient has, for each rule of its kind
    (``reminder_timing.ADVANCE_REMINDERS``) and its current appointment, the row the app promises.
    Let S be the rule's time for that appointment (10:00 clinic time, the rule's days before the
    appointment's day, or before the due day while not booked) and B the moment the appointment
    was set (none while the visit keeps its placement's plan, which writes every rule, late ones as
    expired). The rule is "in force" when S is at or after B, at or after the last time the patient
    gave consent again (both write the rules from that moment on), and after the last readmission
    (which writes nothing: a row due while the patient was discharged was withdrawn for it):

    - in force: a live row (not cancelled) that is pending, sending, sent, expired or failed;
      nothing since may have withdrawn it, and it cannot be skipped.
    - not in force but S at or after B: some row, in any state (it fell due while the patient
      could not be emailed).
    - S before B: no promise ("a change to an existing visit writes only those still to come").

    Whatever its state, every row of the rule for that appointment is due at S, a withdrawn one
    says why, a skipped one why, an expired one was written late or its visit has passed, and a
    failed one used up its attempts on dying workers: locmem never refuses a message, so no row
    records any other error.
    """
    problems = []
    by_rule: dict[tuple[int, str, datetime.datetime | None], list[Row]] = {}
    for row in rows:
        if row["last_error"] not in ("", ABANDONED):
            problems.append(f"a reminder met an error: {row}")
        by_rule.setdefault((row["visit_id"], row["kind"], row["appointment_at"]), []).append(row)
    for visit in visits:
        patient = patients[visit.patient_pk]
        if visit.status != Visit.Status.SCHEDULED or not patient.consents or patient.discharged:
            continue
        anchor = visit.appointment_at.astimezone(LONDON).date() if visit.appointment_at else visit.due_on
        passed = now >= passes_at(appointment_at=visit.appointment_at, due_on=visit.due_on)
        for kind, days_before in reminder_timing.ADVANCE_REMINDERS[visit.kind]:
            send_at = local(anchor - datetime.timedelta(days=days_before), 10)
            found = by_rule.get((visit.pk, kind, visit.appointment_at), [])
            where = f"visit {visit.pk} ({visit.kind}, {visit.appointment_at or visit.due_on}), {kind} due {send_at}"
            problems += [f"{where}: {row}" for row in found if not row_is_sound(row, send_at, passed, max_attempts)]
            live = [row for row in found if row["status"] != Reminder.Status.CANCELLED]
            written = visit.booked_at is None or send_at >= visit.booked_at
            in_force = (
                written
                and (patient.consent_given_at is None or send_at >= patient.consent_given_at)
                and (patient.readmitted_at is None or send_at > patient.readmitted_at)
            )
            if in_force and (not live or live[0]["status"] == Reminder.Status.SKIPPED):
                problems.append(f"{where}: no live row: {found}")
            elif written and not found:
                problems.append(f"{where}: no row written at {visit.booked_at}")
    return problems


def row_is_sound(row: Row, send_at: datetime.datetime, visit_passed: bool, max_attempts: int) -> bool:
    status = row["status"]
    return row["send_at"] == send_at and (
        (status != Reminder.Status.CANCELLED or bool(row["cancel_reason"]))
        and (status != Reminder.Status.SKIPPED or bool(row["skip_reason"]))
        and (status != Reminder.Status.EXPIRED or row["created_at"] > send_at or visit_passed)
        and (status != Reminder.Status.FAILED or row["attempts"] >= max_attempts)
    )
