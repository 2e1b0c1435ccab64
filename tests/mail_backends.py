"""A mail backend for tests that fails when told to, like a real server having a bad day."""

from collections.abc import Sequence

from django.core.mail import EmailMessage
from django.core.mail.backends import locmem


class ScriptedBackend(locmem.EmailBackend):
    """Django's test outbox, but each upcoming send may first raise the next error in ``script``."""

    script: list[BaseException | None] = []

    def send_messages(self, email_messages: Sequence[EmailMessage]) -> int:
        if ScriptedBackend.script:
            error = ScriptedBackend.script.pop(0)
            if error is not None:
                raise error
        return super().send_messages(email_messages)
