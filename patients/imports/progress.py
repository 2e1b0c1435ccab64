"""How far a running import has got, for the page that follows it.

The import writes in one transaction, so its own rows cannot tell another connection how far it
has got (and on SQLite a second writer would wait for it). The count of rows done is kept in Redis
instead, beside the broker, for as long as a run could last. It is only a hint for the progress
bar: the run's status in the database says what happened, and the page works without it.
"""

import logging

import redis
from django.conf import settings

from patients.models import ImportRun

logger = logging.getLogger(__name__)

# Long enough for the longest import (the task's time limit), short enough to leave nothing behind.
KEPT_SECONDS = 2 * 60 * 60
# Reports a progress bar needs: about one per percent, so a large file costs a hundred Redis writes.
STEPS = 100


def _key(run: ImportRun) -> str:
    return f"import-progress:{run.uuid}"


def _redis() -> redis.Redis:
    return redis.Redis.from_url(settings.REDIS_URL, socket_timeout=2, socket_connect_timeout=2)


def reporter(run: ImportRun, *, step: str) -> "Reporter":
    return Reporter(run, step=step)


class Reporter:
    """Called with (rows done, rows in all) after each row; writes every hundredth of the way."""

    def __init__(self, run: ImportRun, *, step: str) -> None:
        self.run = run
        self.step = step
        self.last = -1
        self.silent = False
        self.client: redis.Redis | None = None  # one connection for the whole run, opened on its first report

    def __call__(self, done: int, total: int) -> None:
        every = max(total // STEPS, 1)
        if self.silent or (done != total and done - self.last < every):
            return
        self.last = done
        try:
            self.client = self.client or _redis()
            self.client.set(_key(self.run), f"{self.step}:{done}:{total}", ex=KEPT_SECONDS)
        except redis.RedisError:
            # The import goes on without its progress bar, and does not wait on Redis again.
            self.silent = True
            logger.warning("Import %s: progress not recorded (Redis did not answer)", self.run.uuid)


def progress_of(run: ImportRun) -> tuple[str, int, int] | None:
    """(step, rows done, rows in all) of a run under way, or None when nothing is known."""
    try:
        found = _redis().get(_key(run))
    except redis.RedisError:
        return None
    if not found:
        return None
    text = found.decode() if isinstance(found, bytes) else str(found)
    step, done, total = text.split(":")
    return step, int(done), int(total)
