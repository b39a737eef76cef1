"""The Dutch government API Design Rules: `/v1/openapi.json` as served passes the ADR
ruleset for Spectral (tests/data/adr-linter.yaml) with no errors, and the document
names its contact and a semver version (the API-Version header's; test_access.py
checks the header and the security headers on every response).

Spectral is an npm package: `make test` installs it into .tools/ (pinned there)."""

from __future__ import annotations

import subprocess
from collections.abc import Callable
from pathlib import Path
from typing import NoReturn

import orjson

from tests.conftest import Api
from tests.procs_ledger import ROOT

SPECTRAL = ROOT / ".tools" / "node_modules" / ".bin" / "spectral"
RULESET = ROOT / "tests" / "data" / "adr-linter.yaml"
ERROR = 0  # Spectral's severities: 0 error, 1 warning, 2 info, 3 hint


async def test_the_openapi_document_passes_the_adr_ruleset(
    api: Api, tmp_path: Path, skip_for_want_of: Callable[[str, str], NoReturn]
) -> None:
    if not SPECTRAL.exists():
        skip_for_want_of("Spectral", f"no Spectral at {SPECTRAL}: `make test` installs it with npm")
    r = await api.client.get("/v1/openapi.json")
    document = tmp_path / "openapi.json"
    document.write_bytes(await r.read())
    out = subprocess.run(
        [str(SPECTRAL), "lint", "--ruleset", str(RULESET), "--format", "json", "--quiet", str(document)],
        capture_output=True, text=True, timeout=120,
    )
    assert out.returncode in (0, 1), out.stderr  # 1: it found errors, reported on stdout
    found = orjson.loads(out.stdout or "[]")
    errors = [f"{'.'.join(map(str, f['path']))}: {f['code']}: {f['message']}" for f in found if f["severity"] == ERROR]
    assert errors == []
    assert out.returncode == 0


async def test_the_document_names_its_contact_and_version(api: Api) -> None:
    r = await api.client.get("/v1/openapi.json")
    info = orjson.loads(await r.read())["info"]
    assert set(info["contact"]) == {"name", "email", "url"} and all(info["contact"].values())
    assert info["version"] == r.headers["API-Version"]
