"""The reminder emails a test captured, read as a patient's mail program reads them, and the
promises they must keep. Used by tests/reminders/pipeline_model/test_pipeline_model.py.

Each captured message is parsed from its MIME form: the Message-ID header, the recipient, and the
``.ics`` attachment's METHOD, UID, SEQUENCE and DTSTART. The row with that Message-ID says which
rule sent it and which appointment the rule planned for; ``Moment`` is what the machine itself
recorded as true of the visit and the patient right before the run's sends (nothing else changes
them while a run sends), so what was true when the email went out.
"""

import datetime
from collections import Counter, defaultdict
from collections.abc import Iterable, Sequence
from dataclasses import dataclass

import icalendar
from django.core.mail import EmailMessage

from patients.models import Reminder, Visit
from tests.reminders.pipeline_model.records import Moment, is_daytime, passes_at


@dataclass(frozen=True)
class SentEmail:
    message_id: str
    to: tuple[str, ...]
    method: str
    uid: str
    sequence: int
    dtstart: datetime.datetime | datetime.date
    at: datetime.datetime  # the start of the dispatcher run that sent it
    in_flight: bool  # sent by a worker that died before stamping the row
    # The row with this Message-ID: its rule, the appointment it was planned for, its due time.
    kind: str
    planned_for: datetime.datetime | None
    send_at: datetime.datetime
    visit_id: int
    moment: Moment

    @property
    def key(self) -> tuple[int, str, datetime.datetime | None]:
        return self.visit_id, self.kind, self.planned_for


def read_calendar(message: EmailMessage) -> tuple[str, str, str, int, datetime.datetime | datetime.date]:
    """The Message-ID and the calendar file's METHOD, UID, SEQUENCE and DTSTART of a captured message."""
    mime = message.message()
    calendars = [part for part in mime.walk() if part.get_content_type() == "text/calendar"]
    assert len(calendars) == 1, f"{mime['Subject']!r} carries {len(calendars)} calendar files"
    calendar = icalendar.Calendar.from_ical(calendars[0].get_payload(decode=True))
    (event,) = calendar.walk("VEVENT")
    return (
        str(mime["Message-ID"]),
        str(calendar["METHOD"]),
        str(event["UID"]),
        int(event["SEQUENCE"]),
        event.decoded("DTSTART"),
    )


def capture(
    messages: Sequence[EmailMessage],
    *,
    at: datetime.datetime,
    moments: dict[int, Moment],
    in_flight: Iterable[int] = (),
) -> list[SentEmail]:
    """Read the messages one dispatcher run sent; ``in_flight`` are their positions that went out
    from a worker that died before stamping them."""
    dying = set(in_flight)
    captured = []
    for position, message in enumerate(messages):
        message_id, method, uid, sequence, dtstart = read_calendar(message)
        row = Reminder.objects.filter(message_id=message_id).first()
        assert row is not None, f"an email went out with no reminder row: {message_id} {message.subject!r}"
        captured.append(
            SentEmail(
                message_id=message_id,
                to=tuple(message.to),
                method=method,
                uid=uid,
                sequence=sequence,
                dtstart=dtstart,
                at=at,
                in_flight=position in dying,
                kind=row.kind,
                planned_for=row.appointment_at,
                send_at=row.send_at,
                visit_id=row.visit_id,
                moment=moments[row.visit_id],
            )
        )
    return captured


def why_untrue(sent: SentEmail, *, domain: str) -> list[str]:
    """What the email said, or whom it went to, that was not true when it went out."""
    moment = sent.moment
    problems = []
    if sent.uid != f"{moment.visit_uuid}@{domain}":
        problems.append(f"its calendar UID {sent.uid} is not the visit's")
    if sent.to != (moment.email,):
        problems.append(f"it went to {sent.to}, not the patient")
    if not moment.consents:
        problems.append("the patient did not consent to email")
    if sent.kind == Reminder.Kind.VISIT_CANCELLED:
        expected_status, expected_method = Visit.Status.CANCELLED, "CANCEL"
    else:
        if moment.discharged:
            problems.append("the patient was discharged")
        if sent.kind == Reminder.Kind.MISSED_VISIT:
            expected_status, expected_method = Visit.Status.MISSED, "CANCEL"
        else:
            expected_status, expected_method = Visit.Status.SCHEDULED, "REQUEST"
            passed = passes_at(appointment_at=moment.appointment_at, due_on=moment.due_on)
            if sent.at >= passed:
                problems.append(f"the visit had passed at {passed}")
    if moment.visit_status != expected_status:
        problems.append(f"a {sent.kind} email about a visit that was {moment.visit_status}")
    if sent.planned_for != moment.appointment_at:
        problems.append(f"planned for {sent.planned_for}, but the appointment was then {moment.appointment_at}")
    if sent.method != expected_method:
        problems.append(f"its calendar METHOD is {sent.method}")
    expected_start = moment.appointment_at if moment.appointment_at is not None else moment.due_on
    if sent.dtstart != expected_start:
        problems.append(f"its calendar DTSTART {sent.dtstart!r} is not {expected_start!r}")
    if sent.at < sent.send_at:
        problems.append(f"it went out at {sent.at}, before its time {sent.send_at}")
    if not is_daytime(sent.at):
        problems.append(f"it went out at night ({sent.at:%H:%M} UTC)")
    return problems


def repeated_reminders(ledger: Sequence[SentEmail]) -> list[str]:
    """Reminders that went out twice: two rows for one visit, rule and planned appointment both
    sent, or more copies of one Message-ID than the kills left in flight."""
    problems = []
    message_ids: dict[tuple[int, str, datetime.datetime | None], set[str]] = defaultdict(set)
    for sent in ledger:
        message_ids[sent.key].add(sent.message_id)
    problems += [f"{key} went out as {sorted(ids)}" for key, ids in message_ids.items() if len(ids) > 1]
    copies = Counter(sent.message_id for sent in ledger)
    in_flight = Counter(sent.message_id for sent in ledger if sent.in_flight)
    problems += [
        f"{message_id} went out {count} times with {in_flight[message_id]} copies in flight at a kill"
        for message_id, count in copies.items()
        if count > 1 + in_flight[message_id]
    ]
    return problems


def calendar_going_backwards(ledger: Sequence[SentEmail]) -> list[str]:
    """Each visit's calendar files in sending order: one UID, a SEQUENCE that never falls, and rises
    whenever the time or the METHOD changes, or the patient's calendar keeps a stale entry."""
    problems = []
    uids: dict[int, set[str]] = defaultdict(set)
    last: dict[int, SentEmail] = {}
    for sent in ledger:
        uids[sent.visit_id].add(sent.uid)
        previous = last.get(sent.visit_id)
        last[sent.visit_id] = sent
        if previous is None:
            continue
        changed = (sent.dtstart, sent.method) != (previous.dtstart, previous.method)
        if sent.sequence < previous.sequence or (changed and sent.sequence == previous.sequence):
            problems.append(
                f"visit {sent.visit_id}: {previous.method} {previous.dtstart} SEQUENCE {previous.sequence} "
                f"then {sent.method} {sent.dtstart} SEQUENCE {sent.sequence}"
            )
    problems += [f"visit {visit_id} has UIDs {sorted(found)}" for visit_id, found in uids.items() if len(found) > 1]
    return problems
