"""The mail server the dispatch figures send to: aiosmtpd on loopback, in a process of its own.

A real mail server does not share the sender's interpreter; run in a thread of the benchmark, its
work would be timed as the sender's. It keeps each message it accepts as two files in FOLDER
(``NNNNNNN.eml``, the bytes, and ``NNNNNNN.json``, the envelope), so that the benchmark can send
the very same messages again with a bare ``smtplib`` loop and count what arrived.

    python benchmarks/smtp_sink.py PORT FOLDER    # prints "ready"; stops when its stdin closes
"""

import json
import logging
import sys
from pathlib import Path

from aiosmtpd.controller import Controller
from aiosmtpd.smtp import SMTP, Envelope, Session

# aiosmtpd logs every command; thousands of messages would bury an error.
logging.getLogger("mail.log").setLevel(logging.WARNING)


class KeepingHandler:
    def __init__(self, folder: Path) -> None:
        self.folder = folder
        self.accepted = 0

    async def handle_DATA(  # noqa: N802 (aiosmtpd's hook name)
        self, server: SMTP, session: Session, envelope: Envelope
    ) -> str:
        content = envelope.original_content or envelope.content
        assert isinstance(content, bytes)
        self.accepted += 1
        name = self.folder / f"{self.accepted:07d}"
        name.with_suffix(".eml").write_bytes(content)
        name.with_suffix(".json").write_text(json.dumps({"from": envelope.mail_from, "to": envelope.rcpt_tos}))
        return "250 Message accepted for delivery"


def main() -> None:
    port, folder = int(sys.argv[1]), Path(sys.argv[2])
    controller = Controller(KeepingHandler(folder), hostname="127.0.0.1", port=port, ready_timeout=10)
    controller.start()
    print("ready", flush=True)
    sys.stdin.read()  # until the benchmark closes our stdin, or ends
    controller.stop()


if __name__ == "__main__":
    main()
