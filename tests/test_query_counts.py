"""Every page of the performance record makes at most ``QUERY_LIMIT`` queries, and the same number
for a clinic ten times the size: its cost in queries does not grow with the clinic."""

import pytest
from django.contrib.auth import get_user_model
from django.core.management import call_command
from django.db import connection
from django.test.utils import CaptureQueriesContext

from benchmarks.pages import QUERY_LIMIT, pages
from patients.models import Patient

pytestmark = pytest.mark.django_db


def queries_per_page(client) -> dict[str, int]:
    patient = Patient.objects.order_by("pk").first()
    counts = {}
    for name, path in pages(patient).items():
        with CaptureQueriesContext(connection) as queries:
            response = client.get(path)
            assert response.status_code == 200, path
            if response.streaming:
                b"".join(response.streaming_content)
        counts[name] = len(queries)
    return counts


def test_every_page_costs_the_same_few_queries_at_50_and_500_patients(still_clock, client):
    call_command("seed_demo", patients=50, verbosity=0)
    client.force_login(get_user_model().objects.get(username="coordinator"))
    small = queries_per_page(client)
    call_command("seed_demo", patients=500, verbosity=0)
    large = queries_per_page(client)
    assert {name: count for name, count in large.items() if count > QUERY_LIMIT} == {}
    assert large == small
