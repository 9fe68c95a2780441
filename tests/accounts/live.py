"""Run the portal and the development identity provider as real processes on free loopback ports.

For end-to-end and browser tests of any domain::

    with live_identity_provider() as idp, live_portal(tmp_path, idp) as portal:
        ...  # portal.url, idp.url; sign in by clicking through idp's page

The portal gets a freshly migrated and seeded database of its own (a separate PostgreSQL
database when TEST_DATABASE_URL is set) and finds the provider only through PSC_METADATA_URL.
"""

from __future__ import annotations

import contextlib
import os
import re
import selectors
import subprocess
import sys
import tempfile
import time
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

from portal.accounts import devidp
from portal.app import create_app
from portal.config import PROJECT_ROOT, Settings
from portal.db import session_scope
from portal.seed import seed_database
from tests.conftest import REDIS_URL, migrated_database_url

CLIENT_ID = "portail-e2e"
CLIENT_SECRET = "secret-of-the-e2e-tests"
_URL = re.compile(r"(http://127\.0\.0\.1:\d+)")


@dataclass
class LiveProcess:
    url: str
    process: subprocess.Popen
    output: list[str]
    database_url: str | None = None  # the portal's, for a test to add what it needs


def _wait_for_url(
    process: subprocess.Popen, marker: str, timeout: float = 30
) -> tuple[str, list[str]]:
    """Read the process's output until the line announcing its URL."""
    lines: list[str] = []
    selector = selectors.DefaultSelector()
    selector.register(process.stdout, selectors.EVENT_READ)
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if process.poll() is not None:
            break
        if not selector.select(timeout=0.2):
            continue
        line = process.stdout.readline()
        if not line:
            continue
        lines.append(line)
        match = _URL.search(line)
        if marker in line and match:
            return match.group(1), lines
    process.kill()
    raise RuntimeError(f"{marker!r} did not start: {''.join(lines)}")


@contextlib.contextmanager
def _running(command: list[str], env: dict[str, str], marker: str) -> Iterator[LiveProcess]:
    # The process's log goes to a temporary file, shown if the process fails to start.
    with tempfile.TemporaryFile(mode="w+") as errors:
        process = subprocess.Popen(
            command, cwd=PROJECT_ROOT, env=env, stdout=subprocess.PIPE, stderr=errors, text=True
        )
        try:
            try:
                url, lines = _wait_for_url(process, marker)
            except RuntimeError as error:
                errors.seek(0)
                raise RuntimeError(f"{error}\n{errors.read()[-4000:]}") from None
            yield LiveProcess(url=url, process=process, output=lines)
            if process.poll() is not None:
                # It ended before the tests were done with it: say so, with its last words,
                # rather than leave only "connection refused" in a browser test.
                errors.seek(0)
                raise RuntimeError(
                    f"{marker!r} stopped by itself (exit code {process.returncode}) while tests "
                    f"were using it:\n{errors.read()[-4000:]}"
                )
        finally:
            process.terminate()
            try:
                process.wait(timeout=10)
            except subprocess.TimeoutExpired:
                process.kill()
                process.wait()


def _base_env() -> dict[str, str]:
    env = {k: v for k, v in os.environ.items() if not k.startswith(("PSC_", "DATABASE_URL"))}
    env["PORTAL_ENV"] = "test"
    env["PYTHONUNBUFFERED"] = "1"
    return env


@contextlib.contextmanager
def live_identity_provider() -> Iterator[LiveProcess]:
    """`flask --app portal dev-idp --port 0` in its own process."""
    command = [
        sys.executable, "-m", "flask", "--app", "portal", "dev-idp", "--port", "0",
        "--client-id", CLIENT_ID, "--client-secret", CLIENT_SECRET,
    ]  # fmt: skip
    with _running(command, _base_env(), "Development identity provider") as idp:
        yield idp


def prepared_database(directory: Path, name: str) -> str:
    """A migrated and seeded database for a live portal process."""
    url = migrated_database_url(directory, name)
    settings = Settings(
        portal_env="test", database_url=url, instance_dir=directory
    ).with_overrides()
    app = create_app(settings)
    with app.app_context(), session_scope(app) as session:
        seed_database(session)
    return url


@contextlib.contextmanager
def live_portal(
    directory: Path, idp: LiveProcess | None, database_name: str = "e2e"
) -> Iterator[LiveProcess]:
    """The portal (`python -m portal.devserver --port 0`) pointed at ``idp``."""
    env = _base_env()
    env["DATABASE_URL"] = prepared_database(directory, database_name)
    if REDIS_URL:
        env["REDIS_URL"] = REDIS_URL
    if idp is not None:
        env["PSC_METADATA_URL"] = devidp.metadata_url(idp.url)
        env["PSC_CLIENT_ID"] = CLIENT_ID
        env["PSC_CLIENT_SECRET"] = CLIENT_SECRET
    command = [sys.executable, "-m", "portal.devserver", "--port", "0"]
    with _running(command, env, "Portail des offres MSSanté") as portal:
        portal.database_url = env["DATABASE_URL"]
        yield portal
