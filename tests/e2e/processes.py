"""The whole provisioning installation as real processes on free loopback ports, for e2e tests.

:func:`provisioning_stack` starts, on a migrated and seeded PostgreSQL database of its own
(``<TEST_DATABASE_URL's database>_provisioning_e2e``) and the suite's Redis:

- the portal under gunicorn (``portal:create_app()``), signing people in through
- the development identity provider (``flask --app portal dev-idp``, its own process);
- ``flask --app portal worker`` (rq worker with the scheduler and its reconciler);
- the reference operator (``flask --app portal operator-sandbox``) with its own SQLite store;
- an SMTP server (aiosmtpd, a thread of the test process) that ``MAIL_URL`` points at.

Each process runs in its own process group, so stopping it also stops what it forked (rq's
work horses, the scheduler); everything is stopped when the ``with`` block ends, failed or not.
"""

from __future__ import annotations

import contextlib
import os
import signal
import socket
import subprocess
import sys
import tempfile
import threading
import time
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from email import message_from_bytes, policy
from email.message import EmailMessage
from pathlib import Path

import requests

from portal.config import PROJECT_ROOT, Settings
from tests.accounts.live import LiveProcess, live_identity_provider, prepared_database

SECRET_KEY = "secret-key-of-the-provisioning-e2e-tests-0123456789"
FLASK = [sys.executable, "-m", "flask", "--app", "portal"]


def free_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return probe.getsockname()[1]


def wait_until(check: Callable[[], object], seconds: float = 30, what: str = "it") -> object:
    """Poll ``check`` until it returns something true; fail with ``what`` after ``seconds``."""
    deadline = time.monotonic() + seconds
    while True:
        result = check()
        if result:
            return result
        if time.monotonic() > deadline:
            raise AssertionError(f"{what} did not happen within {seconds} seconds")
        time.sleep(0.1)


class Process:
    """One background process in its own process group, with its output kept in a file."""

    def __init__(self, name: str, command: list[str], env: dict[str, str], log_dir: Path):
        self.name = name
        self.command = command
        self.env = env
        self.log_path = log_dir / f"{name}.log"
        self.popen: subprocess.Popen | None = None

    def start(self) -> Process:
        log = self.log_path.open("a")
        self.popen = subprocess.Popen(
            self.command,
            cwd=PROJECT_ROOT,
            env=self.env,
            stdin=subprocess.DEVNULL,
            stdout=log,
            stderr=subprocess.STDOUT,
            start_new_session=True,  # its own process group: children are stopped with it
        )
        log.close()
        return self

    @property
    def running(self) -> bool:
        return self.popen is not None and self.popen.poll() is None

    def log(self, last: int = 4000) -> str:
        try:
            return self.log_path.read_text(errors="replace")[-last:]
        except FileNotFoundError:
            return ""

    def wait_for_port(self, port: int, seconds: float = 60) -> None:
        deadline = time.monotonic() + seconds
        while time.monotonic() < deadline:
            if not self.running:
                raise RuntimeError(f"{self.name} stopped while starting:\n{self.log()}")
            try:
                socket.create_connection(("127.0.0.1", port), timeout=0.5).close()
                return
            except OSError:
                time.sleep(0.1)
        raise RuntimeError(f"{self.name} does not answer on port {port}:\n{self.log()}")

    def kill(self) -> None:
        """SIGKILL the process and everything it forked, as a crash of the machine would."""
        if self.popen is None:
            return
        family = descendants(self.popen.pid)
        self._signal_group(signal.SIGKILL)
        _signal(family, signal.SIGKILL)
        self.popen.wait(10)

    def stop(self, seconds: float = 10) -> None:
        if self.popen is None:
            return
        # rq's work horses run in process groups of their own: note them before they are orphaned.
        family = [*descendants(self.popen.pid)] if self.popen.poll() is None else []
        if self.popen.poll() is None:
            self._signal_group(signal.SIGTERM)
            try:
                self.popen.wait(seconds)
            except subprocess.TimeoutExpired:
                self._signal_group(signal.SIGKILL)
                self.popen.wait(10)
        self._signal_group(signal.SIGKILL)  # anything left in its group
        _signal(family, signal.SIGKILL)

    def _signal_group(self, sig: signal.Signals) -> None:
        if self.popen is None:
            return
        with contextlib.suppress(ProcessLookupError, PermissionError):
            os.killpg(self.popen.pid, sig)


def _stat(pid: int) -> tuple[int, str] | None:
    """(parent pid, start time) of ``pid`` from /proc/<pid>/stat, or None if it is gone."""
    try:
        # "pid (name) state ppid ... starttime(22nd field)"; the name may contain spaces.
        fields = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
        return int(fields[1]), fields[19]
    except (OSError, IndexError, ValueError):
        return None


def descendants(pid: int) -> list[tuple[int, str]]:
    """Every process forked, directly or not, by ``pid``: (pid, start time) pairs."""
    children: dict[int, list[tuple[int, str]]] = {}
    for entry in Path("/proc").iterdir():
        if entry.name.isdigit() and (stat := _stat(int(entry.name))) is not None:
            children.setdefault(stat[0], []).append((int(entry.name), stat[1]))
    found: list[tuple[int, str]] = []
    pending = [pid]
    while pending:
        for child in children.get(pending.pop(), []):
            found.append(child)
            pending.append(child[0])
    return found


def _signal(family: list[tuple[int, str]], sig: signal.Signals) -> None:
    """Signal each process still alive with its recorded start time (never a reused pid)."""
    for pid, started in family:
        stat = _stat(pid)
        if stat is not None and stat[1] == started:
            with contextlib.suppress(ProcessLookupError, PermissionError):
                os.kill(pid, sig)


class Inbox:
    """An aiosmtpd SMTP server in a thread of the test process; keeps every message it gets."""

    def __init__(self, port: int):
        from aiosmtpd.controller import Controller

        self.messages: list[EmailMessage] = []
        self._lock = threading.Lock()
        inbox = self

        class Handler:
            async def handle_DATA(self, server, session, envelope):
                message = message_from_bytes(envelope.content, policy=policy.default)
                with inbox._lock:
                    inbox.messages.append(message)
                return "250 Message accepted for delivery"

        self.controller = Controller(Handler(), hostname="127.0.0.1", port=port)

    def to(self, address: str) -> list[EmailMessage]:
        with self._lock:
            return [m for m in self.messages if address.lower() in str(m["To"]).lower()]


@dataclass
class ProvisioningStack:
    portal_url: str
    operator_url: str  # the reference operator's API, ending in /v1
    idp: LiveProcess
    database_url: str
    redis_url: str
    inbox: Inbox
    directory: Path
    worker: Process
    processes: list[Process] = field(default_factory=list)

    def settings(self) -> Settings:
        """Settings of a portal process of this installation (for a test's own app)."""
        return Settings(
            portal_env="test",
            database_url=self.database_url,
            redis_url=self.redis_url,
            secret_key=SECRET_KEY,
            operator_sandbox_url=self.operator_url,
            public_url=self.portal_url,
            instance_dir=self.directory,
        ).with_overrides()

    def operator(self, method: str, path: str, **kwargs) -> requests.Response:
        """A call to the reference operator with this installation's bearer token."""
        from portal.provisioning.sandbox import sandbox_secrets

        token, _ = sandbox_secrets(self.settings())
        base = self.operator_url.removesuffix("/v1")
        response = requests.request(
            method, base + path, headers={"Authorization": f"Bearer {token}"}, timeout=70, **kwargs
        )
        response.raise_for_status()
        return response

    def operator_faults(self, **switches) -> None:
        """Set the reference operator's fault switches (all others back to normal)."""
        self.operator("PUT", "/_sandbox/faults", json=switches)

    def operator_mailboxes(self, address: str) -> list[dict]:
        """The mailboxes the reference operator holds at ``address``, over its API."""
        return self.operator("GET", "/v1/mailboxes", params={"address": address}).json()["items"]

    def start_worker(self) -> None:
        self.worker.start()

    def logs(self) -> str:
        return "\n".join(f"--- {p.name}\n{p.log()}" for p in self.processes)


def empty_queues(redis_url: str) -> None:
    """Leave no job of another database in the portal's queues (the suite shares this Redis)."""
    from redis import Redis
    from rq import Queue
    from rq.registry import ScheduledJobRegistry

    from portal.queue import QUEUE_NAMES

    connection = Redis.from_url(redis_url)
    for name in QUEUE_NAMES:
        queue = Queue(name, connection=connection)
        queue.empty()
        scheduled = ScheduledJobRegistry(queue=queue)
        for job_id in scheduled.get_job_ids():
            scheduled.remove(job_id, delete_job=True)


@contextlib.contextmanager
def provisioning_stack(
    redis_url: str, *, name: str = "provisioning_e2e", gunicorn_workers: int = 2
) -> Iterator[ProvisioningStack]:
    with contextlib.ExitStack() as stack:
        directory = Path(stack.enter_context(tempfile.TemporaryDirectory(prefix=f"{name}-")))
        database_url = prepared_database(directory, name)
        empty_queues(redis_url)
        stack.callback(empty_queues, redis_url)
        portal_port, operator_port, smtp_port = free_port(), free_port(), free_port()
        portal_url = f"http://127.0.0.1:{portal_port}"
        operator_url = f"http://127.0.0.1:{operator_port}/v1"

        inbox = Inbox(smtp_port)
        inbox.controller.start()
        stack.callback(inbox.controller.stop)
        idp = stack.enter_context(live_identity_provider())

        from portal.accounts import devidp
        from tests.accounts.live import CLIENT_ID, CLIENT_SECRET

        env = {
            key: value
            for key, value in os.environ.items()
            if not key.startswith(("PSC_", "DATABASE_URL", "MAIL_", "STRIPE_", "SECRET_KEY"))
        }
        env.update(
            PORTAL_ENV="test",
            PYTHONUNBUFFERED="1",
            DATABASE_URL=database_url,
            REDIS_URL=redis_url,
            SECRET_KEY=SECRET_KEY,
            MAIL_URL=f"smtp://127.0.0.1:{smtp_port}",
            PUBLIC_URL=portal_url,
            OPERATOR_SANDBOX_URL=operator_url,
            PSC_METADATA_URL=devidp.metadata_url(idp.url),
            PSC_CLIENT_ID=CLIENT_ID,
            PSC_CLIENT_SECRET=CLIENT_SECRET,
            PYTHONPATH=str(PROJECT_ROOT),
        )
        processes: list[Process] = []

        def launch(process: Process) -> Process:
            processes.append(process)
            stack.callback(process.stop)
            return process.start()

        operator = launch(
            Process(
                "reference-operator",
                [*FLASK, "operator-sandbox", "--port", str(operator_port),
                 "--store", str(directory / "operator.sqlite3")],
                env, directory,
            )
        )  # fmt: skip
        portal = launch(
            Process(
                "portal",
                [sys.executable, "-m", "gunicorn", "--bind", f"127.0.0.1:{portal_port}",
                 "--workers", str(gunicorn_workers), "--threads", "4", "--timeout", "60",
                 "portal:create_app()"],
                env, directory,
            )
        )  # fmt: skip
        worker = Process("worker", [*FLASK, "worker", "--reconcile-every", "5"], env, directory)
        processes.append(worker)
        stack.callback(worker.stop)
        worker.start()
        operator.wait_for_port(operator_port)
        portal.wait_for_port(portal_port)
        running = ProvisioningStack(
            portal_url=portal_url,
            operator_url=operator_url,
            idp=idp,
            database_url=database_url,
            redis_url=redis_url,
            inbox=inbox,
            directory=directory,
            worker=worker,
            processes=processes,
        )

        def answers() -> bool:
            try:
                return requests.get(f"{portal_url}/", timeout=30).status_code == 200
            except requests.RequestException:
                return False

        try:
            wait_until(answers, 90, what="the portal's home page")
        except AssertionError:
            raise RuntimeError(f"the portal does not answer:\n{running.logs()}") from None
        yield running
