"""A mail backend for tests that fails when told to, like a real server having a bad day."""

from collections.abc import Callable, Sequence

from django.core.mail import EmailMessage
from django.core.mail.backends import locmem


class ScriptedBackend(locmem.EmailBackend):
    """Django's test outbox, but each upcoming send may first raise the next error in ``script``,
    or first run the next action in it: something that happens elsewhere while a message is on the
    wire (a coordinator cancelling the visit, say)."""

    script: list[BaseException | Callable[[], object] | None] = []

    def send_messages(self, email_messages: Sequence[EmailMessage]) -> int:
        if ScriptedBackend.script:
            step = ScriptedBackend.script.pop(0)
            if isinstance(step, BaseException):
                raise step
            if step is not None:
                step()
        return super().send_messages(email_messages)
