"""Signed links in patients' emails: a token names one reminder and nothing about the person.

The token signs the reminder's random uuid with a salt of its own, so it cannot be swapped with any
other signed value of the project, and it expires. Whoever holds the email may confirm the visit
or stop the emails, which is what the link is for; nobody can make a token for another reminder.
"""

import datetime
import uuid

from django.conf import settings
from django.core import signing

from patients.models import Reminder

SALT = "patients.reminders.links.reminder"
# "." is outside the signature alphabet and reads better in a URL than the default ":".
SEPARATOR = "."


def _signer() -> signing.TimestampSigner:
    return signing.TimestampSigner(salt=SALT, sep=SEPARATOR)


def make_token(reminder: Reminder) -> str:
    return _signer().sign(reminder.uuid.hex)


def read_token(token: str, *, max_age_days: int | None = None) -> Reminder | None:
    """The reminder a token names, or None when it is forged, expired, garbled or names no reminder."""
    if max_age_days is None:
        # Read at call time rather than as a default argument, so a changed setting takes effect.
        max_age_days = settings.REMINDER_LINK_MAX_AGE_DAYS
    try:
        value = _signer().unsign(token, max_age=datetime.timedelta(days=max_age_days))
        reminder_uuid = uuid.UUID(hex=value)
    except (signing.BadSignature, ValueError):
        return None
    return Reminder.objects.select_related("patient__clinic", "visit").filter(uuid=reminder_uuid).first()
