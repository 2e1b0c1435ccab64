"""No request answers 500: every URL of the site, GET with hostile query strings, every form POSTed
with hostile values.

The URLs come from the URLconf itself, filled in with the uuids and ids of real rows (the clinic's
own, another clinic's, rows written before dates were bounded) and with ids no table holds. Each
page is opened once as it is, then again with query strings built from the parameters the site
reads and the links the page itself offers; each form the page shows is posted with what it holds,
then with one field (or every field) replaced by a hostile value: numbers past any column, dates in
years 0, 1 and 9999, 10,000 characters, NUL bytes, right-to-left marks and emoji, negative numbers,
missing fields, and lists where one value is expected.

A manager (who may open every page) walks the coordinators' pages, a superuser the admin; both
sign in with ``force_login``, so the test does not depend on how the sign-in page works. Every choice comes from
a seeded ``random.Random``: a failure names the method, URL and data, and the same run repeats it.
``FUZZ_REQUESTS_SEED`` picks another run and ``FUZZ_REQUESTS_VARIANTS`` (default 2) how many hostile
variants each page and form gets.
"""

import datetime
import os
import random
import re
import uuid
from collections.abc import Iterator
from dataclasses import dataclass, field
from html.parser import HTMLParser
from typing import Any
from urllib.parse import parse_qsl, urlsplit

import pytest
from django.contrib.auth import get_user_model
from django.contrib.contenttypes.models import ContentType
from django.core.signals import got_request_exception
from django.db.models import Model
from django.test import Client
from django.urls import URLPattern, URLResolver, get_resolver

from patients import services
from patients.clinic_time import clinic_today
from patients.models import (
    Clinic,
    FollowUpCall,
    Membership,
    Patient,
    Placement,
    Product,
    Reminder,
    TherapyGroup,
    TherapySession,
    Visit,
)
from patients.reminders import links
from tests.factories import (
    INDUCTION,
    MembershipFactory,
    PatientFactory,
    ProductFactory,
    TherapyGroupFactory,
    UserFactory,
)

pytestmark = pytest.mark.django_db

SEED = int(os.environ.get("FUZZ_REQUESTS_SEED", "20281105"))
VARIANTS = int(os.environ.get("FUZZ_REQUESTS_VARIANTS", "2"))
DAY = datetime.timedelta(days=1)
UTC = datetime.UTC

HUGE = "99999999999999999999"
NUMBERS = [
    "0",
    "-1",
    "1",
    "2",
    HUGE,
    "-" + HUGE,
    "9" * 400,
    "1e309",
    "NaN",
    "-inf",
    "3.5",
    "0x10",
    "\u0661\u0662",
    " 7 ",
]
DATES = [
    "0001-01-01",
    "0000-00-00",
    "9999-12-31",
    "10000-01-01",
    "0001-01",
    "9999-12",
    "0000-01",
    "2028-02-30",
    "1-1-1",
    "31/12/9999",
    "9999-12-31T23:59",
    "0001-01-01T00:00",
    "2026-13-45T25:61",
]
TEXT = [
    "",
    " ",
    "\x00",
    "a\x00b",
    "\u202eevil\u202c",
    "\U0001f600" * 40,
    "x" * 10_000,
    "<script>alert(1)</script>",
    "'; DROP TABLE patients_patient;--",
    "%",
    "\\",
    "\r\n\t",
    "\ufdfa\u0627\u0644",
    '=HYPERLINK("http://x")',
]
HOSTILE = NUMBERS + DATES + TEXT
# The query parameters the coordinators' pages read (grep request.GET and the filter forms), and
# the admin's own; the links on each page add the rest.
KNOWN_PARAMETERS = [
    "page",
    "sort",
    "q",
    "state",
    "status",
    "counsellor",
    "clinic",
    "start",
    "end",
    "held_on",
    "visit",
    "o",
    "p",
    "e",
    "_changelist_filters",
    "all",
    "_to_field",
    "_popup",
    "term",
    "app_label",
    "model_name",
    "field_name",
    "next",
    "patient",
    "patient__id__exact",
    "patient__clinic__id__exact",
]


# The rows whose ids and uuids fill in the URLs.


@dataclass
class World:
    clinic: Clinic
    coordinator: Any
    superuser: Any
    patients: list[Patient]
    visits: list[Visit]
    groups: list[TherapyGroup]
    tokens: list[str]
    spare_user: Any
    admin_ids: dict[type[Model], list[str]] = field(default_factory=dict)


def bad_rows(patient: Patient) -> None:
    """Rows dated at the ends of the calendar, as they were saved before the services bounded dates."""
    visit = patient.visits.order_by("due_on").first()
    assert visit is not None
    Visit.objects.filter(pk=visit.pk).update(appointment_at=datetime.datetime(9999, 12, 31, 23, 59, tzinfo=UTC))
    TherapySession.objects.create(
        patient=patient, kind="individual", held_on=datetime.date(1, 1, 1), status="attended"
    )
    TherapySession.objects.create(
        patient=patient, kind="individual", held_on=datetime.date(9999, 12, 31), status="missed"
    )
    FollowUpCall.objects.create(
        patient=patient,
        outcome="no_answer",
        called_at=datetime.datetime(1, 1, 2, tzinfo=UTC),
        try_again_on=datetime.date(9999, 12, 31),
    )
    Patient.objects.filter(pk=patient.pk).update(date_of_birth=datetime.date(1, 1, 1))


def ancient_placement(patient: Patient, product: Product) -> None:
    """A placement from year 1 covering to year 9999, with visits at both ends."""
    placement = Placement.objects.create(
        patient=patient, product=product, placed_on=datetime.date(1, 1, 1), covers_until=datetime.date(9999, 12, 31)
    )
    for kind, day in (("monitoring", datetime.date(1, 2, 1)), ("renewal", datetime.date(9999, 12, 31))):
        Visit.objects.create(
            patient=patient, placement=placement, kind=kind, due_on=day, window_start=day, window_end=day
        )


@pytest.fixture
def world(clinic, other_clinic, manager, admin_user_account, implant, other_coordinator) -> World:
    today = clinic_today(clinic)
    counsellor = UserFactory(username="counsellor", first_name="Sam", last_name="Whitfield")
    MembershipFactory(user=counsellor, clinic=clinic, role=Membership.Role.CLINICIAN)
    spare_user = UserFactory(username="spare")
    MembershipFactory(user=spare_user, clinic=clinic)
    covered = PatientFactory(clinic=clinic, record_number="F-1", counsellor=counsellor)
    services.record_placement(patient=covered, product=implant, placed_on=today - 40 * DAY, **INDUCTION)
    missed = PatientFactory(clinic=clinic, record_number="F-2")
    services.record_placement(patient=missed, product=implant, placed_on=today - 80 * DAY, **INDUCTION)
    services.mark_missed_visits(today=today, clinic=clinic)
    done = covered.visits.order_by("due_on").first()
    assert done is not None
    services.complete_visit(visit=done, completed_on=max(done.window_start, today - 10 * DAY), phq9_total=4)
    bad = PatientFactory(clinic=clinic, record_number="F-3")
    services.record_placement(patient=bad, product=implant, placed_on=today - 20 * DAY, **INDUCTION)
    bad_rows(bad)
    ancient = PatientFactory(clinic=clinic, record_number="F-4")
    ancient_placement(ancient, implant)
    new = PatientFactory(clinic=clinic, record_number="F-5", email="", email_consent=False, email_consent_at=None)
    stranger = PatientFactory(clinic=other_clinic, record_number="H-1")
    services.record_placement(
        patient=stranger, product=ProductFactory(clinic=other_clinic), placed_on=today - 30 * DAY, **INDUCTION
    )
    group = TherapyGroupFactory(clinic=clinic, name="Tuesday group")
    services.set_group_members(group=group, patients=[covered, missed, bad])
    services.log_group_attendance(
        group=group, held_on=today - 7 * DAY, attendance={covered: "attended", missed: "missed"}
    )
    other_group = TherapyGroupFactory(clinic=other_clinic, name="Hillside group")
    patients = [covered, missed, bad, ancient, new, stranger]
    visits = [
        *(patient.visits.order_by("due_on").first() for patient in patients if patient.visits.exists()),
        Visit.objects.filter(status="missed").first(),
        done,
    ]
    tokens = [links.make_token(reminder) for reminder in Reminder.objects.order_by("pk")[:3]]
    world = World(
        clinic=clinic,
        coordinator=manager,  # the role that may open every page and post every form
        superuser=admin_user_account,
        patients=patients,
        visits=[visit for visit in visits if visit is not None],
        groups=[group, other_group],
        tokens=tokens,
        spare_user=spare_user,
    )
    rows: dict[type[Model], Any] = {
        Clinic: [clinic, other_clinic],
        Membership: [Membership.objects.get(user=spare_user)],
        Product: [implant],
        Patient: [covered, bad, ancient],
        Placement: list(Placement.objects.filter(patient__in=[covered, ancient])),
        Visit: world.visits[:4],
        TherapyGroup: [group],
        TherapySession: list(TherapySession.objects.filter(patient=bad)[:2]),
        get_user_model(): [spare_user],
    }
    world.admin_ids = {model: [str(row.pk) for row in found] for model, found in rows.items()}
    return world


# The URLs, from the URLconf.


def routes() -> Iterator[str]:
    """Every URL pattern of the site, written out with its placeholders."""

    def walk(patterns: list[Any], prefix: str) -> Iterator[str]:
        for pattern in patterns:
            if isinstance(pattern, URLResolver):
                yield from walk(pattern.url_patterns, prefix + str(pattern.pattern))
            elif isinstance(pattern, URLPattern):
                yield prefix + str(pattern.pattern)

    yield from walk(get_resolver().url_patterns, "/")


PLACEHOLDER = re.compile(r"<(?:(?P<converter>\w+):)?(?P<name>\w+)>|\(\?P<(?P<group>\w+)>[^)]*\)|\(\[\^/\]\+\)")


def model_of_admin_route(route: str) -> type[Model] | None:
    match = re.match(r"/admin/(\w+)/(\w+)/", route)
    if not match:
        return None
    try:
        return ContentType.objects.get_by_natural_key(*match.groups()).model_class()
    except ContentType.DoesNotExist:
        return None


def values_for(name: str, route: str, world: World, rng: random.Random) -> list[str]:
    """What to put in one placeholder: real ids and uuids, and ids no row has."""
    stranger = str(uuid.UUID(int=rng.getrandbits(128)))
    if name == "patient_uuid":
        return [str(patient.uuid) for patient in world.patients if patient.record_number != "F-2"] + [stranger]
    if name == "visit_uuid":
        return [str(visit.uuid) for visit in world.visits] + [stranger]
    if name == "group_uuid":
        return [str(group.uuid) for group in world.groups] + [stranger]
    if name == "token":
        return [*world.tokens, "garbage", "x" * 300 + "." + "y" * 40]
    if name == "app_label":
        return ["patients", "auth"]
    if name == "url":
        return ["nothing/here/", HUGE + "/"]
    if name in ("uidb64",):
        return ["MQ", "A" * 200]
    if name == "content_type_id":
        return [str(ContentType.objects.get_for_model(Patient).pk), HUGE, "-1"]
    if name == "version":  # the history version of a record, by simple-history's id
        return ["1", HUGE, "abc"]
    model = model_of_admin_route(route)
    real = world.admin_ids.get(model, []) if model else []
    if name == "id":
        real = [str(world.spare_user.pk)]
    return [*real, HUGE, "-1", "abc", "1%2F2"]


def template_of(route: str) -> tuple[str, list[str]]:
    """The route with each placeholder as {0}, {1}…, and the placeholders' names in order."""
    names: list[str] = []
    template, last = "", 0
    for match in PLACEHOLDER.finditer(route):
        # simple-history's unnamed groups: the record's id, then the version's.
        name = match.group("name") or match.group("group") or ("object_id" if not names else "version")
        template += route[last : match.start()] + "{" + str(len(names)) + "}"
        names.append(name)
        last = match.end()
    return (template + route[last:]).replace("^", "").replace("$", ""), names


def urls(world: World, rng: random.Random) -> Iterator[tuple[str, str]]:
    """Each route, and each URL it is opened at."""
    for route in routes():
        template, names = template_of(route)
        if not names:
            yield route, template
            continue
        choices = [values_for(name, route, world, rng) for name in names]
        # Each real value once, and a few mixes of the rest: every row is reached without the product of all.
        for index in range(max(len(values) for values in choices)):
            yield route, template.format(*(values[index % len(values)] for values in choices))


# Reading pages: the forms they show and the query strings they link to.


@dataclass
class Form:
    action: str
    method: str
    fields: dict[str, list[str]] = field(default_factory=dict)  # name: its values as the page fills them
    kinds: dict[str, str] = field(default_factory=dict)  # name: "date", "number", "select", "text"…
    buttons: list[tuple[str, str]] = field(default_factory=list)


class PageReader(HTMLParser):
    def __init__(self) -> None:
        super().__init__(convert_charrefs=True)
        self.forms: list[Form] = []
        self.link_parameters: set[str] = set()
        self._form: Form | None = None
        self._select: str | None = None
        self._textarea: str | None = None

    def handle_starttag(self, tag: str, attrs: list[tuple[str, str | None]]) -> None:
        attributes = {key: value or "" for key, value in attrs}
        if tag == "a" and "?" in attributes.get("href", ""):
            self.link_parameters |= {key for key, _ in parse_qsl(urlsplit(attributes["href"]).query)}
        if tag == "form":
            self._form = Form(action=attributes.get("action", ""), method=attributes.get("method", "get").upper())
            self.forms.append(self._form)
        form, name = self._form, attributes.get("name", "")
        if form is None or not name:
            return
        if tag == "input":
            kind = attributes.get("type", "text")
            if kind in ("submit", "image"):
                form.buttons.append((name, attributes.get("value", "")))
                return
            form.kinds[name] = kind
            values = form.fields.setdefault(name, [])
            if kind not in ("checkbox", "radio") or "checked" in attributes:
                values.append(attributes.get("value", "on" if kind == "checkbox" else ""))
        elif tag == "button":
            form.buttons.append((name, attributes.get("value", "")))
        elif tag == "select":
            self._select = name
            form.kinds[name] = "select"
            form.fields.setdefault(name, [])
        elif tag == "option" and self._select and "selected" in attributes:
            form.fields[self._select].append(attributes.get("value", ""))
        elif tag == "textarea":
            self._textarea = name
            form.kinds[name] = "text"
            form.fields.setdefault(name, [])

    def handle_data(self, data: str) -> None:
        if self._form is not None and self._textarea:
            self._form.fields[self._textarea] = [data]

    def handle_endtag(self, tag: str) -> None:
        if tag == "form":
            self._form = None
        elif tag == "select":
            self._select = None
        elif tag == "textarea":
            self._textarea = None


def pool_for(kind: str, name: str) -> list[str]:
    if kind in ("date", "datetime-local", "month") or any(word in name for word in ("_on", "_at", "date", "day")):
        return DATES
    if kind == "number" or name.endswith(("_id", "days", "_mg", "total", "item9", "cravings", "length")):
        return NUMBERS
    if kind in ("select", "radio", "checkbox", "hidden"):
        return NUMBERS + TEXT
    return TEXT + NUMBERS[:5]


# The values each kind of field meets once for certain, on the first page that shows the form: the
# ends of the calendar, a number past every column, a NUL byte in a page of text.
EDGES = {
    "date": ["0001-01-01", "9999-12-31", "0001-01", "9999-12-31T23:59"],
    "number": [HUGE, "-1"],
    "choice": [HUGE, "\x00"],
    "text": ["\u202e\U0001f600" + "x" * 10_000 + "\x00"],
}


def edges_for(kind: str, name: str) -> list[str]:
    pool = pool_for(kind, name)
    if pool is DATES:
        return EDGES["date"]
    if pool is NUMBERS:
        return EDGES["number"]
    return EDGES["choice"] if kind in ("select", "radio", "checkbox", "hidden") else EDGES["text"]


def hostile_for(kind: str, name: str, rng: random.Random) -> str | list[str]:
    if rng.random() < 0.1:
        return [rng.choice(HOSTILE), rng.choice(HOSTILE)]  # a list where one value is expected
    return rng.choice(pool_for(kind, name))


def form_variants(form: Form, rng: random.Random, *, first_sight: bool) -> Iterator[dict[str, Any]]:
    """What the page holds, then one field or every field hostile, a field missing, and nothing at all.

    The first time a form is seen, every field also meets each edge value of its kind, alone and
    all fields of a kind together (a report from 0001-01 to 0001-01). Every button is pressed; the
    search runs under the first ("Save and add another" reads the same fields as "Save")."""
    filled = {name: values if len(values) != 1 else values[0] for name, values in form.fields.items() if values}
    names = sorted(name for name in form.fields if name != "csrfmiddlewaretoken")
    first, *others = form.buttons or [("", "")]
    pressed = {first[0]: first[1]} if first[0] else {}
    yield filled | pressed
    if first_sight:
        edges = {name: edges_for(form.kinds.get(name, "text"), name) for name in names}
        for name in names:
            for edge in edges[name]:
                yield filled | pressed | {name: edge}
        for edge_list in dict.fromkeys(tuple(each) for each in edges.values()):  # in order: the run repeats
            for edge in edge_list:
                yield filled | pressed | {name: edge for name in names if tuple(edges[name]) == edge_list}
    for name in rng.sample(names, min(VARIANTS, len(names))):
        yield filled | pressed | {name: hostile_for(form.kinds.get(name, "text"), name, rng)}
    if names:
        yield {name: hostile_for(form.kinds.get(name, "text"), name, rng) for name in names} | pressed
        missing = rng.choice(names)
        yield {key: item for key, item in filled.items() if key != missing} | pressed
    for button, value in others:
        yield filled | {button: value}
    yield {}


def query_variants(parameters: list[str], rng: random.Random) -> Iterator[dict[str, Any]]:
    for _ in range(VARIANTS):
        chosen = rng.sample(parameters, min(len(parameters), rng.randint(1, 3)))
        yield {name: rng.choice(HOSTILE) if rng.random() > 0.1 else rng.sample(HOSTILE, 2) for name in chosen}


# The walk.


@dataclass
class Failure:
    method: str
    url: str
    data: Any
    status: int
    error: str

    def __str__(self) -> str:
        shown = repr(self.data)
        shown = shown if len(shown) < 300 else shown[:300] + "…"
        return f"{self.method} {self.url} {shown} -> {self.status} {self.error}"


class Walker:
    def __init__(self, client: Client, rng: random.Random) -> None:
        self.client = client
        self.rng = rng
        self.failures: list[Failure] = []
        self.requests = 0
        self.seen: set[tuple[Any, ...]] = set()
        self._error = ""
        got_request_exception.connect(self._record, weak=False)

    def _record(self, sender: Any, request: Any = None, **kwargs: Any) -> None:
        import sys

        error = sys.exc_info()[1]
        self._error = f"{type(error).__name__}: {str(error)[:200]}"

    def request(self, method: str, url: str, data: Any = None, **extra: Any) -> Any:
        self._error = ""
        self.requests += 1
        call = self.client.post if method == "POST" else self.client.get
        response = call(url, data or {}, **extra)
        if getattr(response, "streaming", False):
            b"".join(response.streaming_content)  # a CSV file fails while it streams, if at all
        if response.status_code >= 500 or self._error:
            self.failures.append(Failure(method, url, data, response.status_code, self._error))
        return response

    def walk(self, url: str, route: str) -> None:
        response = self.request("GET", url)
        reader = PageReader()
        is_page = response.status_code == 200 and "html" in response.get("Content-Type", "")
        if is_page:
            reader.feed(response.content.decode(errors="replace"))
        else:
            # Refused, redirected, or a file (a PDF costs a second): one hostile query, and an empty
            # form where a form could be posted.
            self.request("GET", url, {self.rng.choice(KNOWN_PARAMETERS): self.rng.choice(HOSTILE)})
            if response.status_code in (403, 404, 405):
                self.request("POST", url, {})
            return
        parameters = sorted(set(KNOWN_PARAMETERS) | reader.link_parameters)
        for query in query_variants(parameters, self.rng):
            self.request("GET", url, query, HTTP_HX_REQUEST="true" if self.rng.random() < 0.2 else "")
        for form in reader.forms:
            target = form.action if form.action.startswith("/") else url
            if target.startswith(SIGNS_OUT) and not url.startswith(SIGNS_OUT):
                continue  # the sign-out button on every page: posted once, at the end of the walk
            # A form is searched field by field once per route, not once per row it is shown for.
            signature = (route, form.method, target == url)
            first_sight = signature not in self.seen
            self.seen.add(signature)
            for data in form_variants(form, self.rng, first_sight=first_sight):
                self.request(form.method if form.method == "POST" else "GET", target, data)

    def close(self) -> None:
        got_request_exception.disconnect(self._record)


SIGNS_OUT = ("/accounts/logout/", "/admin/logout/")


def test_no_request_answers_500(world):
    rng = random.Random(SEED)
    coordinator = Client(raise_request_exception=False)
    superuser = Client(raise_request_exception=False)
    walkers = {"coordinator": Walker(coordinator, rng), "superuser": Walker(superuser, rng)}
    every_url = list(urls(world, rng))
    try:
        for route, url in every_url:
            if url.startswith(SIGNS_OUT):
                continue
            # Signed in again before each URL: a form posted earlier may have changed a password.
            coordinator.force_login(world.coordinator)
            superuser.force_login(world.superuser)
            walkers["superuser" if url.startswith("/admin/") else "coordinator"].walk(url, route)
        for url in SIGNS_OUT:
            walkers["superuser"].walk(url, url)
    finally:
        for walker in walkers.values():
            walker.close()
    failures = [failure for walker in walkers.values() for failure in walker.failures]
    requests = sum(walker.requests for walker in walkers.values())
    assert requests > 1000, f"only {requests} requests: the walk missed most of the site"
    # One example of each kind of failure: the same error on the same page, whatever the ids.
    kinds = {(re.sub(r"[0-9a-f-]{36}|\d+", "…", failure.url), failure.error[:60]): failure for failure in failures}
    assert not failures, f"{len(failures)} of {requests} requests failed (seed {SEED}); one of each kind:\n" + (
        "\n".join(str(failure) for failure in kinds.values())
    )
