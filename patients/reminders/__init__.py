"""Reminders to patients, from the row written with a visit to the email sent.

``timing`` (pure: when each reminder goes out), ``outbox`` (writing and withdrawing rows inside the
services' transactions), ``dispatcher`` (a run, clinic by clinic) over ``claims`` (claim under a
lease, check right before a send) and ``sending`` (send, stamp), ``message`` (the email) and
``links`` (the signed links in it). ``dispatch_due_reminders`` keeps its address here for the
deployments and checks that call it.
"""

from typing import Any


def __getattr__(name: str) -> Any:
    # Lazily, so that importing ``patients.reminders.timing`` (which models and services do) does
    # not load the dispatcher and everything it needs.
    if name in {"dispatch_due_reminders", "dispatch"}:
        from patients.reminders import dispatcher

        return getattr(dispatcher, name)
    raise AttributeError(f"module {__name__!r} has no attribute {name!r}")
