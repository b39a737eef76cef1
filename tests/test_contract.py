"""Fuzzing the contract: schemathesis generates requests for every operation of the
served OpenAPI document, schema-valid ones and schema-violating ones, and sends them
with a valid admin token to a real server holding the demo. No answer may be a 5xx,
every answer must be one the document lists (status, content type, headers, body
schema), and every schema-violating request must be refused.

Not checked: that every schema-valid request is accepted. The document cannot state the
ledger's rules (a gemeente's code, a closed year, a reserve below zero), so a valid-looking
event may rightly be refused 400 or 422.

`LEDGER_FUZZ_EXAMPLES` sets the examples per operation and mode (`make fuzz`: many more).
"""

from __future__ import annotations

import os
from collections.abc import Iterator
from typing import Any

import pytest
import schemathesis
from hypothesis import HealthCheck, given, settings
from hypothesis.errors import Unsatisfiable
from schemathesis.checks import positive_data_acceptance
from schemathesis.generation import GenerationMode

from api.openapi import document_path, query_parameters
from tests.conftest import Served

EXAMPLES = int(os.environ.get("LEDGER_FUZZ_EXAMPLES", "25"))
OPERATIONS = sorted({(method, document_path(path)) for method, path in query_parameters()})  # the probes twice


@pytest.fixture(scope="module")
def schema(demo_server: Served) -> Iterator[Any]:
    yield schemathesis.openapi.from_url(f"{demo_server.base}/v1/openapi.json")


@pytest.mark.parametrize("mode", [GenerationMode.POSITIVE, GenerationMode.NEGATIVE], ids=lambda m: m.value)
@pytest.mark.parametrize(("method", "path"), OPERATIONS, ids=[f"{m} {p}" for m, p in OPERATIONS])
def test_every_operation_keeps_to_the_document(
    schema: Any, demo_server: Served, method: str, path: str, mode: GenerationMode
) -> None:
    operation = schema[path][method]
    headers = {"Authorization": f"Bearer {demo_server.admin}"}

    @settings(max_examples=EXAMPLES, deadline=None, database=None, derandomize=True,
              suppress_health_check=list(HealthCheck))
    @given(case=operation.as_strategy(generation_mode=mode))
    def keeps_to_it(case: Any) -> None:
        # A case whose headers were made schema-violating (its Authorization among them)
        # goes as generated: it must be refused, not saved by the valid token.
        components = case.meta.components if case.meta else {}
        spoilt = any(where.value == "header" and info.mode is GenerationMode.NEGATIVE for where, info in components.items())
        case.call_and_validate(headers=None if spoilt else headers, excluded_checks=[positive_data_acceptance])

    try:
        keeps_to_it()
    except Unsatisfiable:
        if mode is GenerationMode.POSITIVE or operation.path_parameters or operation.query or operation.body:
            raise
        # an operation without parameters or body has no schema-violating request to send
