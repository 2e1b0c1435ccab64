"""Helpers that several tests share: page assertions, and moments in the test clinic's time."""

import datetime
import re
import zoneinfo

from django.contrib.messages import get_messages
from django.utils.html import escape


def error_beside(response, field, form="form"):
    """The messages shown in the box under ``field``; fails unless the page shows them there."""
    bound = response.context[form]
    messages = bound.errors.get(field)
    assert messages, f"no error on {field}: {bound.errors.as_data()}"
    html = response.content.decode()
    block = re.search(rf'id="{bound[field].auto_id}_error"[^>]*>(.*?)</div>', html, re.S)
    assert block, f"the page shows no error beside {field}"
    for message in messages:
        assert escape(message) in block.group(1)
    return " ".join(messages)


def flashed(response):
    return [str(message) for message in get_messages(response.wsgi_request)]


LONDON = zoneinfo.ZoneInfo("Europe/London")


def london(day: datetime.date, hour: int = 10, minute: int = 0) -> datetime.datetime:
    """``hour:minute`` on ``day`` in the test clinic's zone (10:00: when reminders go out)."""
    return datetime.datetime.combine(day, datetime.time(hour, minute), tzinfo=LONDON)
