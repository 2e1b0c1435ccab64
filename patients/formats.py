"""How a day is written for staff, in one place: 2 Dec 2026.

Templates write days with ``|date:"j M Y"`` (``DAY_FORMAT``); messages, refusals and other text built
in Python go through ``day()``, so a page never writes "02 Dec" in one line and "2 Dec" in the next,
and tests compute the texts they expect the same way.
"""

import datetime

from django.utils import dateformat

# Django's date format, as the templates' |date filter spells it.
DAY_FORMAT = "j M Y"


def day(value: datetime.date) -> str:
    """A day as staff read it: "2 Dec 2026", without a leading zero. A datetime gives its own date part."""
    return dateformat.format(value, DAY_FORMAT)
