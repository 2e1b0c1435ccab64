"""Sending a claimed batch: the batch checked against the records as they are now, each row sent
with no transaction open over one SMTP connection, and the outcomes stamped together while this
dispatcher still holds the claim; a failure is retried after a wait, or ends ``failed`` once the
attempts are used up.

A batch costs a constant number of queries, however long: one to renew the leases, one to read the
rows again with their patients and visits, one update for the rows sent (more only for rows that
failed or were withdrawn, one per error or reason), and the follow-ups. The price is that a row is
checked when its batch is read, not the instant before its own send, and that an outcome is
stamped a moment after its send. Both are bounded by ``CHECKPOINT_SECONDS``: a batch still sending
after that stamps what it has done and reads the rest again. On a working mail server a batch of
50 takes a fraction of that, so the check stays one read per batch; on a slow one the checkpoints
keep the window short. A plan that changes inside the window is treated as one that changes while
a message is on the wire: the row goes out, followed by the cancellation or the notice of the new
time (``outbox.follow_up_sent``); a patient who unsubscribed in that second gets that one message.
A worker that dies inside the window leaves its sent rows unstamped, to be sent again with the
same Message-ID once their lease runs out.
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

# Seconds a batch sends on what it last read before it stamps what it has done and reads the rest
# again. Far inside the shortest lease (5 s), which each read renews.
CHECKPOINT_SECONDS = 1.0


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


def send_batch(claimed: list[Reminder], *, clock: RunClock) -> BatchOutcome:
    """Send claimed rows in order. Whatever goes wrong with one row is recorded on it and counts as
    an attempt; only a mail server that cannot take messages stops the batch. Celery's soft time
    limit stops it too, after handing back every row not yet sent."""
    batch = Batch(claimed, clock=clock, mail=get_connection(timeout=settings.EMAIL_TIMEOUT))
    untried = list(claimed)
    try:
        while untried and not batch.outcome.stopped_early:
            untried = batch.check(untried)
            while untried and not batch.needs_checkpoint():
                reminder = untried.pop(0)
                try:
                    if not batch.send(reminder):
                        batch.outcome.stopped_early = True  # the server is down or hanging
                        break
                except SoftTimeLimitExceeded:
                    # This row may have gone out: it goes back with its attempt counted (a copy
                    # carries the same Message-ID).
                    batch.retry_or_fail(reminder, error="The run reached its time limit while sending.")
                    raise
    finally:
        batch.finish()
        # Rows never tried go back untouched, their attempt not counted: the rest of the batch
        # after the mail server failed, the time limit struck, or anything else went wrong.
        claims.release(untried)
    return batch.outcome


class Batch:
    """One claimed batch on its way out: one mail connection, opened at the first send, and the
    outcomes decided so far, written together by ``stamp_decided``."""

    def __init__(self, claimed: list[Reminder], *, clock: RunClock, mail: BaseEmailBackend) -> None:
        self.token = claimed[0].claim_token if claimed else None
        self.clock = clock
        self.mail = mail
        self.outcome = BatchOutcome()
        # Each row decided and not yet stamped: its new status and what else changes on it.
        self.decided: list[tuple[Reminder, str, dict[str, object]]] = []
        self.sent: list[Reminder] = []
        self._checked_at = clock.elapsed

    def check(self, claimed: list[Reminder]) -> list[Reminder]:
        """Stamp what is decided, then read ``claimed`` again: the rows still ours and still true,
        in order. Rows no longer true are withdrawn with their reason (``outbox.why_not_send``)."""
        self.stamp_decided()
        ready = []
        for reminder in claims.current_batch(claimed, now=self.clock()):
            if reason := outbox.why_not_send(reminder):
                self.decide(reminder, status=Reminder.Status.CANCELLED, cancel_reason=reason)
            else:
                ready.append(reminder)
        self._checked_at = self.clock.elapsed
        return ready

    def needs_checkpoint(self) -> bool:
        return self.clock.elapsed - self._checked_at >= CHECKPOINT_SECONDS

    def send(self, reminder: Reminder) -> bool:
        """Render and send one checked row and decide its outcome; False when the mail server
        cannot take messages."""
        try:
            message = build_reminder_email(reminder, now=self.clock())
        except SoftTimeLimitExceeded:
            raise
        except Exception as error:
            # A template that fails for one patient must not hold up the others.
            logger.exception("Reminder %s could not be rendered", reminder.uuid)
            self.retry_or_fail(reminder, error=f"Could not render: {described(error)}")
            return True
        message.connection = self.mail
        try:
            _send(message, self.mail)
        except SoftTimeLimitExceeded:
            raise
        except TransientSendError as error:
            self.retry_or_fail(reminder, error=str(error))
            return False
        except PermanentSendError as error:
            # smtplib resets the session after a refusal: the connection serves the next row.
            self.decide(reminder, status=Reminder.Status.FAILED, last_error=str(error))
        except Exception as error:
            # A bad address, a backend's bug: recorded on this row alone. The connection may be in
            # any state after it, so the next row opens a new one.
            logger.exception("Reminder %s could not be sent", reminder.uuid)
            self.mail.close()
            self.retry_or_fail(reminder, error=f"Could not send: {described(error)}")
        else:
            self.decide(reminder, status=Reminder.Status.SENT)
            self.sent.append(reminder)
        return True

    def retry_or_fail(self, reminder: Reminder, *, error: str) -> None:
        """Back to pending after a wait, or failed once the attempts are used up."""
        if reminder.attempts >= settings.REMINDER_MAX_ATTEMPTS:
            self.decide(reminder, status=Reminder.Status.FAILED, last_error=error)
        else:
            next_attempt_at = self.clock() + retry_delay(reminder.attempts)
            self.decide(reminder, status=Reminder.Status.PENDING, last_error=error, next_attempt_at=next_attempt_at)

    def decide(self, reminder: Reminder, *, status: str, **changes: object) -> None:
        self.decided.append((reminder, status, changes))

    def stamp_decided(self) -> None:
        """Write the outcomes decided so far, one update for each outcome and its values (in a batch
        that went well, one update for all of it), only on rows this dispatcher still holds: a row
        whose lease another run took over is left to that run.

        ``sent_at`` is the moment of this stamp, at most a checkpoint after the send itself: one
        value for the whole group, where a time of its own would cost a row a ``CASE`` branch.
        """
        decided, self.decided = self.decided, []
        groups: dict[tuple[str, tuple[tuple[str, object], ...]], list[int]] = {}
        for reminder, status, changes in decided:
            groups.setdefault((status, tuple(sorted(changes.items()))), []).append(reminder.pk)
        stamped_at = self.clock()
        held = Reminder.objects.filter(status=Reminder.Status.SENDING, claim_token=self.token)
        for (status, shared), pks in groups.items():
            values = dict(shared, sent_at=stamped_at) if status == Reminder.Status.SENT else dict(shared)
            stamped = held.filter(pk__in=pks).update(status=status, claim_token=None, lease_expires_at=None, **values)
            if status == Reminder.Status.SENT:
                self.outcome.sent += stamped
            elif status == Reminder.Status.CANCELLED:
                self.outcome.withdrawn += stamped
            elif status == Reminder.Status.FAILED:
                self.outcome.failed += stamped
            else:
                self.outcome.retried += stamped

    def finish(self) -> None:
        try:
            self.stamp_decided()
        finally:
            self.mail.close()
            # Every row that went out, stamped or not (its lease may have passed to another run):
            # a plan that changed while it was on the wire is told to the patient.
            if self.sent:
                outbox.follow_up_sent(self.sent, now=self.clock())


def _send(message: EmailMessage, mail: BaseEmailBackend) -> None:
    """Send one message over ``mail``, opening it when it is not open (the batch's first send, or
    after an error), and sort failures into passing and permanent ones."""
    try:
        mail.open()
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


def retry_delay(attempts: int) -> datetime.timedelta:
    """Exponential backoff: the base wait after the first attempt, doubling after each later one."""
    return datetime.timedelta(seconds=settings.REMINDER_RETRY_BASE_SECONDS * 2 ** max(attempts - 1, 0))
