"""The production topology as a file: docker-compose.yml, the Dockerfile and .dockerignore.

Three checks, from strongest to most specific:

- `docker compose config --quiet` (or `docker-compose config --quiet`) accepts the file.
  Only where such a command works; otherwise that one test is skipped, saying so loudly.
- The file follows the official Compose Specification JSON schema, vendored as
  tests/data/compose-spec.json (compose-spec/compose-spec, schema/compose-spec.json at
  commit b2835e8acc1e42e7aecbc27a9bc4a1fc66ef21ba; see tests/data/README.md). This runs
  everywhere, so a typo in a key or a wrong type fails here even without Docker.
- What the product needs of it: every service has a health check, the api and the
  projector wait for PostgreSQL to be healthy, its data is on a named volume, and both
  get LEDGER_DB from the environment, built from the same variables as PostgreSQL's own.

`load_compose` and `interpolate` are shared with tests/test_topology.py, which runs the
file's commands natively.
"""

from __future__ import annotations

import copy
import json
import re
import shutil
import subprocess
from pathlib import Path
from typing import Any

import jsonschema
import pytest
import yaml

ROOT = Path(__file__).resolve().parent.parent
COMPOSE = ROOT / "docker-compose.yml"
SCHEMA = Path(__file__).resolve().parent / "data" / "compose-spec.json"
LEDGER_SERVICES = ("api", "projector")

_VARIABLE = re.compile(r"\$(?:(?P<escaped>\$)|\{(?P<braced>[^}]*)\}|(?P<named>[A-Za-z_][A-Za-z0-9_]*))")
_BRACED = re.compile(r"^(?P<name>[A-Za-z_][A-Za-z0-9_]*)(?:(?P<op>:-|-)(?P<default>.*))?$", re.S)


def load_compose(path: Path = COMPOSE) -> dict[str, Any]:
    """docker-compose.yml as YAML gives it (merge keys resolved, nothing interpolated)."""
    return yaml.safe_load(path.read_text())


def interpolate(value: Any, env: dict[str, str]) -> Any:
    """The file as Compose reads it with the variables `env`: `$$`, `$VAR`, `${VAR}`,
    `${VAR:-default}` (unset or empty) and `${VAR-default}` (unset), in every string value.
    Anything else (`${VAR:?error}`, nesting) is refused rather than guessed."""
    if isinstance(value, dict):
        return {k: interpolate(v, env) for k, v in value.items()}
    if isinstance(value, list):
        return [interpolate(v, env) for v in value]
    if not isinstance(value, str):
        return value

    def substitute(m: re.Match[str]) -> str:
        if m["escaped"]:
            return "$"
        if m["named"]:
            return env.get(m["named"], "")
        braced = _BRACED.match(m["braced"])
        if braced is None or "$" in (braced["default"] or ""):
            raise ValueError(f"interpolation this test does not know: ${{{m['braced']}}}")
        name, op, default = braced["name"], braced["op"], braced["default"]
        if op == ":-":
            return env.get(name) or default
        if op == "-":
            return env.get(name, default)
        return env.get(name, "")

    return _VARIABLE.sub(substitute, value)


def _errors(document: Any) -> list[str]:
    schema = json.loads(SCHEMA.read_text())
    validator = jsonschema.validators.validator_for(schema)
    return sorted(
        f"/{'/'.join(map(str, e.absolute_path))}: {e.message}" for e in validator(schema).iter_errors(document)
    )


def _compose_command() -> list[str] | None:
    """`docker compose` or `docker-compose`, whichever answers `version` here."""
    for command in (["docker", "compose"], ["docker-compose"]):
        if shutil.which(command[0]) is None:
            continue
        try:
            answer = subprocess.run([*command, "version"], capture_output=True, text=True, timeout=30)
        except (OSError, subprocess.TimeoutExpired):
            continue
        if answer.returncode == 0:
            return command
    return None


# --- (a) Docker Compose itself --------------------------------------------------------


def test_docker_compose_config_accepts_the_file() -> None:
    command = _compose_command()
    if command is None:
        pytest.skip(
            "DOCKER COMPOSE IS NOT INSTALLED on this machine (neither `docker compose` nor `docker-compose` "
            "answers): `docker compose config` was NOT run. docker-compose.yml is checked against the "
            "vendored Compose Specification schema only (test_the_file_follows_the_compose_specification)."
        )
    answer = subprocess.run(
        [*command, "--file", str(COMPOSE), "config", "--quiet"], cwd=ROOT, capture_output=True, text=True, timeout=60
    )
    assert answer.returncode == 0, answer.stderr


# --- (b) the Compose Specification ----------------------------------------------------


def test_the_vendored_schema_is_the_compose_specification() -> None:
    schema = json.loads(SCHEMA.read_text())
    assert schema["title"] == "Compose Specification"
    jsonschema.validators.validator_for(schema).check_schema(schema)


def test_the_file_follows_the_compose_specification() -> None:
    compose = load_compose()
    assert "version" not in compose, "the `version:` key is obsolete in the Compose Specification"
    assert "name" not in compose, "docker-compose 1.29, as Debian 12 packages it, refuses a top-level `name:`"
    assert _errors(compose) == []
    # As Compose validates it: interpolated, with the defaults and with everything set.
    assert _errors(interpolate(compose, {})) == []
    everything = {"POSTGRES_USER": "u", "POSTGRES_PASSWORD": "p", "POSTGRES_DB": "d", "LEDGER_PORT": "9000",
                  "LEDGER_WORKERS": "4", "LEDGER_MAX_LAG": "50", "LEDGER_IMAGE_TAG": "1.0"}
    assert _errors(interpolate(compose, everything)) == []


@pytest.mark.parametrize(
    "mistake",
    [
        lambda c: c["services"]["api"].update(healthchek=c["services"]["api"].pop("healthcheck")),
        lambda c: c["services"]["projector"]["depends_on"]["postgres"].update(condition="service_healty"),
        lambda c: c["services"]["postgres"]["healthcheck"].update(interval=5),
        lambda c: c["services"]["api"].update(command={"serve": True}),
        lambda c: c.update(volume=c.pop("volumes")),
    ],
    ids=["misspelt key", "unknown condition", "number for a duration", "command as a mapping", "misspelt top level"],
)
def test_the_schema_check_catches_a_broken_file(mistake: Any) -> None:
    compose = copy.deepcopy(load_compose())
    mistake(compose)
    assert _errors(compose), "the vendored schema let a broken compose file through"


# --- (c) what the product needs of it -------------------------------------------------


def test_every_service_has_a_health_check() -> None:
    services = load_compose()["services"]
    assert set(services) == {"postgres", *LEDGER_SERVICES}
    for name, service in services.items():
        check = service.get("healthcheck")
        assert check and check.get("test") and not check.get("disable"), f"{name} has no health check"
        assert check["test"][0] in ("CMD", "CMD-SHELL"), f"{name}: a health check in exec form"
    assert "pg_isready" in services["postgres"]["healthcheck"]["test"][1]
    api_check = " ".join(services["api"]["healthcheck"]["test"])
    assert "http://127.0.0.1:8080/readyz" in api_check and "urllib" in api_check  # no curl in a slim image
    assert services["projector"]["healthcheck"]["test"][1:3] == ["ledger", "status"]


def test_the_api_and_the_projector_wait_for_a_healthy_postgres() -> None:
    services = load_compose()["services"]
    for name in LEDGER_SERVICES:
        assert services[name]["depends_on"]["postgres"]["condition"] == "service_healthy", name
        assert services[name]["restart"] == "unless-stopped", name
    assert "depends_on" not in services["postgres"]


def test_postgres_keeps_its_data_on_a_named_volume() -> None:
    compose = load_compose()
    mounts = [m.split(":") if isinstance(m, str) else [m["source"], m["target"]]
              for m in compose["services"]["postgres"]["volumes"]]
    data = [source for source, target, *_ in mounts if target == "/var/lib/postgresql/data"]
    assert data and data[0] in compose.get("volumes", {}), "PostgreSQL's data is not on a named volume"
    assert compose["services"]["postgres"]["image"] == "postgres:15"


def test_the_ledger_gets_its_database_from_the_environment() -> None:
    compose = load_compose()
    for env in ({}, {"POSTGRES_USER": "gemeente", "POSTGRES_PASSWORD": "geheim", "POSTGRES_DB": "boeken"}):
        services = interpolate(compose, env)["services"]
        pg = services["postgres"]["environment"]
        expected = f"postgresql://{pg['POSTGRES_USER']}:{pg['POSTGRES_PASSWORD']}@postgres:5432/{pg['POSTGRES_DB']}"
        for name in LEDGER_SERVICES:
            assert services[name]["environment"]["LEDGER_DB"] == expected, name
        if env:
            assert (pg["POSTGRES_USER"], pg["POSTGRES_PASSWORD"], pg["POSTGRES_DB"]) == ("gemeente", "geheim", "boeken")
    raw = compose["services"]
    for variable in ("POSTGRES_USER", "POSTGRES_PASSWORD", "POSTGRES_DB"):
        assert raw["postgres"]["environment"][variable].startswith("${" + variable + ":-")


def test_one_image_runs_the_api_without_projections_and_the_projector() -> None:
    services = interpolate(load_compose(), {})["services"]
    api, projector = services["api"], services["projector"]
    assert api["build"] == projector["build"] == "." and api["image"] == projector["image"]
    assert api["command"] == ["ledger", "serve", "--host", "0.0.0.0", "--port", "8080", "--workers", "2",
                              "--external-projector"]
    assert projector["command"] == ["ledger", "project"]
    assert api["ports"] == ["8080:8080"] and "ports" not in projector
    assert interpolate(load_compose(), {"LEDGER_WORKERS": "4", "LEDGER_PORT": "9000"})["services"]["api"]["ports"] == ["9000:8080"]


def test_the_dockerfile_builds_a_non_root_image_from_the_source() -> None:
    lines = [line.strip() for line in (ROOT / "Dockerfile").read_text().splitlines()
             if line.strip() and not line.lstrip().startswith("#")]
    assert lines[0] == "FROM python:3.11-slim"
    copied = [line.split()[-1].rstrip("/") for line in lines if line.startswith("COPY ")]
    assert {"/src", "/src/ledger", "/src/projections", "/src/api"} <= set(copied)
    assert any(re.match(r"RUN pip install /src( |$)", line) for line in lines), "installed from the source, not editable"
    users = [line.split()[1] for line in lines if line.startswith("USER ")]
    assert users and users[-1] not in ("root", "0"), "the image must not run as root"
    assert "EXPOSE 8080" in lines
    assert not any(line.startswith("ENTRYPOINT") for line in lines), "compose's `command: [ledger, ...]` is the whole command"


def test_the_build_context_leaves_out_local_state() -> None:
    ignored = {line.strip() for line in (ROOT / ".dockerignore").read_text().splitlines()
               if line.strip() and not line.startswith("#")}
    assert {".venv", ".git", "*.db", "**/__pycache__", ".pytest_cache", "benchmarks/results*", "**/*.ndjson"} <= ignored
