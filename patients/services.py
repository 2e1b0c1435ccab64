"""Every write to the clinic's records, at one address: ``patients.services.<verb>``.

The services live with the capability they serve: the person, placements and visits in
``patients.records.services``, therapy in ``patients.therapy.services``. Pages, the admin, tasks and
commands call them through this module. Each takes keyword-only arguments (and ``by=``, the user
asking, whose role it checks), and either saves all of it in one transaction or raises
``ValidationError`` and saves nothing.
"""

from patients.records.services.patients import (
    PATIENT_DETAILS,
    PATIENT_TRANSITIONS,
    change_patient_status,
    discharge_patient,
    log_follow_up_call,
    register_patient,
    update_patient,
    withdraw_email_consent,
)
from patients.records.services.placements import record_placement, record_removal
from patients.records.services.visits import (
    VISIT_FINDINGS,
    VISIT_TRANSITIONS,
    cancel_visit,
    complete_visit,
    confirm_visit,
    mark_missed_visits,
    reschedule_visit,
    settle_past_visits,
)
from patients.therapy.services import (
    create_therapy_group,
    log_group_attendance,
    log_therapy_session,
    set_group_members,
    update_therapy_group,
)

__all__ = [
    "PATIENT_DETAILS",
    "PATIENT_TRANSITIONS",
    "VISIT_FINDINGS",
    "VISIT_TRANSITIONS",
    "cancel_visit",
    "change_patient_status",
    "complete_visit",
    "confirm_visit",
    "create_therapy_group",
    "discharge_patient",
    "log_follow_up_call",
    "log_group_attendance",
    "log_therapy_session",
    "mark_missed_visits",
    "record_placement",
    "record_removal",
    "register_patient",
    "reschedule_visit",
    "set_group_members",
    "settle_past_visits",
    "update_patient",
    "update_therapy_group",
    "withdraw_email_consent",
]
