"""The clinic's records, as Django finds them: every model of the app, one module per area.

Rows only: every change goes through ``patients.services``. Import models from here
(``from patients.models import Patient``); the modules below are where they are written.
"""

from patients.models.audit import RecordAccess
from patients.models.calls import FollowUpCall
from patients.models.clinics import (
    Clinic,
    Membership,
    Product,
    default_renewal_lead_days,
    validate_no_control_characters,
    validate_time_zone,
)
from patients.models.imports import ImportRow, ImportRun
from patients.models.kept import AttendanceCount, NewestPlacement, ReportFigures
from patients.models.records import CheckResult, NaloxoneChallenge, Patient, Placement
from patients.models.reminders import DigestRun, PipelineHeartbeat, Reminder
from patients.models.results import LatestResults
from patients.models.therapy import TherapyGroup, TherapySession
from patients.models.visits import Visit

__all__ = [
    "AttendanceCount",
    "CheckResult",
    "Clinic",
    "DigestRun",
    "FollowUpCall",
    "ImportRow",
    "ImportRun",
    "LatestResults",
    "Membership",
    "NaloxoneChallenge",
    "NewestPlacement",
    "Patient",
    "PipelineHeartbeat",
    "Placement",
    "Product",
    "RecordAccess",
    "Reminder",
    "ReportFigures",
    "TherapyGroup",
    "TherapySession",
    "Visit",
    "default_renewal_lead_days",
    "validate_no_control_characters",
    "validate_time_zone",
]
