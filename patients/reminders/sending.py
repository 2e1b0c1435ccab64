"""Sending a claimed batch: each row checked against the records as they are now, sent with no
transaction open, and its outcome stamped while this dispatcher still holds the claim; a failure
is retried after a wait, or ends ``failed`` once the attempts are used up.
"""

import datetime
import logging
import smtplib
from dataclasses import dataclass

from celery.exceptions import SoftTimeLimitExceeded
from django.conf import settings
from django.core.mail import EmailMessage, get_connection
from django.core.mail.backends.base import BaseEmailBackend

from patients.models import Reminder
from patients.reminders import claims, outbox
from patients.reminders.claims import RunClock, described
from patients.reminders.message import build_reminder_email

logger = logging.getLogger(__name__)


class TransientSendError(Exception):
    """The mail server could not take the message now; the same message may succeed later."""


class PermanentSendError(Exception):
    """The mail server refused the message for good (a 5xx reply)."""


@dataclass
class BatchOutcome:
    sent: int = 0
    retried: int = 0
    failed: int = 0
    withdrawn: int = 0
    stopped_early: bool = False

    def add(self, other: "BatchOutcome") -> None:
        self.sent += other.sent
        self.retried += other.retried
        self.failed += other.failed
        self.withdrawn += other.withdrawn

    def count_attempt(self, failed: bool) -> None:
        if failed:
            self.failed += 1
        else:
            self.retried += 1


def send_batch(claimed: list[Reminder], *, clock: RunClock) -> BatchOutcome:
    """Send claimed rows one by one. Whatever goes wrong with one row is recorded on it and counts
    as an attempt; only a mail server that cannot take messages stops the batch. Celery's soft time
    limit stops it too, after handing back every row not yet sent."""
    outcome = BatchOutcome()
    sent: list[Reminder] = []
    mail = get_connection(timeout=settings.EMAIL_TIMEOUT)
    try:
        for position, claim in enumerate(claimed):
            try:
                if not send_one(claim, mail=mail, clock=clock, outcome=outcome, sent=sent):
                    # The server is down or hanging: hand back the rest of the batch untouched.
                    claims.release(claimed[position + 1 :])
                    outcome.stopped_early = True
                    break
            except SoftTimeLimitExceeded:
                # This row may have gone out: it goes back with its attempt counted (a copy carries
                # the same Message-ID); the rest were never tried.
                _retry_or_fail(claim, now=clock(), error="The run reached its time limit while sending.")
                claims.release(claimed[position + 1 :])
                raise
    finally:
        mail.close()
        if sent:
            outbox.follow_up_sent(sent, now=clock())
    return outcome


def send_one(
    claim: Reminder, *, mail: BaseEmailBackend, clock: RunClock, outcome: BatchOutcome, sent: list[Reminder]
) -> bool:
    """Check the row against the records as they are now, then send it; False when the mail server
    cannot take messages."""
    reminder = claims.current(claim, now=clock())
    if reminder is None:
        return True  # no longer this dispatcher's: its lease ran out and another run took it
    if reason := outbox.why_not_send(reminder):
        outcome.withdrawn += stamp(reminder, status=Reminder.Status.CANCELLED, cancel_reason=reason)
        return True
    try:
        message = build_reminder_email(reminder, now=clock())
    except SoftTimeLimitExceeded:
        raise
    except Exception as error:
        # A template that fails for one patient must not hold up the others.
        logger.exception("Reminder %s could not be rendered", reminder.uuid)
        outcome.count_attempt(_retry_or_fail(reminder, now=clock(), error=f"Could not render: {described(error)}"))
        return True
    message.connection = mail
    try:
        _send(message)
    except SoftTimeLimitExceeded:
        raise
    except TransientSendError as error:
        outcome.count_attempt(_retry_or_fail(reminder, now=clock(), error=str(error)))
        return False
    except PermanentSendError as error:
        stamp(reminder, status=Reminder.Status.FAILED, last_error=str(error))
        outcome.failed += 1
    except Exception as error:
        # A bad address, a backend's bug: recorded on this row alone.
        logger.exception("Reminder %s could not be sent", reminder.uuid)
        outcome.count_attempt(_retry_or_fail(reminder, now=clock(), error=f"Could not send: {described(error)}"))
    else:
        if stamp(reminder, status=Reminder.Status.SENT, sent_at=clock()):
            outcome.sent += 1
            sent.append(reminder)
    return True


def _send(message: EmailMessage) -> None:
    """Send one message, sorting failures into passing and permanent ones."""
    try:
        message.send()
    except smtplib.SMTPRecipientsRefused as error:
        codes = [code for code, _ in error.recipients.values()]
        if all(code >= 500 for code in codes):
            raise PermanentSendError(f"Recipient refused: {codes}") from error
        raise TransientSendError(f"Recipient deferred: {codes}") from error
    except smtplib.SMTPResponseException as error:
        if error.smtp_code >= 500:
            raise PermanentSendError(f"{error.smtp_code} {error.smtp_error!r}") from error
        raise TransientSendError(f"{error.smtp_code} {error.smtp_error!r}") from error
    except (smtplib.SMTPException, OSError) as error:  # OSError covers time-outs and refusals
        # Dropped connections, refused connections and time-outs: the server may be back soon.
        raise TransientSendError(described(error)) from error


def stamp(reminder: Reminder, *, status: str, **changes: object) -> int:
    """Record the outcome, only while this dispatcher still holds the claim."""
    return Reminder.objects.filter(
        pk=reminder.pk, status=Reminder.Status.SENDING, claim_token=reminder.claim_token
    ).update(status=status, claim_token=None, lease_expires_at=None, **changes)


def retry_delay(attempts: int) -> datetime.timedelta:
    """Exponential backoff: the base wait after the first attempt, doubling after each later one."""
    return datetime.timedelta(seconds=settings.REMINDER_RETRY_BASE_SECONDS * 2 ** max(attempts - 1, 0))


def _retry_or_fail(reminder: Reminder, *, now: datetime.datetime, error: str) -> bool:
    """Back to pending after a wait, or failed once the attempts are used up; True when it failed."""
    if reminder.attempts >= settings.REMINDER_MAX_ATTEMPTS:
        stamp(reminder, status=Reminder.Status.FAILED, last_error=error)
        return True
    stamp(
        reminder,
        status=Reminder.Status.PENDING,
        last_error=error,
        next_attempt_at=now + retry_delay(reminder.attempts),
    )
    return False
