"""How a day is written for staff: one format for pages, messages and refusals."""

import datetime

from django.template import Context, Template

from patients import formats


def test_it_writes_a_day_without_a_leading_zero():
    assert formats.day(datetime.date(2026, 12, 2)) == "2 Dec 2026"
    assert formats.day(datetime.date(2028, 2, 29)) == "29 Feb 2028"


def test_it_writes_the_date_part_of_a_moment():
    assert formats.day(datetime.datetime(2026, 3, 9, 23, 30, tzinfo=datetime.UTC)) == "9 Mar 2026"


def test_it_writes_a_day_as_the_templates_do():
    day = datetime.date(2027, 1, 1)
    rendered = Template(f'{{{{ day|date:"{formats.DAY_FORMAT}" }}}}').render(Context({"day": day}))
    assert rendered == formats.day(day) == "1 Jan 2027"


def test_it_writes_a_day_in_a_worklist_without_the_year_or_a_leading_zero():
    assert formats.short_day(datetime.date(2028, 11, 5)) == "5 Nov"
    assert formats.weekday(datetime.date(2028, 11, 5)) == "Sun 5 Nov"
