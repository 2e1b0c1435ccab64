"""The long-standing addresses deployments, beat schedules and checks rely on still lead to the code."""

import pytest

import patients.reminders
from patients import schedule, selectors, services
from patients.clinic_time import clinic_today
from patients.records import schedule as schedule_rules
from patients.records import selectors as records_selectors
from patients.records.services import patients as patient_services
from patients.records.services import placements, visits
from patients.reminders import dispatcher
from patients.therapy import services as therapy_services


def test_patients_schedule_is_the_schedule_rules():
    for name in schedule.__all__:
        assert getattr(schedule, name) is getattr(schedule_rules, name)


def test_patients_selectors_are_the_shared_reads():
    for name in selectors.__all__:
        assert getattr(selectors, name) is getattr(records_selectors, name, None) or name == "clinic_today"
    assert selectors.clinic_today is clinic_today


def test_every_write_is_patients_services_verb():
    homes = (patient_services, placements, visits, therapy_services)
    for name in services.__all__:
        assert any(getattr(home, name, None) is getattr(services, name) for home in homes), name


def test_the_dispatcher_keeps_its_address():
    assert patients.reminders.dispatch_due_reminders is dispatcher.dispatch_due_reminders
    assert patients.reminders.dispatch is dispatcher.dispatch
    with pytest.raises(AttributeError):
        _ = patients.reminders.no_such_name
