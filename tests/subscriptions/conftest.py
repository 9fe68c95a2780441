from tests.provisioning.conftest import clean_sandbox, sandbox  # noqa: F401  (shared fixtures)
