"""Property-based fuzzing of every operation in /api/openapi.json: no 5xx, every answer as documented."""

from __future__ import annotations

import pytest
import schemathesis
from hypothesis import HealthCheck, settings
from schemathesis.checks import not_a_server_error
from schemathesis.specs.openapi.checks import (
    content_type_conformance,
    response_headers_conformance,
    response_schema_conformance,
    status_code_conformance,
    unsupported_method,
)

from tests.support import make_app
from widget.openapi import document

# Few examples per operation keeps the run short; derandomize makes it the same run every time.
EXAMPLES = 10
CHECKS = [
    not_a_server_error,
    status_code_conformance,
    content_type_conformance,
    response_schema_conformance,
    response_headers_conformance,
    unsupported_method,
]


@pytest.fixture
def fuzzed_app(tmp_path, mailbox):
    """Return an app with comments open, mailing to ``mailbox``, as an attacker would find it in production."""
    return make_app(
        tmp_path,
        EMBED_ALLOWED_ORIGINS="https://studio.example",
        MAIL_SERVER="127.0.0.1",
        MAIL_PORT=str(mailbox.port),
        TESTING=False,
    )


# The document the app serves at /api/openapi.json is document() as JSON (a test below holds it to that);
# it is read here, at collection, because schemathesis makes one test per operation from it.
schema = schemathesis.openapi.from_dict(document())


def test_fuzzed_document_is_the_one_the_app_serves(fuzzed_app):
    served = fuzzed_app.test_client().get("/api/openapi.json").get_json()
    assert served == schema.raw_schema


@schema.parametrize()
@settings(
    max_examples=EXAMPLES,
    derandomize=True,
    database=None,
    deadline=None,
    suppress_health_check=list(HealthCheck),
)
def test_fuzz_operation(fuzzed_app, case):
    # The in-process client hands over bodies as sent; compression has tests of its own.
    case.call_and_validate(app=fuzzed_app, checks=CHECKS, headers={"Accept-Encoding": "identity"})
