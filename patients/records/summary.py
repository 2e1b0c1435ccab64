"""What one patient's records add up to: safety flags, therapy attendance, findings in words.

Pure: the functions read rows already loaded (they never query) and take ``today`` and the limits
as arguments, so the patient page and its tests agree on every threshold.
"""

import datetime
from collections.abc import Iterable, Sequence
from dataclasses import dataclass

from patients import formats
from patients.models import Patient, TherapySession, Visit

# Therapy attendance counts the sessions of the last 90 days (issue 4, "low therapy attendance").
ATTENDANCE_DAYS = 90
# Under this share of sessions attended, attendance is low and the page says so.
LOW_ATTENDANCE = 0.75
# No session attended in this many days is low attendance too, whatever the share.
ATTENDANCE_RECENT_DAYS = 30
# A patient with a known liver condition should have had a liver test within this many days.
LIVER_TEST_DAYS = 90


@dataclass(frozen=True)
class LiverLimits:
    """Upper limits of normal (U/L) and the multiple of them that raises a flag; from settings."""

    alt_upper: int
    ast_upper: int
    multiple: int


@dataclass(frozen=True)
class Flag:
    title: str
    detail: str


@dataclass(frozen=True)
class Attendance:
    attended: int
    missed: int
    not_counted: int  # excused, or cancelled by the clinic
    since: datetime.date

    @property
    def counted(self) -> int:
        return self.attended + self.missed

    @property
    def rate(self) -> float | None:
        """Attended ÷ (attended + missed); None when no session counts."""
        return self.attended / self.counted if self.counted else None

    @property
    def percent(self) -> int | None:
        return None if self.rate is None else round(self.rate * 100)

    @property
    def is_low(self) -> bool:
        return self.rate is not None and self.rate < LOW_ATTENDANCE


def attendance(sessions: Iterable[TherapySession], *, today: datetime.date) -> Attendance:
    """Attendance over the last ``ATTENDANCE_DAYS`` days; excused and cancelled sessions left out."""
    since = today - datetime.timedelta(days=ATTENDANCE_DAYS)
    recent = [session.status for session in sessions if since <= session.held_on <= today]
    attended = recent.count(TherapySession.Status.ATTENDED)
    missed = recent.count(TherapySession.Status.MISSED)
    return Attendance(attended=attended, missed=missed, not_counted=len(recent) - attended - missed, since=since)


def _latest(visits: Iterable[Visit], *, recorded: str) -> Visit | None:
    """The latest completed visit at which ``recorded`` (a finding's field name) was filled in."""
    done = [
        visit
        for visit in visits
        if visit.status == Visit.Status.COMPLETED and visit.completed_on and getattr(visit, recorded) is not None
    ]
    return max(done, key=lambda visit: (visit.completed_on, visit.due_on, visit.pk), default=None)


def liver_values_high(visit: Visit, limits: LiverLimits) -> bool:
    alt, ast = visit.alt_u_per_l, visit.ast_u_per_l
    return (alt is not None and alt > limits.alt_upper * limits.multiple) or (
        ast is not None and ast > limits.ast_upper * limits.multiple
    )


def _day(day: datetime.date | None) -> str:
    return formats.day(day) if day else "an unknown day"


def safety_flags(
    patient: Patient, visits: Sequence[Visit], *, today: datetime.date, limits: LiverLimits
) -> list[Flag]:
    """The flags a clinician must see before anything else on the page, most pressing first."""
    flags = []
    mood = _latest(visits, recorded="phq9_item9")
    if mood is not None and mood.phq9_item9:
        flags.append(
            Flag(
                "PHQ-9 item 9 positive",
                f"Scored {mood.phq9_item9} of 3 at the visit on {_day(mood.completed_on)} "
                "(thoughts of being better off dead or of self-harm). Check the safety plan.",
            )
        )
    # Each test's own latest value: a visit may record one of the two, which says nothing of the other.
    high, tested_on = [], []
    for name, field, upper in (("ALT", "alt_u_per_l", limits.alt_upper), ("AST", "ast_u_per_l", limits.ast_upper)):
        latest = _latest(visits, recorded=field)
        if latest is None:
            continue
        tested_on.append(latest.completed_on)
        value = getattr(latest, field)
        if value > upper * limits.multiple:
            high.append(f"{name} {value} U/L on {_day(latest.completed_on)}")
    if high:
        flags.append(
            Flag(
                f"Liver tests above {limits.multiple} times normal",
                f"{'; '.join(high)} (upper limits of normal: ALT {limits.alt_upper}, AST {limits.ast_upper} U/L).",
            )
        )
    if patient.liver_condition:
        flags.append(Flag("Liver condition", patient.liver_condition_note.strip() or "No note recorded."))
        last_tested = max(filter(None, tested_on), default=None)
        if last_tested is None or last_tested < today - datetime.timedelta(days=LIVER_TEST_DAYS):
            flags.append(
                Flag(
                    f"No liver test in {LIVER_TEST_DAYS} days",
                    f"Last liver test on {_day(last_tested)}." if last_tested else "No liver test recorded.",
                )
            )
    return flags


def findings_summary(visit: Visit, limits: LiverLimits) -> list[str]:
    """A completed visit's findings as short phrases, in the order a clinician reads them."""
    phrases = []
    if visit.site_check:
        phrases.append(f"Site: {visit.get_site_check_display().lower()}")
    high = liver_values_high(visit, limits)
    if visit.alt_u_per_l is not None:
        phrases.append(f"ALT {visit.alt_u_per_l}")
    if visit.ast_u_per_l is not None:
        phrases.append(f"AST {visit.ast_u_per_l}")
    if high:
        phrases.append(f"liver tests above {limits.multiple} times normal")
    if visit.phq9_total is not None:
        item9 = f" (item 9: {visit.phq9_item9})" if visit.phq9_item9 is not None else ""
        phrases.append(f"PHQ-9 {visit.phq9_total}{item9}")
    elif visit.phq9_item9 is not None:
        phrases.append(f"PHQ-9 item 9: {visit.phq9_item9}")
    if visit.gad7_total is not None:
        phrases.append(f"GAD-7 {visit.gad7_total}")
    if visit.cravings is not None:
        phrases.append(f"Cravings {visit.cravings}/10")
    if visit.urine_drug_screen:
        phrases.append(f"Urine screen: {visit.get_urine_drug_screen_display().lower()}")
    if visit.substance_use:
        phrases.append(f"Use since last visit: {visit.get_substance_use_display().lower()}")
    if visit.adverse_events.strip():
        phrases.append(f"Adverse events: {visit.adverse_events.strip()}")
    return phrases
