"""How a day is written for staff, in one place: 2 Dec 2026.

Templates write days with ``|date:"j M Y"`` (``DAY_FORMAT``); messages, refusals and other text built
in Python go through ``day()``, so a page never writes "02 Dec" in one line and "2 Dec" in the next,
and tests compute the texts they expect the same way.
"""

import datetime

from django.utils import dateformat

# Django's date formats, as the templates' |date filter spells them: the day, the day in a list of
# this season's work ("5 Apr"), and with its weekday ("Thu 5 Apr").
DAY_FORMAT = "j M Y"
SHORT_DAY_FORMAT = "j M"
WEEKDAY_FORMAT = "D j M"


def day(value: datetime.date) -> str:
    """A day as staff read it: "2 Dec 2026", without a leading zero. A datetime gives its own date part."""
    return dateformat.format(value, DAY_FORMAT)


def short_day(value: datetime.date) -> str:
    """A day in a worklist, where the year goes without saying: "5 Apr"."""
    return dateformat.format(value, SHORT_DAY_FORMAT)


def weekday(value: datetime.date) -> str:
    """A day to plan around: "Thu 5 Apr"."""
    return dateformat.format(value, WEEKDAY_FORMAT)
