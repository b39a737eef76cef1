"""A client generated from the served OpenAPI document works (issue 20).

`openapi-python-client` (pinned in the `test` extra) generates a client from
`/v1/openapi.json` as a real `ledger serve` holding the demo serves it. The generator
must drop no schema (the event schemas are one closed object per type, joined by a
`oneOf` with a discriminator on `type`: see api/openapi.py); its only warnings may be
for the request body's spreadsheet content types, which it cannot model. Then the
generated package is imported and, through its functions and models alone, a gemeente
posts a batch, reads the event back and its balance, gets a refusal as the generated
problem model, and the probes answer where the document names them (under /v1).
"""

from __future__ import annotations

import datetime
import importlib
import importlib.util
import os
import subprocess
import sys
import urllib.request
import uuid
from collections.abc import Callable, Iterator
from pathlib import Path
from types import ModuleType
from typing import Any, NoReturn

import pytest

from tests.conftest import Served
from tests.procs_ledger import token

PACKAGE = "participatie_ledger_client"
GENERATOR = "openapi-python-client"
# What the generator may warn about: the request body's spreadsheet types, which it has no
# model for (the JSON body, the one a generated client sends, is generated in full).
ALLOWED_WARNINGS = {
    "WARNING parsing POST /events within events.",
    "Unsupported content type text/csv",
    "Unsupported content type application/vnd.openxmlformats-officedocument.spreadsheetml.sheet",
    # and, without ruff on PATH, that its output goes unformatted
    "Skipping Integration",
    "ruff is not in PATH",
}
YEAR = 2031  # a year the demo has no figures in


def _warnings(output: str) -> list[str]:
    """The generator's own lines: what it printed less the schemas it quotes (indented
    JSON), its banner and its closing advice."""
    ignored = ("Generating ", "Warning(s) encountered while generating", "If you believe this was a mistake")
    return [line for line in output.splitlines()
            if line.strip() and not line.startswith((" ", "{", "}", "]")) and not line.startswith(ignored)]


@pytest.fixture(scope="module")
def generated(demo_server: Served, tmp_path_factory: pytest.TempPathFactory) -> Iterator[tuple[ModuleType, str]]:
    """The client package generated from the served document, imported; and the
    generator's output."""
    if importlib.util.find_spec("openapi_python_client") is None:
        yield None, ""  # type: ignore[misc]  # the test skips loudly (it has the fixture for that)
        return
    folder = tmp_path_factory.mktemp("generated")
    document = folder / "openapi.json"
    with urllib.request.urlopen(f"{demo_server.base}/v1/openapi.json") as r:
        document.write_bytes(r.read())
    # The generator formats its output with ruff (a dependency of it) when ruff is on PATH.
    bin_dir = str(Path(sys.executable).parent)
    out = subprocess.run(
        [sys.executable, "-m", "openapi_python_client", "generate", "--path", str(document),
         "--output-path", str(folder / PACKAGE), "--meta", "none"],
        capture_output=True, text=True, timeout=300, cwd=folder,
        env={**os.environ, "PATH": bin_dir + os.pathsep + os.environ.get("PATH", "")},
    )
    output = out.stdout + out.stderr
    assert out.returncode == 0, output
    sys.path.insert(0, str(folder))
    try:
        yield importlib.import_module(PACKAGE), output
    finally:
        sys.path.remove(str(folder))
        for name in [n for n in sys.modules if n == PACKAGE or n.startswith(PACKAGE + ".")]:
            del sys.modules[name]


@pytest.fixture
def client(
    generated: tuple[ModuleType | None, str], skip_for_want_of: Callable[[str, str], NoReturn]
) -> tuple[ModuleType, str]:
    """The generated package and the generator's output, or a loud skip without the generator."""
    package, output = generated
    if package is None:
        skip_for_want_of(GENERATOR, f"no {GENERATOR} in this Python: `make test` installs it (the test extra)")
    return package, output


def _module(package: ModuleType, name: str) -> Any:
    return importlib.import_module(f"{package.__name__}.{name}")


def test_a_generated_client_posts_reads_and_is_refused(client: tuple[ModuleType, str], demo_server: Served) -> None:
    client_package, output = client
    # Every schema generated: no "Unable to process schema ..., resulted in the removal of ...".
    assert set(_warnings(output)) <= ALLOWED_WARNINGS, output

    models = _module(client_package, "models")
    post_events = _module(client_package, "api.events.post_events")
    get_event = _module(client_package, "api.events.get_event")
    list_balances = _module(client_package, "api.balances.list_balances")
    healthz = _module(client_package, "api.service.healthz")
    readyz = _module(client_package, "api.service.readyz")
    client = _module(client_package, "client")

    gemeente = client.AuthenticatedClient(base_url=f"{demo_server.base}/v1",
                                          token=token(demo_server.db, "gemeente", "GM0439"))
    allocated = models.BudgetAllocated(
        id=uuid.uuid4(), type_=models.BudgetAllocatedType.BUDGETALLOCATED, party="GM0439",
        effective_date=datetime.date(YEAR, 1, 1),
        data=models.BudgetAllocatedData(budget="participatiebudget", source="rijk", amount_cents=1_000_000),
    )
    booked = models.CostBooked(
        id=uuid.uuid4(), type_=models.CostBookedType.COSTBOOKED, party="GM0439",
        effective_date=datetime.date(YEAR, 3, 31), reference="factuur 2031-17",
        data=models.CostBookedData(budget="participatiebudget", category="begeleiding", amount_cents=250_000),
    )
    batch = models.EventBatch(events=[allocated, booked])

    response = post_events.sync_detailed(client=gemeente, body=batch)
    assert response.status_code == 201, response.content
    accepted = response.parsed
    assert isinstance(accepted, models.AcceptedEvents)
    assert [e.id for e in accepted.events] == [allocated.id, booked.id]
    assert accepted.events[1].position > accepted.events[0].position

    # Posting it again: the original result (200), as the generated model too.
    again = post_events.sync_detailed(client=gemeente, body=batch)
    assert again.status_code == 200 and isinstance(again.parsed, models.AcceptedEvents)

    # The stored event, parsed as the stored event of its type.
    logged = get_event.sync(client=gemeente, id=booked.id)
    assert isinstance(logged, models.LoggedCostBooked), logged
    assert (logged.type_, logged.data.amount_cents, logged.reference) == ("CostBooked", 250_000, "factuur 2031-17")
    assert logged.position == accepted.events[1].position and len(logged.chain_hash) == 64

    page = list_balances.sync(client=gemeente, party="GM0439", year=YEAR)
    assert page is not None and page.count >= 1, page
    line = next(b for b in page.results if b.budget == "participatiebudget" and b.sub_budget is None)
    assert isinstance(line, models.Balance)
    assert (line.allocated_cents, line.spent_cents, line.available_cents) == (1_000_000, 250_000, 750_000)
    assert isinstance(line.status, models.BalanceStatus)

    # Refusals, as the generated problem model: a schema-violating event (400, naming the
    # field) and another party's (403).
    bad = models.CostBooked(
        id=uuid.uuid4(), type_=models.CostBookedType.COSTBOOKED, party="GM0439",
        effective_date=datetime.date(YEAR, 4, 1),
        data=models.CostBookedData(budget="participatiebudget", category="begeleiding", amount_cents=0),
    )
    refused = post_events.sync_detailed(client=gemeente, body=models.EventBatch(events=[bad]))
    problem = refused.parsed
    assert refused.status_code == 400 and isinstance(problem, models.Problem), refused.content
    assert problem.status == 400 and problem.title and problem.detail
    assert any(p.name and "amountCents" in p.name and p.index == 0 for p in problem.invalid_params), problem
    other = models.CostBooked(
        id=uuid.uuid4(), type_=models.CostBookedType.COSTBOOKED, party="GM0200",
        effective_date=datetime.date(YEAR, 4, 1),
        data=models.CostBookedData(budget="participatiebudget", category="begeleiding", amount_cents=100),
    )
    forbidden = post_events.sync_detailed(client=gemeente, body=other)
    assert forbidden.status_code == 403 and isinstance(forbidden.parsed, models.Problem), forbidden.content
    assert forbidden.parsed.type_.startswith("urn:participatie-ledger:problem:")


def test_the_generated_probes_reach_the_routes(client: tuple[ModuleType, str], demo_server: Served) -> None:
    client_package, _ = client
    models = _module(client_package, "models")
    healthz = _module(client_package, "api.service.healthz")
    readyz = _module(client_package, "api.service.readyz")
    # The client every other call goes through, without a token.
    anonymous = _module(client_package, "client").Client(base_url=f"{demo_server.base}/v1")
    alive = healthz.sync_detailed(client=anonymous)
    assert alive.status_code == 200 and alive.parsed == models.Health.from_dict({"status": "ok"}), alive.content
    ready = readyz.sync_detailed(client=anonymous)
    assert ready.status_code == 200 and isinstance(ready.parsed, models.Health), ready.content
