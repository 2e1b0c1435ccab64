"""A spreadsheet cell's text read as the value a record holds: a day, yes or no, one of a list.

Pure: text in, a value out, or ``ValueError`` whose message a coordinator can act on, naming the
text that was found and the form that was expected. Whether a cell may be left empty is the
column's business (``columns``); each reader here is given text that is there to be read, except
``parse_yes_no``, which reads an empty cell as no (an unticked box).
"""

import datetime
import re
from typing import TypeVar

from django.db import models

# The order of a day, month and year written with digits, chosen once for a whole import: 03/04/2024
# is the 3rd of April in one clinic and the 4th of March in another, and nothing in the cell tells.
# A date written year first (2024-04-03) means one thing everywhere and is read whatever the choice.
EXAMPLES = {"iso": "2024-12-31", "day-first": "31/12/2024", "month-first": "12/31/2024"}
DATE_ORDERS: dict[str, str] = {
    "iso": f"Year first: {EXAMPLES['iso']}",
    "day-first": f"Day first: {EXAMPLES['day-first']}",
    "month-first": f"Month first: {EXAMPLES['month-first']}",
}

# Digits in three parts, the same separator (/ - .) between them, and maybe a time of day after,
# which a date column has no use for (a spreadsheet may add 00:00 to a day): it is left out.
DIGITS = re.compile(r"(\d{1,4})([/.-])(\d{1,2})\2(\d{1,4})(?:[ T]\d{1,2}:\d{2}(?::\d{2}(?:\.\d+)?)?)?", re.ASCII)
# A day as the tracker writes it (``patients.formats.day``): "2 Dec 2026" or "2 December 2026".
WORDS = re.compile(r"(\d{1,2})[ -]([A-Za-z]+)\.?[ -](\d{4})", re.ASCII)
MONTHS = (
    "january",
    "february",
    "march",
    "april",
    "may",
    "june",
    "july",
    "august",
    "september",
    "october",
    "november",
    "december",
)

YES = frozenset({"yes", "y", "true", "1", "x"})
NO = frozenset({"no", "n", "false", "0", ""})

Choice = TypeVar("Choice", bound=models.TextChoices)


def parse_date(text: str, *, order: str) -> datetime.date:
    """The day written in ``text``, digits read in ``order`` (a key of ``DATE_ORDERS``).

    Also read, whatever the order: a day written year first, and a day with its month in words.
    Refused: a two-digit year (1/2/24 could be 1924 or 2024), and a day not on the calendar.
    """
    if order not in DATE_ORDERS:
        raise ValueError(f"Unknown date order {order!r}: one of {', '.join(DATE_ORDERS)}.")
    value = text.strip()
    expected = f"Write it as {EXAMPLES[order]}" + ("" if order == "iso" else f" or {EXAMPLES['iso']}") + "."
    if not value:
        raise ValueError(f"No date given. {expected}")
    if digits := DIGITS.fullmatch(value):
        first, _, middle, last = digits.groups()
        if len(first) == 4:
            year, month, day = first, middle, last
        elif order == "iso":
            raise ValueError(f"{value!r} is not a date written year first. {expected}")
        elif len(last) != 4:
            raise ValueError(
                f"{value!r} has a year of {len(last)} digits: write the year in full ({EXAMPLES[order]}), "
                "since a short year could be in either century."
            )
        elif order == "day-first":
            day, month, year = first, middle, last
        else:
            month, day, year = first, middle, last
        # A clinic that chose the wrong order meets this first: 12/31/2024 read day first.
        read_as = "" if len(first) == 4 else f" Dates in this import are read {DATE_ORDERS[order].lower()}."
        return _calendar_day(value, int(year), int(month), int(day), read_as=read_as)
    if words := WORDS.fullmatch(value):
        day, month_name, year = words.groups()
        if month := _month_number(month_name):
            return _calendar_day(value, int(year), month, int(day))
    raise ValueError(f"{value!r} is not a date. {expected}")


def _calendar_day(text: str, year: int, month: int, day: int, *, read_as: str = "") -> datetime.date:
    try:
        return datetime.date(year, month, day)
    except ValueError:
        if not 1 <= month <= 12:
            raise ValueError(f"{text!r} is not a date: there is no month {month}.{read_as}") from None
        raise ValueError(f"{text!r} is not a date: that month has no day {day}.{read_as}") from None


def _month_number(name: str) -> int | None:
    """1 for "January", "Jan" or "jan"; a name shorter than three letters is no month."""
    name = name.casefold()
    if len(name) < 3:
        return None
    return next((number for number, month in enumerate(MONTHS, start=1) if month.startswith(name)), None)


def parse_yes_no(text: str) -> bool:
    """yes / no, y / n, true / false, 1 / 0, in any case; an x is a ticked box, an empty cell no."""
    value = text.strip().casefold()
    if value in YES:
        return True
    if value in NO:
        return False
    raise ValueError(f"{text.strip()!r} is not yes or no. Write yes or no (an empty cell counts as no).")


def parse_choice(text: str, choices: type[Choice]) -> Choice:
    """The choice named by ``text``: its label ("Opioids and alcohol") or its stored value ("both"),
    with case, spaces, underscores and hyphens ignored."""
    wanted = folded(text)
    for choice in choices:
        if wanted in (folded(choice.value), folded(choice.label)):
            return choice
    labels = ", ".join(repr(str(choice.label)) for choice in choices)
    found = text.strip()
    if not found:
        raise ValueError(f"Nothing given: one of {labels} is needed.")
    raise ValueError(f"{found!r} is not one of {labels}.")


def folded(text: str) -> str:
    """Text as two people may type the same word: case, spaces, underscores and hyphens ignored."""
    return re.sub(r"[\s_-]+", "", text).casefold()
