from __future__ import annotations

import pytest

from tests.provisioning.helpers import start_sandbox


@pytest.fixture(scope="session")
def sandbox(tmp_path_factory):
    running = start_sandbox(tmp_path_factory.mktemp("sandbox") / "operator.sqlite3")
    yield running
    running.stop()


@pytest.fixture
def clean_sandbox(sandbox):
    sandbox.faults()
    yield sandbox
    sandbox.faults()
