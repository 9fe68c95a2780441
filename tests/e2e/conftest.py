"""Fixtures of the end-to-end tests: the provisioning installation as real processes."""

from __future__ import annotations

import pytest

from tests.conftest import REDIS_URL, TEST_DATABASE_URL


@pytest.fixture(scope="module")
def provisioning():
    """Portal (gunicorn), worker, reference operator, identity provider and SMTP server.

    Per module: the worker serves the suite's Redis queues, so it must be gone before tests
    of other modules enqueue jobs for themselves."""
    if not (TEST_DATABASE_URL and REDIS_URL):
        pytest.skip("needs PostgreSQL and Redis: set TEST_DATABASE_URL and REDIS_URL")
    from tests.e2e.processes import provisioning_stack

    with provisioning_stack(REDIS_URL) as stack:
        yield stack
