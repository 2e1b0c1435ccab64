"""A cell's text read as a day, yes or no, or a choice, without a database."""

import datetime

import pytest

from patients.imports.values import DATE_ORDERS, folded, parse_choice, parse_date, parse_yes_no
from patients.models import Patient, TherapySession

D = datetime.date


def date_refusal(text: str, order: str) -> str:
    with pytest.raises(ValueError, match=r"\w") as refused:
        parse_date(text, order=order)
    return str(refused.value)


# Dates


def test_it_offers_three_orders_each_with_an_example_in_words():
    assert DATE_ORDERS == {
        "iso": "Year first: 2024-12-31",
        "day-first": "Day first: 31/12/2024",
        "month-first": "Month first: 12/31/2024",
    }


@pytest.mark.parametrize(
    ("text", "order"),
    [
        ("2024-12-31", "iso"),
        ("2024/12/31", "iso"),
        ("2024.12.31", "iso"),
        ("31/12/2024", "day-first"),
        ("31-12-2024", "day-first"),
        ("31.12.2024", "day-first"),
        ("12/31/2024", "month-first"),
        ("12-31-2024", "month-first"),
        ("12.31.2024", "month-first"),
    ],
)
def test_it_reads_a_date_in_the_order_chosen(text, order):
    assert parse_date(text, order=order) == D(2024, 12, 31)


def test_it_reads_the_same_digits_as_the_order_says():
    assert parse_date("03/04/2024", order="day-first") == D(2024, 4, 3)
    assert parse_date("03/04/2024", order="month-first") == D(2024, 3, 4)


@pytest.mark.parametrize("order", list(DATE_ORDERS))
def test_it_reads_a_date_written_year_first_whatever_the_order(order):
    assert parse_date("2024-03-05", order=order) == D(2024, 3, 5)


@pytest.mark.parametrize("order", list(DATE_ORDERS))
def test_it_reads_a_day_written_as_the_tracker_writes_it_whatever_the_order(order):
    assert parse_date("2 Dec 2026", order=order) == D(2026, 12, 2)
    assert parse_date("2 December 2026", order=order) == D(2026, 12, 2)
    assert parse_date("29-feb-2028", order=order) == D(2028, 2, 29)
    assert parse_date("5 Sept. 2027", order=order) == D(2027, 9, 5)


def test_it_reads_days_and_months_without_a_leading_zero_and_spaces_around():
    assert parse_date(" 5/3/2024 ", order="day-first") == D(2024, 3, 5)
    assert parse_date("2024-3-5", order="iso") == D(2024, 3, 5)


def test_it_reads_the_day_of_a_date_with_a_time():
    assert parse_date("2024-03-05 14:30", order="iso") == D(2024, 3, 5)
    assert parse_date("2024-03-05T00:00:00", order="day-first") == D(2024, 3, 5)
    assert parse_date("05/03/2024 09:15:00", order="day-first") == D(2024, 3, 5)


@pytest.mark.parametrize(
    ("text", "order"), [("31/12/24", "day-first"), ("12/31/24", "month-first"), ("1.2.85", "day-first")]
)
def test_it_refuses_a_two_digit_year_as_ambiguous(text, order):
    message = date_refusal(text, order)

    assert message.startswith(f"{text!r} has a year of 2 digits: write the year in full")
    assert "either century" in message


def test_it_refuses_a_day_the_calendar_does_not_have():
    assert date_refusal("31/02/2024", "day-first") == (
        "'31/02/2024' is not a date: that month has no day 31. Dates in this import are read day first: 31/12/2024."
    )
    assert date_refusal("2020-13-45", "iso") == "'2020-13-45' is not a date: there is no month 13."
    assert date_refusal("2023-02-29", "month-first") == "'2023-02-29' is not a date: that month has no day 29."
    assert date_refusal("30 Feb 2024", "iso") == "'30 Feb 2024' is not a date: that month has no day 30."


def test_it_says_how_dates_are_read_when_a_date_fits_another_order():
    message = date_refusal("12/31/2024", "day-first")

    assert message.endswith("there is no month 31. Dates in this import are read day first: 31/12/2024.")


def test_it_refuses_digits_in_another_order_than_year_first_when_year_first_is_chosen():
    assert (
        date_refusal("31/12/2024", "iso") == "'31/12/2024' is not a date written year first. Write it as 2024-12-31."
    )


@pytest.mark.parametrize(
    ("text", "order", "expected"),
    [
        ("soon", "day-first", "'soon' is not a date. Write it as 31/12/2024 or 2024-12-31."),
        ("31/12-2024", "day-first", "'31/12-2024' is not a date. Write it as 31/12/2024 or 2024-12-31."),
        ("2 Foo 2024", "month-first", "'2 Foo 2024' is not a date. Write it as 12/31/2024 or 2024-12-31."),
        ("2024-12-31 soon", "iso", "'2024-12-31 soon' is not a date. Write it as 2024-12-31."),
        ("٢٠٢٤-١٢-٣١", "iso", "'٢٠٢٤-١٢-٣١' is not a date. Write it as 2024-12-31."),
        ("", "day-first", "No date given. Write it as 31/12/2024 or 2024-12-31."),
        ("   ", "iso", "No date given. Write it as 2024-12-31."),
    ],
)
def test_it_refuses_what_is_not_a_date_naming_it_and_the_form_expected(text, order, expected):
    assert date_refusal(text, order) == expected


def test_it_refuses_an_order_it_does_not_know():
    with pytest.raises(ValueError, match="Unknown date order 'dmy'"):
        parse_date("2024-12-31", order="dmy")


# Yes or no


@pytest.mark.parametrize("text", ["yes", "YES", " Yes ", "y", "Y", "true", "TRUE", "1", "x", "X"])
def test_it_reads_yes(text):
    assert parse_yes_no(text) is True


@pytest.mark.parametrize("text", ["no", "No", "n", "N", "false", "False", "0", ""])
def test_it_reads_no(text):
    assert parse_yes_no(text) is False


def test_it_reads_an_empty_cell_as_no_like_an_unticked_box():
    assert parse_yes_no("   ") is False


@pytest.mark.parametrize("text", ["maybe", "2", "yes please", "oui"])
def test_it_refuses_what_is_not_yes_or_no(text):
    with pytest.raises(ValueError, match="is not yes or no") as refused:
        parse_yes_no(f" {text} ")

    assert str(refused.value) == f"{text!r} is not yes or no. Write yes or no (an empty cell counts as no)."


# Choices


@pytest.mark.parametrize(
    "text",
    ["both", "BOTH", "Opioids and alcohol", "  opioids AND alcohol ", "opioids_and_alcohol", "Opioids-and-Alcohol"],
)
def test_it_reads_a_choice_by_its_label_or_its_stored_value(text):
    assert parse_choice(text, Patient.Treats) == Patient.Treats.BOTH


def test_it_reads_a_choice_whose_value_and_label_are_spelt_differently():
    assert parse_choice("lost to follow up", Patient.Status) == Patient.Status.LOST_TO_FOLLOW_UP
    assert parse_choice("Lost to follow-up", Patient.Status) == Patient.Status.LOST_TO_FOLLOW_UP
    assert parse_choice("Cancelled by clinic", TherapySession.Status) == TherapySession.Status.CANCELLED
    assert parse_choice("cancelled", TherapySession.Status) == TherapySession.Status.CANCELLED


def test_it_refuses_an_unknown_choice_listing_the_labels():
    with pytest.raises(ValueError, match="is not one of") as refused:
        parse_choice("Opiods", Patient.Treats)

    assert str(refused.value) == "'Opiods' is not one of 'Opioids', 'Alcohol', 'Opioids and alcohol'."


def test_it_refuses_an_empty_choice_listing_the_labels():
    with pytest.raises(ValueError, match="Nothing given") as refused:
        parse_choice(" ", TherapySession.Status)

    assert (
        str(refused.value) == "Nothing given: one of 'Attended', 'Missed', 'Excused', 'Cancelled by clinic' is needed."
    )


def test_it_folds_case_spaces_underscores_and_hyphens():
    assert folded(" Date_of - Birth\u00a0") == folded("date of birth") == "dateofbirth"
