"""first_rows: many lists' first rows and full counts from one statement, and one query per kind
of row, against the same lists asked one by one; numbered in one part, or counted apart with their
first rows taken by LIMIT (``Part.index_ordered``), they give the same."""

import pytest

from patients.models import Clinic, Patient
from patients.worklists.first_rows import Part, first_rows
from tests.factories import ClinicFactory, PatientFactory

pytestmark = pytest.mark.django_db


def patients(pks):
    return Patient.objects.filter(pk__in=pks).select_related("clinic")


def part(rows, **extra):
    return Part(rows=rows, loader_key=Patient, loader=patients, **extra)


@pytest.fixture
def cast():
    clinics = ClinicFactory(name="North"), ClinicFactory(name="South")
    for clinic in clinics:
        for number in range(7):
            PatientFactory(clinic=clinic, record_number=f"RN-{number:03}", last_name=f"Name{6 - number}")
    return clinics


ORDERED = pytest.mark.parametrize("index_ordered", [False, True], ids=["numbered", "counted apart"])


@ORDERED
def test_each_list_gives_its_first_rows_in_its_order_and_its_full_count(
    cast, index_ordered, django_assert_num_queries
):
    north, south = cast
    lists = {
        "north by name": Patient.objects.filter(clinic=north).order_by("last_name"),
        "south by record, newest first": Patient.objects.filter(clinic=south).order_by("-record_number"),
        "nobody": Patient.objects.filter(clinic=north, record_number="none"),
    }
    # One statement for every list, one query for the rows of the one kind.
    with django_assert_num_queries(2):
        found = first_rows({key: part(rows, index_ordered=index_ordered) for key, rows in lists.items()}, shown=3)
    for key, rows in lists.items():
        shown, count = found[key]
        assert [p.pk for p in shown] == [p.pk for p in rows[:3]]
        assert count == rows.count()
    assert found["north by name"][1] == 7
    assert found["nobody"] == ([], 0)
    assert found["north by name"][0][0].clinic == north  # loaded by the loader, with its joins


def test_a_list_only_counted_shows_no_rows_but_its_count(cast):
    north, _ = cast
    found = first_rows({"counted": part(Patient.objects.filter(clinic=north).order_by("pk"), shown=0)}, shown=3)
    assert found["counted"] == ([], 7)


@ORDERED
def test_a_list_without_an_order_is_in_the_order_of_its_keys(cast, index_ordered):
    north, _ = cast
    rows = Patient.objects.filter(clinic=north).order_by()
    found = first_rows({"any": part(rows, index_ordered=index_ordered)}, shown=20)
    assert [p.pk for p in found["any"][0]] == sorted(rows.values_list("pk", flat=True))


def test_the_same_row_in_two_lists_is_loaded_once_and_shown_in_both(cast, django_assert_num_queries):
    north, _ = cast
    everyone = Patient.objects.filter(clinic__in=Clinic.objects.all()).order_by("record_number", "pk")
    with django_assert_num_queries(2):
        found = first_rows(
            {"north": part(Patient.objects.filter(clinic=north).order_by("record_number")), "all": part(everyone)},
            shown=1,
        )
    assert found["north"][0] == found["all"][0]
    assert (found["north"][1], found["all"][1]) == (7, 14)


def test_a_list_counted_apart_shows_as_many_rows_as_asked_where_its_order_ties(cast):
    north, _ = cast
    rows = Patient.objects.filter(clinic=north).order_by("clinic")  # every row ties
    found = first_rows({"tied": part(rows, index_ordered=True)}, shown=3)
    assert (len(found["tied"][0]), found["tied"][1]) == (3, 7)


def test_no_lists_ask_nothing(django_assert_num_queries):
    with django_assert_num_queries(0):
        assert first_rows({}, shown=5) == {}
