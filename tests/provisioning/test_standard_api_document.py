"""The reference operator implements docs/provisioning-api.yaml (checked with schemathesis)."""

from __future__ import annotations

import schemathesis
import yaml
from hypothesis import HealthCheck, settings

from portal.config import PROJECT_ROOT
from tests.provisioning.helpers import SANDBOX_TOKEN

API_DOCUMENT = PROJECT_ROOT / "docs" / "provisioning-api.yaml"
schema = schemathesis.openapi.from_path(API_DOCUMENT)
# Unknown query parameters are ignored, as HTTP APIs usually do; everything else is checked,
# including invalid data (negative cases) that must be refused with a documented 4xx.
schema.config.generation.update(allow_extra_parameters=False)


@schema.auth()
class BearerToken:
    """The operator's bearer token; schemathesis also checks that calls without it fail."""

    def get(self, case, context):
        return SANDBOX_TOKEN

    def set(self, case, data, context):
        case.headers = {**(case.headers or {}), "Authorization": f"Bearer {data}"}


@schema.parametrize()
@settings(
    max_examples=10,
    deadline=None,
    suppress_health_check=[HealthCheck.too_slow, HealthCheck.filter_too_much],
)
def test_the_reference_operator_conforms_to_the_standard_api(case, sandbox):
    case.call_and_validate(base_url=sandbox.url)


def test_the_document_declares_every_operation_of_the_adapter_contract():
    document = yaml.safe_load(API_DOCUMENT.read_text(encoding="utf-8"))
    operations = {
        operation["operationId"]
        for path in document["paths"].values()
        for method, operation in path.items()
        if method != "parameters"
    }
    assert operations == {
        "health",
        "checkAddress",
        "findMailboxes",
        "createMailbox",
        "getMailbox",
        "suspendMailbox",
        "resumeMailbox",
        "terminateMailbox",
        "getAccess",
        "setAccess",
    }
    assert "mailboxStatus" in document["webhooks"]
