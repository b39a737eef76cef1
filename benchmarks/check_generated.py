"""Check that the generator's events are all accepted by the real ledger, over HTTP.

    .venv/bin/python benchmarks/check_generated.py --db sqlite --municipalities 5
    .venv/bin/python benchmarks/check_generated.py --db postgres --municipalities 5

A fresh database and `ledger serve`; an admin posts the registrations; then each
gemeente and organisation posts its own month batches with its own token (role
gemeente or organisation), in the generated order. Any answer but 201 fails the check.
Afterwards: every reserve is at or above zero, every cost split adds up, the trial
balance balances, the hash chain is intact and the log holds every event.
"""

from __future__ import annotations

import argparse
import asyncio
import sys
from itertools import groupby
from typing import Any

import aiohttp
import orjson

import common
from generate import generate


async def check(base: str, admin: str, party_tokens: dict[str, str], events: list[dict[str, Any]], year: int) -> list[str]:
    problems: list[str] = []
    registrations, rest = common.split_registration(events)
    async with aiohttp.ClientSession(base_url=base) as s:

        async def post(token: str, batch: list[dict[str, Any]]) -> None:
            async with s.post("/v1/events", data=orjson.dumps({"events": batch}),
                              headers={"Authorization": f"Bearer {token}", "Content-Type": "application/json"}) as r:
                if r.status != 201:
                    problems.append(f"{batch[0]['party']} batch of {len(batch)}: {r.status} {await r.text()}")

        async def get(token: str, path: str, **params: Any) -> Any:
            async with s.get(path, params=params, headers={"Authorization": f"Bearer {token}"}) as r:
                body = await r.json(content_type=None)
                if r.status != 200:
                    problems.append(f"GET {path} {params}: {r.status} {body}")
                return body

        await post(admin, registrations)
        batches = 0
        for party, run in groupby(rest, key=lambda e: e["party"]):
            await post(party_tokens[party], list(run))
            batches += 1
        print(f"posted {len(events)} events: {len(registrations)} registrations, then {batches} month batches "
              "with the parties' own tokens", file=sys.stderr)
        kinds = {e["party"]: e["data"]["kind"] for e in registrations if e["type"] == "PartyRegistered"}
        for code in (e["party"] for e in registrations if e["type"] == "OrganisationRegistered"):
            body = await get(party_tokens[code], f"/v1/organisations/{code}/cost-split", year=year)
            if "shares" in body and sum(x["amountCents"] for x in body["shares"]) != body["totalCents"]:
                problems.append(f"{code}: shares do not add up to the total")
        for code in kinds:
            for r in (await get(party_tokens[code], "/v1/reserves", party=code, year=year)).get("results", []):
                if r["balanceCents"] < 0:
                    problems.append(f"{code}: reserve {r['reserve']} stands at {r['balanceCents']}")
            await get(party_tokens[code], "/v1/balances", party=code, year=year)
            await get(party_tokens[code], "/v1/kpis", party=code, year=year)
            await get(party_tokens[code], "/v1/winst", party=code, year=year)
        trial = await get(admin, "/v1/trial-balance")
        if trial.get("debitCents") != trial.get("creditCents"):
            problems.append(f"trial balance: {trial}")
        audit = await get(admin, "/v1/audit/verify")
        if not audit.get("intact") or audit.get("count") != len(events):
            problems.append(f"audit: {audit}, expected {len(events)} events")
    return problems


def main() -> int:
    p = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    p.add_argument("--db", choices=("sqlite", "postgres"), default="sqlite")
    p.add_argument("--municipalities", type=int, default=5)
    p.add_argument("--events-per-municipality", type=int, default=3000)
    p.add_argument("--year", type=int, default=2024)
    p.add_argument("--seed", type=int, default=1)
    args = p.parse_args()
    events = list(generate(args.municipalities, args.year, args.seed, args.events_per_municipality))
    registrations = [e for e in events if e["type"] in common.ADMIN_ONLY]
    with common.fresh_db(args.db, "check") as url:
        specs: list[tuple[str, str | None]] = [("admin", None)]
        specs += [("gemeente" if e["type"] == "PartyRegistered" else "organisation", e["party"]) for e in registrations]
        admin, *secrets = common.tokens(url, *specs)
        party_tokens = {party: secret for (_, party), secret in zip(specs[1:], secrets, strict=True)}
        with common.Server(url) as server:
            problems = asyncio.run(check(server.base, admin, party_tokens, events, args.year))
    for problem in problems:
        print(f"REFUSED OR WRONG: {problem[:3000]}")
    print(f"{args.db}: {len(events)} generated events for {args.municipalities} gemeenten: "
          f"{'all accepted, reads consistent' if not problems else f'{len(problems)} problems'}")
    return 1 if problems else 0


if __name__ == "__main__":
    sys.exit(main())
