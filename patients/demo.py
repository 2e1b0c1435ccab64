"""Demo patients whose histories show every state, built in memory for ``manage.py seed_demo``.

The seeder also fills benchmark databases of 10,000 patients and more, where a service call per
placement would take far too long, so it writes these rows with ``bulk_create``. The plans still come
from the rules the services use (``coverage_end``, ``plan_visits``, ``needs_induction``), and
tests/test_seed_demo.py replays seeded histories through ``services.record_placement`` to prove the
rows are the ones the clinic would have got. Patient ``n`` draws its details from
``random.Random(n)`` and its history from a fixed cycle, so any number of patients keeps one mix.
"""

import datetime
import enum
import random
from dataclasses import asdict, dataclass, field
from decimal import Decimal
from typing import Any

from django.contrib.auth.models import User

from patients.models import (
    CheckResult,
    Clinic,
    NaloxoneChallenge,
    Patient,
    Placement,
    Product,
    TherapyGroup,
    TherapySession,
    Visit,
)
from patients.records import schedule
from patients.records.plan import planned_coverage_end

DAY = datetime.timedelta(days=1)
# The demo's histories reach back a year at most (three renewals of a three-month implant, or a
# patient lost to follow-up half a year ago): its clinic's first year leaves room for all of them.
HISTORY_YEARS = 2
RECORD_PREFIX = "DEMO-"
# Therapy sessions reach back a year: some forty weekly meetings for a patient in care that long,
# as at a clinic where most patients have been in care for a while.
THERAPY_LOOKBACK = datetime.timedelta(days=365)
# A monitoring visit the patient meant to come to is still missed this often, for realism.
CHANCE_OF_MISSING_A_VISIT = 0.06

# Split from text because 60 one-name lines of a list literal would hide the code below them.
FIRST_NAMES = (  # noqa: SIM905
    "Alex Amira Ben Bethan Callum Chloe Daniel Deborah Elliot Fatima George Grace Hannah Imran Jade Jamal Karen "
    "Kwame Liam Lucy Marcus Megan Nadia Niamh Owen Patrick Priya Rhys Sarah Tom Una Yusuf Zoe"
).split()
LAST_NAMES = (  # noqa: SIM905
    "Adeyemi Barker Brennan Campbell Clarke Davies Evans Fletcher Green Harris Hughes Iqbal Jones Khan Kowalski "
    "Lewis Morgan Murphy Nolan O'Brien Patel Price Quinn Roberts Singh Taylor Walsh Wright Young"
).split()
LIVER_NOTE = "Hepatitis C, treated in 2021. Liver tests at every visit."
HIGH_LIVER_NOTE = "ALT and AST above three times normal; repeat bloods in one week, GP informed."
PHQ9_ITEM9_NOTE = "PHQ-9 item 9 positive: safety plan agreed, crisis line given, GP informed the same day."


class Scenario(enum.StrEnum):
    COVERED = "covered"
    SEVERAL_CYCLES = "several_cycles"
    WINDOW_OPEN = "window_open"
    WINDOW_OPEN_BOOKED = "window_open_booked"
    MISSED_VISIT = "missed_visit"
    INJECTION = "injection"
    SIX_MONTH = "six_month"
    LAPSED = "lapsed"
    REINDUCTION_REQUIRED = "reinduction_required"
    REINDUCTED = "reinducted"
    NEW_REFERRAL = "new_referral"
    PAUSED = "paused"
    LOST_TO_FOLLOW_UP = "lost_to_follow_up"
    DISCHARGED = "discharged"


# How many doses each scenario's patient had before the ones its state needs, all renewed on
# time: most patients have been in care for months, so that a clinic holds about three placements
# and twelve visits per patient. Each history still starts within HISTORY_YEARS.
EARLIER_DOSES: dict[Scenario, tuple[int, int]] = {
    Scenario.COVERED: (1, 3),
    Scenario.SEVERAL_CYCLES: (0, 1),
    Scenario.WINDOW_OPEN: (1, 3),
    Scenario.WINDOW_OPEN_BOOKED: (1, 3),
    Scenario.MISSED_VISIT: (1, 2),
    Scenario.INJECTION: (3, 6),
    Scenario.SIX_MONTH: (0, 1),
    Scenario.LAPSED: (1, 2),
    Scenario.REINDUCTION_REQUIRED: (1, 2),
    Scenario.REINDUCTED: (1, 2),
    Scenario.PAUSED: (1, 2),
    Scenario.LOST_TO_FOLLOW_UP: (0, 2),
    Scenario.DISCHARGED: (1, 2),
}


class Therapy(enum.StrEnum):
    GROUP_REGULAR = "group_regular"  # at least five sessions in six
    GROUP_IRREGULAR = "group_irregular"  # at most half
    GROUP_STOPPED = "group_stopped"  # regular until five to seven weeks ago, then none
    INDIVIDUAL = "individual"  # with a counsellor every fortnight, regularly
    NONE = "none"


# Patient n follows CYCLE[(n - 1) % 20], so every multiple of 20 patients holds exactly this mix:
# two thirds covered, the rest spread over the states a coordinator must act on.
CYCLE: tuple[tuple[Scenario, Therapy], ...] = (
    (Scenario.COVERED, Therapy.GROUP_REGULAR),
    (Scenario.SEVERAL_CYCLES, Therapy.GROUP_REGULAR),
    (Scenario.WINDOW_OPEN, Therapy.INDIVIDUAL),
    (Scenario.MISSED_VISIT, Therapy.GROUP_IRREGULAR),
    (Scenario.INJECTION, Therapy.GROUP_REGULAR),
    (Scenario.SIX_MONTH, Therapy.INDIVIDUAL),
    (Scenario.WINDOW_OPEN_BOOKED, Therapy.GROUP_REGULAR),
    (Scenario.COVERED, Therapy.GROUP_STOPPED),
    (Scenario.LAPSED, Therapy.GROUP_IRREGULAR),
    (Scenario.SEVERAL_CYCLES, Therapy.INDIVIDUAL),
    (Scenario.NEW_REFERRAL, Therapy.NONE),
    (Scenario.INJECTION, Therapy.GROUP_IRREGULAR),
    (Scenario.REINDUCTION_REQUIRED, Therapy.GROUP_REGULAR),
    (Scenario.COVERED, Therapy.GROUP_REGULAR),
    (Scenario.PAUSED, Therapy.GROUP_REGULAR),
    (Scenario.LOST_TO_FOLLOW_UP, Therapy.GROUP_REGULAR),
    (Scenario.WINDOW_OPEN, Therapy.GROUP_REGULAR),
    (Scenario.SIX_MONTH, Therapy.GROUP_IRREGULAR),
    (Scenario.DISCHARGED, Therapy.GROUP_REGULAR),
    (Scenario.REINDUCTED, Therapy.INDIVIDUAL),
)


def first_year(today: datetime.date) -> int:
    """The demo clinic's ``first_year``: no demo record, nor one typed while trying the demo, falls before it."""
    return today.year - HISTORY_YEARS


def scenario_for(number: int) -> tuple[Scenario, Therapy]:
    return CYCLE[(number - 1) % len(CYCLE)]


def record_number(number: int) -> str:
    return f"{RECORD_PREFIX}{number:05d}"


@dataclass(frozen=True)
class DemoClinic:
    """The rows every demo patient hangs from, and the day their histories count back from."""

    clinic: Clinic
    three_month_implant: Product
    six_month_implant: Product
    injection: Product  # four weeks
    groups: list[tuple[TherapyGroup, int]]  # with the weekday each meets, Monday 0
    clinician: User
    today: datetime.date


@dataclass
class History:
    """What happened to one patient, before it becomes rows."""

    referred_on: datetime.date
    doses: list[tuple[Product, datetime.date]] = field(default_factory=list)
    status: str = Patient.Status.ACTIVE
    discharged_on: datetime.date | None = None
    misses_visits_from: datetime.date | None = None  # visits due on or after it go unattended
    therapy_stops_on: datetime.date | None = None
    books_renewal: bool = False


@dataclass
class PatientRows:
    """One patient's rows, unsaved: foreign keys point at objects that get their keys in bulk."""

    patient: Patient
    placements: list[Placement]
    visits: list[Visit]
    sessions: list[TherapySession]
    member_of: TherapyGroup | None


def build_patient(demo: DemoClinic, number: int, rules: schedule.ScheduleRules) -> PatientRows:
    """Patient ``number`` with its placements, visits and therapy sessions, not yet saved."""
    rng = random.Random(number)  # noqa: S311 - reproducible invented data, not a secret
    scenario, therapy = scenario_for(number)
    history = _history(scenario, demo, rules, rng)
    patient = _patient(demo, number, history, rng)
    placements, visits = _placements_and_visits(patient, history, demo, rules, rng)
    _flag_latest_visit(number, visits)
    sessions, group = _therapy(patient, therapy, history, demo, number, rng)
    # A discharged patient has left the group's roster; their past sessions keep the group.
    member_of = None if history.discharged_on else group
    return PatientRows(patient=patient, placements=placements, visits=visits, sessions=sessions, member_of=member_of)


def _history(scenario: Scenario, demo: DemoClinic, rules: schedule.ScheduleRules, rng: random.Random) -> History:
    """The doses and events behind each scenario; comments give the state they leave today."""
    today, limit = demo.today, rules.reinduction_after_lapse_days
    three, six, injection = demo.three_month_implant, demo.six_month_implant, demo.injection

    def ago(low: int, high: int) -> datetime.date:
        return today - DAY * rng.randint(low, high)

    history = History(referred_on=ago(1, 14))
    match scenario:
        case Scenario.COVERED:
            history.doses = [(three, ago(20, 60))]
        case Scenario.SEVERAL_CYCLES:  # renewed on time two or three times; covered
            history.doses = _renewals(three, ago(10, 40), rng.randint(2, 3), rng)
        case Scenario.WINDOW_OPEN | Scenario.WINDOW_OPEN_BOOKED:  # runs out in 1 to 11 days
            placed = _placed_to_end_near(three, today + DAY * rng.randint(4, 11))
            history.doses = _renewals(three, placed, rng.randint(0, 1), rng)
            history.books_renewal = scenario is Scenario.WINDOW_OPEN_BOOKED
        case Scenario.MISSED_VISIT:  # covered; the first monitoring visit's window closed unattended
            history.doses = [(three, ago(45, 58))]
            history.misses_visits_from = history.doses[0][1]
        case Scenario.INJECTION:  # covered by an injection given 3 to 18 days ago, after a few on time
            history.doses = _renewals(injection, ago(3, 18), rng.randint(2, 4), rng)
        case Scenario.SIX_MONTH:
            history.doses = [(six, ago(60, 120))]
        case Scenario.LAPSED:  # ran out days ago, not yet REINDUCTION_AFTER_LAPSE_DAYS
            placed = _placed_to_end_near(three, ago(1, max(limit - 3, 1)))
            history.doses = _renewals(three, placed, rng.randint(0, 1), rng)
        case Scenario.REINDUCTION_REQUIRED:  # ran out three weeks to two months ago
            placed = _placed_to_end_near(three, ago(limit + 14, limit + 53))
            history.doses = [(three, placed)]
            history.misses_visits_from = history.therapy_stops_on = schedule.add_months(placed, 2)
        case Scenario.REINDUCTED:  # lapsed for weeks, placed again after the induction checklist; covered
            again = ago(10, 30)
            lapsed = _placed_to_end_near(three, again - DAY * rng.randint(limit + 8, limit + 33))
            history.doses = [(three, lapsed), (three, again)]
        case Scenario.PAUSED:  # covered, away from the clinic for the last fortnight
            history.doses = [(three, ago(35, 55))]
            history.status = Patient.Status.PAUSED
            history.misses_visits_from = history.therapy_stops_on = ago(10, 14)
        case Scenario.LOST_TO_FOLLOW_UP:  # stopped coming two months into an implant, months ago
            placed = ago(150, 200)
            history.doses = [(three, placed)]
            history.status = Patient.Status.LOST_TO_FOLLOW_UP
            history.misses_visits_from = history.therapy_stops_on = schedule.add_months(placed, 2)
        case Scenario.DISCHARGED:  # two cycles, discharged during the last renewal window
            history.doses = _renewals(three, _placed_to_end_near(three, ago(20, 50)), 1, rng)
            history.status = Patient.Status.DISCHARGED
            history.discharged_on = planned_coverage_end(
                product=history.doses[-1][0], placed_on=history.doses[-1][1]
            ) - DAY * rng.randint(1, 10)
    if history.doses:
        first_product, first_day = history.doses[0]
        history.doses[:1] = _renewals(first_product, first_day, rng.randint(*EARLIER_DOSES[scenario]), rng)
        history.referred_on = history.doses[0][1] - DAY * rng.randint(7, 21)
    return history


def _placed_to_end_near(product: Product, ends_near: datetime.date) -> datetime.date:
    """The placement day of a dose that runs out on ``ends_near``, or up to three days before it
    when months clamp (placed 28 February to run out on 30 May runs out on 28 May)."""
    if product.coverage_unit == Product.CoverageUnit.WEEKS:
        return ends_near - datetime.timedelta(weeks=product.coverage_length)
    return schedule.add_months(ends_near, -product.coverage_length)


def _renewals(
    product: Product, latest: datetime.date, earlier: int, rng: random.Random
) -> list[tuple[Product, datetime.date]]:
    """``earlier`` doses before ``latest``, each renewed inside its renewal window, never early."""
    days = [latest]
    for _ in range(earlier):
        # The next dose falls 3 to 7 days before coverage ends, or 0 to 7 where a shorter month
        # takes up to 3 days off: inside either product's renewal window, and never after it.
        days.append(_placed_to_end_near(product, days[-1] + DAY * rng.randint(3, 7)))
    return [(product, day) for day in reversed(days)]


def _patient(demo: DemoClinic, number: int, history: History, rng: random.Random) -> Patient:
    last_name = rng.choice(LAST_NAMES)
    has_email, has_contact = number % 10 != 4, rng.random() < 0.7
    consents = has_email and number % 10 != 8
    liver_condition = number % 25 == 7
    return Patient(
        clinic=demo.clinic,
        record_number=record_number(number),
        first_name=rng.choice(FIRST_NAMES),
        last_name=last_name,
        date_of_birth=datetime.date(rng.randint(1962, 2003), rng.randint(1, 12), rng.randint(1, 28)),
        email=f"patient{number:05d}@example.org" if has_email else "",
        phone=_phone(rng),
        email_consent=consents,
        email_consent_at=_at(history.referred_on, 10, 0, demo) if consents else None,
        status=history.status,
        discharged_on=history.discharged_on,
        treats=rng.choices(Patient.Treats.values, weights=(6, 3, 2))[0],
        liver_condition=liver_condition,
        liver_condition_note=LIVER_NOTE if liver_condition else "",
        emergency_contact_name=f"{rng.choice(FIRST_NAMES)} {last_name}" if has_contact else "",
        emergency_contact_phone=_phone(rng) if has_contact else "",
        counsellor=demo.clinician,
    )


def _phone(rng: random.Random) -> str:
    return f"07700 900{rng.randint(0, 999):03d}"  # Ofcom's range reserved for fiction


def _at(day: datetime.date, hour: int, minute: int, demo: DemoClinic) -> datetime.datetime:
    return datetime.datetime.combine(day, datetime.time(hour, minute), tzinfo=demo.clinic.zone)


def _placements_and_visits(
    patient: Patient, history: History, demo: DemoClinic, rules: schedule.ScheduleRules, rng: random.Random
) -> tuple[list[Placement], list[Visit]]:
    spans: list[schedule.CoverageSpan] = []
    placements, visits = [], []
    for index, (product, placed_on) in enumerate(history.doses):
        renewed_on = history.doses[index + 1][1] if index + 1 < len(history.doses) else None
        covers_until, lead = (
            planned_coverage_end(product=product, placed_on=placed_on),
            product.renewal_window_lead_days,
        )
        state = schedule.coverage_state(spans=spans, today=placed_on, discharged=False, rules=rules)
        induction = schedule.needs_induction(state)
        injection = product.formulation == Product.Formulation.INJECTION
        sites = ("gluteal_left", "gluteal_right") if injection else ("abdomen_left", "abdomen_right")
        placement = Placement(
            patient=patient,
            product=product,
            placed_on=placed_on,
            dose_mg=Decimal(380) if injection else None,
            lot_number=f"LOT-{rng.randint(10000, 99999)}",
            body_site=sites[index % 2],
            placed_by=demo.clinician,
            opioid_free_days=rules.induction_min_opioid_free_days + rng.randint(1, 7) if induction else None,
            urine_screen=CheckResult.NEGATIVE if induction else CheckResult.NOT_DONE,
            naloxone_challenge=NaloxoneChallenge.NEGATIVE if induction else NaloxoneChallenge.NOT_DONE,
            covers_until=covers_until,
        )
        placements.append(placement)
        spans.append(schedule.CoverageSpan(placed_on, covers_until, lead))
        for planned in schedule.plan_visits(
            placed_on=placed_on, covers_until=covers_until, renewal_lead_days=lead, rules=rules
        ):
            outcome = _outcome(planned, renewed_on, history, demo, rng)
            visit = Visit(patient=patient, placement=placement, **asdict(planned), **outcome)
            if visit.status == Visit.Status.COMPLETED:
                _record_findings(visit, demo, rng)
            elif visit.status == Visit.Status.SCHEDULED:
                visit.appointment_at = _appointment(planned, history, demo, rng)
            visits.append(visit)
    return placements, visits


def _outcome(
    planned: schedule.PlannedVisit,
    renewed_on: datetime.date | None,
    history: History,
    demo: DemoClinic,
    rng: random.Random,
) -> dict[str, Any]:
    """Status, cancel reason and completion day, as the services leave a visit: the next placement
    cancels the visits still open from its day on, the missed-visit job marks closed windows
    missed, and a discharge cancels what is still open and freezes the rest as it was that day."""
    attends_on = _attends_on(planned, history, rng)
    cutoff = history.discharged_on or demo.today
    if renewed_on and planned.due_on >= renewed_on and not (attends_on and attends_on < renewed_on):
        return {"status": Visit.Status.CANCELLED, "cancel_reason": Visit.CancelReason.SUPERSEDED}
    if attends_on and attends_on < cutoff:
        return {"status": Visit.Status.COMPLETED, "completed_on": attends_on}
    if planned.window_end < cutoff:
        return {"status": Visit.Status.MISSED}
    if history.discharged_on:
        return {"status": Visit.Status.CANCELLED, "cancel_reason": Visit.CancelReason.DISCHARGED}
    return {"status": Visit.Status.SCHEDULED}


def _attends_on(planned: schedule.PlannedVisit, history: History, rng: random.Random) -> datetime.date | None:
    """The day the patient comes to a visit, or None when they do not come."""
    if planned.kind is schedule.VisitKind.RENEWAL:
        return None  # the next placement meets the renewal, and supersedes its visit
    if history.misses_visits_from and planned.due_on >= history.misses_visits_from:
        return None
    if rng.random() < CHANCE_OF_MISSING_A_VISIT:
        return None
    day = planned.due_on + DAY * rng.randint(-3, 3)
    return min(max(day, planned.window_start), planned.window_end)


def _record_findings(visit: Visit, demo: DemoClinic, rng: random.Random) -> None:
    """Plausible results: liver tests normal unless the liver was already known to be unwell,
    mild mood scores, and now and then a positive screen or a red implant site."""
    liver = visit.patient.liver_condition
    visit.seen_by = demo.clinician
    visit.site_check = Visit.SiteCheck.REDNESS if rng.random() < 0.08 else Visit.SiteCheck.NORMAL
    visit.alt_u_per_l = rng.randint(45, 95) if liver else rng.randint(12, 38)
    visit.ast_u_per_l = rng.randint(42, 80) if liver else rng.randint(14, 35)
    visit.phq9_total, visit.phq9_item9 = rng.randint(0, 12), 0
    visit.gad7_total = rng.randint(0, 10)
    visit.cravings = rng.randint(0, 6)
    relapsed = rng.random() < 0.1
    visit.urine_drug_screen = CheckResult.POSITIVE if relapsed else CheckResult.NEGATIVE
    visit.substance_use = rng.choice(("alcohol", "other")) if relapsed else Visit.SubstanceUse.NONE


def _appointment(
    planned: schedule.PlannedVisit, history: History, demo: DemoClinic, rng: random.Random
) -> datetime.datetime | None:
    """A time inside the visit's window, for the booked renewals and half of next week's visits."""
    if planned.kind is schedule.VisitKind.RENEWAL:
        if not history.books_renewal:
            return None
        first = max(demo.today + DAY, planned.window_start)
        day = first + DAY * rng.randint(0, max((planned.window_end - first).days, 0))
    elif demo.today <= planned.due_on <= demo.today + 7 * DAY and rng.random() < 0.5:
        day = planned.due_on
    else:
        return None
    return _at(day, rng.choice((9, 10, 11, 14, 15, 16)), rng.choice((0, 30)), demo)


def _flag_latest_visit(number: int, visits: list[Visit]) -> None:
    """One patient in forty has liver tests above three times normal, and another a positive PHQ-9
    item 9, at their latest visit, so the dashboard's safety flags have something to show."""
    completed = [visit for visit in visits if visit.status == Visit.Status.COMPLETED]
    if not completed:
        return
    latest = max(completed, key=lambda visit: visit.due_on)
    if number % 40 == 2:
        latest.alt_u_per_l, latest.ast_u_per_l, latest.notes = 164, 131, HIGH_LIVER_NOTE
    elif number % 40 == 26:
        latest.phq9_total, latest.phq9_item9, latest.notes = 16, 1, PHQ9_ITEM9_NOTE


def _therapy(
    patient: Patient, therapy: Therapy, history: History, demo: DemoClinic, number: int, rng: random.Random
) -> tuple[list[TherapySession], TherapyGroup | None]:
    """Sessions over the last 90 days: individual every fortnight, or the group's weekly meeting."""
    if therapy is Therapy.NONE:
        return [], None
    start = max(history.referred_on + DAY, demo.today - THERAPY_LOOKBACK)
    end = history.discharged_on or demo.today - DAY
    stops_on = history.therapy_stops_on
    if therapy is Therapy.GROUP_STOPPED and stops_on is None:
        stops_on = demo.today - DAY * rng.randint(35, 50)
    group: TherapyGroup | None = None
    if therapy is Therapy.INDIVIDUAL:
        first, step = start + DAY * rng.randint(0, 6), 14
    else:
        group, weekday = demo.groups[number % len(demo.groups)]
        first, step = start + DAY * ((weekday - start.weekday()) % 7), 7
    days = [first + DAY * offset for offset in range(0, (end - first).days + 1, step)]
    misses = len(days) - len(days) // 2 if therapy is Therapy.GROUP_IRREGULAR else len(days) // 6
    missed = set(rng.sample(range(len(days)), misses))
    away = TherapySession.Status.EXCUSED if history.status == Patient.Status.PAUSED else TherapySession.Status.MISSED
    kind = TherapySession.Kind.GROUP if group else TherapySession.Kind.INDIVIDUAL
    counsellor = None if group else demo.clinician
    sessions = []
    for index, day in enumerate(days):
        if stops_on and day >= stops_on:
            status = away
        else:
            status = TherapySession.Status.MISSED if index in missed else TherapySession.Status.ATTENDED
        sessions.append(
            TherapySession(patient=patient, group=group, kind=kind, held_on=day, status=status, counsellor=counsellor)
        )
    return sessions, group
