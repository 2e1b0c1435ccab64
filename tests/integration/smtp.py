"""A real SMTP server for the integration tests: aiosmtpd on 127.0.0.1, recording what it accepts.

The workers send through Django's SMTP backend, over TCP, to this server; what the server
accepted is what a patient would get. It can misbehave the ways real servers do: refuse with a
451 (greylisting), vanish and come back on the same port, take its time, or hang for one address.
"""

import asyncio
import email
import email.policy
import logging
import threading
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from email.message import EmailMessage

from aiosmtpd.controller import Controller
from aiosmtpd.smtp import SMTP, Envelope, Session

# aiosmtpd logs every SMTP command; a thousand messages would bury a failure's explanation.
logging.getLogger("mail.log").setLevel(logging.WARNING)


@dataclass(frozen=True)
class Received:
    message_id: str
    recipients: tuple[str, ...]
    received_at: float  # time.monotonic()
    message: EmailMessage


@dataclass
class RecordingHandler:
    """Accepts every message and keeps it, unless told to misbehave."""

    # Seconds each message takes to be accepted: a slow server, so that a kill lands mid-batch.
    delay: float = 0.0
    # A reply such as "451 4.7.1 Try again later" given to every RCPT while set.
    refuse_with: str = ""
    # RCPT for this address hangs for ``hang_seconds``, the first ``hang_times`` times it is given.
    hang_for: str = ""
    hang_times: int = 0
    hang_seconds: float = 0.0
    received: list[Received] = field(default_factory=list)
    refused: int = 0
    # When each hang began (time.monotonic()): one per attempt to send to ``hang_for``.
    hangs: list[float] = field(default_factory=list)
    _lock: threading.Lock = field(default_factory=threading.Lock)

    async def handle_RCPT(  # noqa: N802 (aiosmtpd's hook name)
        self, server: SMTP, session: Session, envelope: Envelope, address: str, rcpt_options: list[str]
    ) -> str:
        if self.refuse_with:
            with self._lock:
                self.refused += 1
            return self.refuse_with
        if address == self.hang_for and len(self.hangs) < self.hang_times:
            with self._lock:
                self.hangs.append(time.monotonic())
            # The client gives up after EMAIL_TIMEOUT; this coroutine is cancelled when the server stops.
            await asyncio.sleep(self.hang_seconds)
        envelope.rcpt_tos.append(address)
        return "250 OK"

    async def handle_DATA(  # noqa: N802 (aiosmtpd's hook name)
        self, server: SMTP, session: Session, envelope: Envelope
    ) -> str:
        if self.delay:
            await asyncio.sleep(self.delay)
        content = envelope.original_content or envelope.content
        assert isinstance(content, bytes)
        message = email.message_from_bytes(content, policy=email.policy.default)
        assert isinstance(message, EmailMessage)
        with self._lock:
            self.received.append(
                Received(
                    message_id=str(message["Message-ID"]).strip(),
                    recipients=tuple(envelope.rcpt_tos),
                    received_at=time.monotonic(),
                    message=message,
                )
            )
        return "250 Message accepted for delivery"

    def snapshot(self) -> list[Received]:
        with self._lock:
            return list(self.received)

    def count(self) -> int:
        with self._lock:
            return len(self.received)


class SmtpServer:
    """An aiosmtpd server on a fixed port that can be stopped and started again on that port."""

    def __init__(self, port: int, handler: RecordingHandler) -> None:
        self.port = port
        self.handler = handler
        self._controller: Controller | None = None

    @property
    def url(self) -> str:
        return f"smtp://127.0.0.1:{self.port}"

    @property
    def running(self) -> bool:
        return self._controller is not None

    def start(self) -> None:
        assert self._controller is None, "already running"
        # A new controller each time: a stopped one has closed its event loop.
        controller = Controller(self.handler, hostname="127.0.0.1", port=self.port, ready_timeout=10)
        controller.start()
        self._controller = controller

    def stop(self) -> None:
        if self._controller is not None:
            controller, self._controller = self._controller, None
            controller.stop()

    def wait_for(self, condition: Callable[[list[Received]], bool], *, timeout: float) -> bool:
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            if condition(self.handler.snapshot()):
                return True
            time.sleep(0.1)
        return condition(self.handler.snapshot())
