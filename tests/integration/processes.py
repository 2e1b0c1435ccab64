"""Real processes for the integration tests: Celery workers, Celery beat, and a redis-server.

Each runs in a session of its own, so that one ``killpg`` reaches it and every child it forked (a
prefork worker's pool), and writes its output to a file whose tail goes into failure messages.
"""

import contextlib
import os
import signal
import socket
import subprocess
import sys
import time
from collections.abc import Callable, Sequence
from pathlib import Path

import pytest
import redis

REPO = Path(__file__).resolve().parents[2]


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        port: int = sock.getsockname()[1]
        return port


class Process:
    """One command in its own process group, with its output in ``log_path``."""

    def __init__(self, name: str, command: Sequence[str], *, env: dict[str, str], log_path: Path) -> None:
        self.name = name
        self.command = list(command)
        self.env = env
        self.log_path = log_path
        self._popen: subprocess.Popen[bytes] | None = None

    def start(self) -> "Process":
        assert self._popen is None, f"{self.name} already started"
        with self.log_path.open("ab") as log:
            self._popen = subprocess.Popen(
                self.command,
                cwd=REPO,
                env=self.env,
                stdin=subprocess.DEVNULL,
                stdout=log,
                stderr=subprocess.STDOUT,
                start_new_session=True,
            )
        return self

    @property
    def pid(self) -> int:
        assert self._popen is not None
        return self._popen.pid

    def running(self) -> bool:
        return self._popen is not None and self._popen.poll() is None

    def log(self) -> str:
        try:
            return self.log_path.read_text(errors="replace")
        except FileNotFoundError:
            return ""

    def tail(self, lines: int = 60) -> str:
        text = "\n".join(self.log().splitlines()[-lines:])
        return f"--- last {lines} lines of {self.name} ({self.log_path}) ---\n{text}"

    def kill(self) -> None:
        """SIGKILL to the whole group, the main process and its pool children at once; then reap."""
        if self._popen is None:
            return
        deadline = time.monotonic() + 15
        # Children of a killed prefork worker may outlive their parent for a moment.
        while _group_alive(self._popen.pid) and time.monotonic() < deadline:
            with contextlib.suppress(ProcessLookupError):
                os.killpg(self._popen.pid, signal.SIGKILL)
            with contextlib.suppress(subprocess.TimeoutExpired):
                self._popen.wait(timeout=0.1)
        self._popen.wait(timeout=5)


def _group_alive(pgid: int) -> bool:
    """Whether a process of the group still runs; zombies (nobody reaped them yet) do not count."""
    for stat in Path("/proc").glob("[0-9]*/stat"):
        try:
            # "pid (command) state ppid pgrp ...": the command may contain spaces and parentheses.
            fields = stat.read_text().rpartition(")")[2].split()
        except OSError:  # gone meanwhile
            continue
        if int(fields[2]) == pgid and fields[0] != "Z":
            return True
    return False


def wait_until(
    condition: Callable[[], bool],
    *,
    timeout: float,
    what: str,
    logs: Callable[[], str] = lambda: "",
    every: Callable[[], None] | None = None,
    interval: float = 0.2,
) -> None:
    """Poll ``condition`` until it holds; on time-out fail with ``what`` and the processes' logs.

    ``every`` runs before each poll (to send the dispatcher's task again, say).
    """
    deadline = time.monotonic() + timeout
    while True:
        if every is not None:
            every()
        if condition():
            return
        if time.monotonic() > deadline:
            pytest.fail(f"Not within {timeout:g} s: {what}\n{logs()}", pytrace=False)
        time.sleep(interval)


def supervise(command: Sequence[str]) -> list[str]:
    """``command`` under a shell loop that starts it again a second after it exits, whatever its code.

    The loop shares the command's process group, so ``Process.kill`` ends both.
    """
    loop = 'while :; do "$@"; echo "supervisor: exited with $?, starting again"; sleep 1; done'
    return ["/bin/sh", "-c", loop, "supervise", *command]


def celery_command(*arguments: str) -> list[str]:
    """``celery -A tracker ...`` with this interpreter, run from the checkout so ``tests`` imports."""
    return [sys.executable, "-m", "celery", "-A", "tracker", *arguments]


class RedisServer:
    """A redis-server of the test's own, which the test may stop and start again on the same port."""

    def __init__(self, binary: str, *, port: int, directory: Path) -> None:
        self.port = port
        self.directory = directory
        directory.mkdir(parents=True, exist_ok=True)
        # No persistence: a restarted server is empty, as after a crash that lost its memory.
        self.command = [binary, "--port", str(port), "--bind", "127.0.0.1", "--dir", str(directory)]
        self.command += ["--save", "", "--appendonly", "no"]
        self.starts = 0
        self.process: Process | None = None

    @property
    def url(self) -> str:
        return f"redis://127.0.0.1:{self.port}/0"

    def start(self) -> None:
        assert self.process is None or not self.process.running(), "already running"
        self.starts += 1
        name = f"redis-server-{self.starts}"
        process = Process(name, self.command, env=dict(os.environ), log_path=self.directory / f"{name}.log")
        self.process = process.start()
        client = redis.Redis(host="127.0.0.1", port=self.port, socket_connect_timeout=1, socket_timeout=1)
        try:
            wait_until(
                lambda: _pings(client), timeout=15, what=f"redis-server on {self.port} answers", logs=process.tail
            )
        finally:
            client.close()

    def stop(self) -> None:
        """SIGKILL: the server vanishes at once, as in a crash."""
        if self.process is not None:
            self.process.kill()


def _pings(client: redis.Redis) -> bool:
    try:
        return bool(client.ping())
    except redis.RedisError:
        return False
