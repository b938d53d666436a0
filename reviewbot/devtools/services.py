"""Real services for the service tests and benchmarks: redis-server, an SMTP sink,
Celery workers and the config file they read.

Each harness binds loopback only, keeps its files under the test's temporary
directory and can be stopped and started again (the fault tests restart
Redis, take SMTP down, SIGKILL workers).  Every process is started in its own
session so that stopping it kills its children too.
"""

from __future__ import annotations

import asyncio
import contextlib
import os
import signal
import socket
import subprocess
import sys
import threading
import time
from email import message_from_bytes
from email.message import Message
from pathlib import Path

from aiosmtpd.controller import Controller
from aiosmtpd.smtp import SMTP, Envelope, Session

from reviewbot.config import Config

ROOT = Path(__file__).resolve().parents[2]


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


def _wait_port(port: int, timeout: float) -> bool:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        try:
            with socket.create_connection(("127.0.0.1", port), timeout=0.5):
                return True
        except OSError:
            time.sleep(0.05)
    return False


def _stop_group(
    proc: subprocess.Popen[bytes], sig: int = signal.SIGTERM, timeout: float = 10
) -> None:
    if proc.poll() is None:
        with contextlib.suppress(ProcessLookupError):
            os.killpg(proc.pid, sig)
        with contextlib.suppress(subprocess.TimeoutExpired):
            proc.wait(timeout=timeout)
    # children of a killed leader may linger in the group
    with contextlib.suppress(ProcessLookupError, PermissionError):
        os.killpg(proc.pid, signal.SIGKILL)
    if proc.poll() is None:
        proc.wait(timeout=10)


class RedisServer:
    """redis-server on a free port, no persistence: a restart loses every queue."""

    def __init__(self, root: Path):
        self.dir = root
        self.dir.mkdir(parents=True, exist_ok=True)
        self.port = free_port()
        self.proc: subprocess.Popen[bytes] | None = None

    @property
    def url(self) -> str:
        return f"redis://127.0.0.1:{self.port}/0"

    def start(self) -> None:
        with open(self.dir / "redis.log", "ab") as log:
            self.proc = subprocess.Popen(
                [
                    "redis-server",
                    "--port",
                    str(self.port),
                    "--bind",
                    "127.0.0.1",
                    "--save",
                    "",
                    "--appendonly",
                    "no",
                    "--dir",
                    str(self.dir),
                    "--daemonize",
                    "no",
                ],
                stdout=log,
                stderr=log,
                start_new_session=True,
            )
        if not _wait_port(self.port, 10):
            self.stop()
            raise RuntimeError("redis-server did not start")

    def stop(self) -> None:
        if self.proc is not None:
            _stop_group(self.proc, signal.SIGKILL)
            self.proc = None

    def restart(self) -> None:
        self.stop()
        self.start()


class _Sink:
    def __init__(self) -> None:
        self.lock = threading.Lock()
        self.messages: list[tuple[list[str], bytes]] = []
        self.mail_options: list[list[str]] = []  # MAIL FROM parameters of each kept message
        self.refuse_after: int | None = None  # answer 451 to DATA once this many were kept
        # keep the next N messages, then cut the connection instead of answering
        # (the client cannot know whether the message was taken)
        self.drop_after_data = 0
        self.stall_data = 0.0  # seconds to wait after taking a message, before answering

    async def handle_DATA(self, server: SMTP, session: Session, envelope: Envelope) -> str:
        data = envelope.original_content or b""
        with self.lock:
            if self.refuse_after is not None and len(self.messages) >= self.refuse_after:
                return "451 try again later"
            self.messages.append((list(envelope.rcpt_tos), bytes(data)))
            self.mail_options.append(list(envelope.mail_options))
            drop = self.drop_after_data > 0
            self.drop_after_data -= drop
        if drop and server.transport is not None:
            server.transport.close()
        elif self.stall_data:
            await asyncio.sleep(self.stall_data)
        return "250 OK"


class SmtpSink:
    """aiosmtpd on a free port (Controller(port=0) does not work); can go down and up.

    ``smtputf8``: whether the server offers SMTPUTF8 (RFC 6531) in its EHLO.
    """

    def __init__(self, smtputf8: bool = False) -> None:
        self.port = free_port()
        self.sink = _Sink()
        self.smtputf8 = smtputf8
        self.controller: Controller | None = None

    def start(self) -> None:
        self.controller = Controller(
            self.sink, hostname="127.0.0.1", port=self.port, enable_SMTPUTF8=self.smtputf8
        )
        self.controller.start()

    def stop(self) -> None:
        if self.controller is not None:
            self.controller.stop()
            self.controller = None

    def received(self) -> list[Message]:
        with self.sink.lock:
            return [message_from_bytes(raw) for _, raw in self.sink.messages]

    def raw(self) -> list[bytes]:
        with self.sink.lock:
            return [raw for _, raw in self.sink.messages]

    def envelopes(self) -> list[list[str]]:
        """The RCPT TO addresses of each message kept."""
        with self.sink.lock:
            return [list(rcpts) for rcpts, _ in self.sink.messages]


class CeleryWorker:
    """``reviewbot worker`` as a real subprocess (prefork pool)."""

    def __init__(
        self, config: Path, log: Path, concurrency: int = 1, env: dict[str, str] | None = None
    ):
        self.extra_env = env or {}
        self.config = config
        self.log = log
        self.concurrency = concurrency
        self.proc: subprocess.Popen[bytes] | None = None

    def start(self) -> None:
        env = dict(
            os.environ, PYTHONPATH=str(ROOT), REVIEWBOT_CONFIG=str(self.config), **self.extra_env
        )
        with open(self.log, "ab") as log:
            self.proc = subprocess.Popen(
                [
                    sys.executable,
                    "-m",
                    "reviewbot",
                    "worker",
                    "--config",
                    str(self.config),
                    "--concurrency",
                    str(self.concurrency),
                ],
                cwd=ROOT,
                env=env,
                stdout=log,
                stderr=log,
                start_new_session=True,
            )

    def stop(self) -> None:
        if self.proc is not None:
            _stop_group(self.proc, signal.SIGTERM, timeout=15)
            self.proc = None

    def kill(self) -> None:
        """SIGKILL the whole worker (main process and pool) at once."""
        if self.proc is not None:
            _stop_group(self.proc, signal.SIGKILL)
            self.proc = None


def write_config(cfg: Config, path: Path) -> Path:
    """The same config as TOML, for subprocesses (workers)."""
    lst = cfg.lists[0]
    broker = f'broker = "{cfg.broker}"' if cfg.broker else ""
    text = f"""
database = "{cfg.database}"
{broker}
tree = "{cfg.tree}"
state_dir = "{cfg.state_dir}"
message_domain = "{cfg.message_domain}"
pipeline = "{cfg.pipeline}"
simulate = {str(cfg.simulate).lower()}

[smtp]
host = "{cfg.smtp.host}"
port = {cfg.smtp.port}
sender = "{cfg.smtp.sender}"

[watch]
backfill = {str(cfg.watch.backfill).lower()}
interval = {cfg.watch.interval}
requeue_after = {cfg.watch.requeue_after}

[limits]
review_timeout = {cfg.limits.review_timeout}
review_memory_mb = {cfg.limits.review_memory_mb}

[worker]
soft_time_limit = {cfg.worker.soft_time_limit}
time_limit = {cfg.worker.time_limit}
visibility_timeout = {cfg.worker.visibility_timeout}
max_attempts = {cfg.worker.max_attempts}
retry_backoff = {cfg.worker.retry_backoff}
restore_interval = {cfg.worker.restore_interval}

[[lists]]
name = "{lst.name}"
inbox_url = "{lst.inbox_url}"
address = "{lst.address}"
[lists.policy]
mode = "{lst.policy.mode.value}"
rate_per_hour = {lst.policy.rate_per_hour}
"""
    path.write_text(text)
    return path
