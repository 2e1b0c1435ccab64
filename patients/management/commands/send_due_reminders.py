from typing import Any

from django.core.management.base import BaseCommand
from django.utils import timezone

from patients.reminders.dispatcher import dispatch


class Command(BaseCommand):
    help = "Run one reminder dispatch now, as beat does every minute, and say what it did."

    def handle(self, *args: Any, **options: Any) -> None:
        report = dispatch(now=timezone.now())
        self.stdout.write(
            f"Sent {report.sent}, will retry {report.retried}, failed {report.failed}, "
            f"expired {report.expired}, returned from dead workers {report.recovered}."
        )
