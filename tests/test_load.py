"""A bounded load test of the production topology on loopback (issue "Production").

What it does, against a fresh PostgreSQL database:
- starts `ledger serve --workers 2 --external-projector` and `ledger project` as
  processes (tests/procs_ledger.py), makes tokens with `ledger token create`, and has
  the admin register 20 gemeenten with allocations for 2019-2024 (2019 then closed)
  and one reserve per client;
- runs 64 clients for LEDGER_LOAD_SECONDS (default 60), each with its own session
  (keep-alive), looping over a random choice of: a batch of 10-500 valid events (sizes
  log-uniform), a single valid event, an exact retry of an earlier accepted request,
  events accepted before sent again beside new ones, one new batch sent twice at once
  over two new connections (so often to both workers), a batch with one malformed
  event, a batch with one event that breaks a rule (reserve below zero, a closed year,
  a charging rule, an unknown budget), a batch reusing an accepted id with other
  content, a batch with an event for another party, and reads (balances, reserves, the
  log paged and as NDJSON, an event just posted read through a new connection, another
  party's balances, /healthz);
- every answer must have the status the test expects for what it sent (and the body:
  201 lists the batch's ids in order with rising positions; a retry answers 200 with
  the first answer; a race answers one 201 and one 200, alike; 400/403/409/422 name
  exactly the bad event's index); no 5xx and no connection error at all (a POST without
  an answer or with a 5xx is sent again with the same bytes, only so that the test's
  books stay exact while the failure is reported);
- the log (GET /v1/events paged with `after`) holds exactly the events acknowledged
  with 201/200, at the positions acknowledged, each position once, recordedAt never
  going back; the hash chain verifies;
- every party's balances, reserves and trial balance equal what the test computes
  from the events it had accepted; they are byte-identical after `ledger rebuild`
  (run with the projector stopped) and after the projector is started again.

Each client posts for one gemeente (three or four clients per gemeente, so both
workers write to the same books at once) and owns one reserve there: the reserve's balance
is known exactly to its client, so whether a withdrawal is allowed is known before it
is sent. Budgets stay `richtinggevend`, so costs are refused only by the rules above.

Run alone: `.venv/bin/python -m pytest tests/test_load.py -s` (LEDGER_LOAD_SECONDS=10
for a quick run). PostgreSQL only; where it is unreachable the test is skipped and
the session ends with conftest's loud notice.
"""

from __future__ import annotations

import asyncio
import calendar
import math
import os
import random
import re
import time
import uuid
from collections import Counter, defaultdict
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import aiohttp
import orjson

from tests.procs_ledger import Proc, cli_async, free_port, token, token_async, wait_ready

SECONDS = float(os.environ.get("LEDGER_LOAD_SECONDS", "60"))
CLIENTS = 64
PARTIES = [f"GM9{n:03d}" for n in range(1, 21)]
CLOSED = 2019
YEARS = tuple(range(2020, 2025))
TIMEOUT = aiohttp.ClientTimeout(total=90, connect=30)
# budget -> cost categories the charging rules allow on it (domain.md section 4)
CATEGORIES = {
    "participatiebudget": ("begeleiding", "jobcoach", "scholing", "uitvoering", "wsw-loonkosten"),
    "inkomensdeel": ("uitkering", "loonkostensubsidie", "uitvoering"),
    "algemene-middelen": ("tegenprestatie", "uitvoering"),
    "wmo": ("dagbesteding", "vrijwilligerswerk"),
}
BUDGETS = tuple(CATEGORIES)
SUBS = {"participatiebudget": (None, None, "wsw", "nieuwe-doelgroepen")}
OPENING = 50_000_000  # each client's reserve, in cents
MONTH_ENDS = {y: [f"{y}-{m:02d}-{calendar.monthrange(y, m)[1]:02d}" for m in range(1, 13)] for y in (CLOSED, *YEARS)}

# what a client does each round, and how often (weights)
ACTIONS = {
    "batch": 30,
    "single": 18,
    "retry": 8,
    "partial-retry": 4,
    "race": 4,
    "malformed": 8,
    "rule": 10,
    "reuse": 5,
    "wrong-party": 5,
    "read": 14,
}

Line = tuple[int, str, str | None]  # year, budget, sub-budget


def new_id() -> str:
    return str(uuid.uuid4())


# --- what the test itself computes from the events it had accepted -----------------


def line_effects(e: dict[str, Any]) -> list[tuple[Line, int, int, int, int]]:
    """(line, allocated, income, spent, reserve income) moved by one of the events this test sends."""
    d, year = e["data"], int(e["effectiveDate"][:4])
    kind = e["type"]
    if kind == "BudgetAllocated":
        return [((year, d["budget"], d.get("subBudget")), d["amountCents"], 0, 0, 0)]
    if kind == "IncomeBooked":
        return [((year, d["budget"], d.get("subBudget")), 0, d["amountCents"], 0, 0)]
    if kind == "CostBooked":
        return [((year, d["budget"], d.get("subBudget")), 0, 0, d["amountCents"], 0)]
    if kind == "ReserveAdded":
        return [((year, d["budget"], d.get("subBudget")), 0, 0, d["amountCents"], 0)]
    if kind == "ReserveWithdrawn":
        return [((year, d["budget"], d.get("subBudget")), 0, d["amountCents"], 0, d["amountCents"])]
    return []


def reserve_move(e: dict[str, Any]) -> tuple[str, str, int, int] | None:
    """(reserve, date, added, withdrawn) for a reserve event."""
    d = e["data"]
    if e["type"] == "ReserveEstablished":
        return d["reserve"], e["effectiveDate"], d["openingBalanceCents"], 0
    if e["type"] == "ReserveAdded":
        return d["reserve"], e["effectiveDate"], d["amountCents"], 0
    if e["type"] == "ReserveWithdrawn":
        return d["reserve"], e["effectiveDate"], 0, d["amountCents"]
    return None


def withdrawable(moves: dict[str, int], date: str) -> int:
    """The most that may leave a reserve on `date`: its lowest balance on that day or
    any later day it moves (a reserve never goes below zero, domain.md section 5)."""
    balance, low = 0, None
    for day in sorted(moves.keys() | {date}):
        balance += moves.get(day, 0)
        if day >= date:
            low = balance if low is None else min(low, balance)
    assert low is not None
    return low


@dataclass
class Books:
    """The figures every accepted event adds up to, per party, as the test keeps them."""

    lines: dict[str, dict[Line, list[int]]] = field(default_factory=lambda: defaultdict(dict))
    reserves: dict[tuple[str, str], dict[str, Any]] = field(default_factory=dict)
    # per party and line, each allocation's id and whether it is voorlopig (the latest by
    # log position gives the line's status)
    allocations: dict[str, dict[Line, list[tuple[str, bool]]]] = field(default_factory=lambda: defaultdict(dict))

    def apply(self, events: list[dict[str, Any]]) -> None:
        for e in events:
            party = e["party"]
            for line, allocated, income, spent, from_reserve in line_effects(e):
                values = self.lines[party].setdefault(line, [0, 0, 0, 0])
                values[0] += allocated
                values[1] += income
                values[2] += spent
                values[3] += from_reserve
                if e["type"] == "BudgetAllocated":
                    voorlopig = e["data"].get("status") == "voorlopig"
                    self.allocations[party].setdefault(line, []).append((e["id"], voorlopig))
            move = reserve_move(e)
            if move is not None:
                reserve, date, added, withdrawn = move
                r = self.reserves.setdefault(
                    (party, reserve), {"purpose": e["data"].get("purpose"), "added": 0, "withdrawn": 0}
                )
                r["added"] += added
                r["withdrawn"] += withdrawn

    def balances(self, party: str, positions: dict[str, int]) -> dict[Line, dict[str, Any]]:
        """The party's balance rows; a line's status is that of its allocation with the
        highest log position (`positions`: event id to position, as the answers gave them)."""
        rows: dict[Line, dict[str, Any]] = {}
        totals: dict[tuple[int, str], list[Any]] = {}
        for line, values in self.lines[party].items():
            year, budget, sub = line
            allocations = self.allocations[party].get(line, [])
            voorlopig = max(allocations, key=lambda a: positions[a[0]])[1] if allocations else False
            total = totals.setdefault((year, budget), [0, 0, 0, 0, False])  # a total is voorlopig if a line is
            for i, v in enumerate(values):
                total[i] += v
            total[4] = total[4] or voorlopig
            if sub is not None:
                rows[line] = _row(party, year, budget, sub, *values, voorlopig)
        for (year, budget), (allocated, income, spent, from_reserve, voorlopig) in totals.items():
            rows[(year, budget, None)] = _row(party, year, budget, None, allocated, income, spent, from_reserve, voorlopig)
        return rows

    def reserve_rows(self, party: str) -> list[dict[str, Any]]:
        return [
            {"party": party, "reserve": reserve, "purpose": r["purpose"], "revolving": False,
             "balanceCents": r["added"] - r["withdrawn"], "addedCents": r["added"], "withdrawnCents": r["withdrawn"],
             "refluxCents": 0}
            for (p, reserve), r in sorted(self.reserves.items())
            if p == party
        ]

    def accounts(self, party: str) -> dict[str, int]:
        """Each journal account's balance (debit - credit) for the party: a budget line's
        is minus its saldo, a reserve's minus its balance, `middelen` holds the rest."""
        out: dict[str, int] = {}
        means = 0
        for (year, budget, sub), (allocated, income, spent, _) in self.lines[party].items():
            saldo = allocated + income - spent
            out[f"budget/{year}/{budget}" + (f"/{sub}" if sub else "")] = -saldo
            means += saldo
        for (p, reserve), r in self.reserves.items():
            if p == party:
                out[f"reserve/{reserve}"] = -(r["added"] - r["withdrawn"])
                means += r["added"] - r["withdrawn"]
        out["middelen"] = means
        return out


def _row(party: str, year: int, budget: str, sub: str | None, allocated: int, income: int, spent: int,
         from_reserve: int, voorlopig: bool) -> dict[str, Any]:
    saldo = allocated + income - spent
    return {
        "party": party, "year": year, "budget": budget, "subBudget": sub, "allocatedCents": allocated,
        "incomeCents": income, "spentCents": spent, "committedCents": 0, "availableCents": saldo,
        "saldoCents": saldo, "primitiveCents": allocated, "amendmentsCents": 0,
        "structuralSaldoCents": saldo - from_reserve, "status": "voorlopig" if voorlopig else "definitief",
    }


# --- the run's record ----------------------------------------------------------------


@dataclass
class Answer:
    client: int
    action: str
    method: str
    path: str
    status: int | None  # None: no answer (connection error, timeout)
    seconds: float
    events: int
    error: str | None = None


@dataclass
class Run:
    base: str
    books: Books = field(default_factory=Books)
    acked: dict[str, int] = field(default_factory=dict)  # event id -> position, from 201/200 answers
    positions: dict[int, str] = field(default_factory=dict)  # position -> event id
    answers: list[Answer] = field(default_factory=list)
    problems: list[str] = field(default_factory=list)  # every unexpected thing, with its request
    accepted_in_load: int = 0

    def problem(self, text: str) -> None:
        if len(self.problems) < 10_000:
            self.problems.append(text)

    def acknowledge(self, events: list[dict[str, Any]], body: Any, where: str, rising: bool = True) -> bool:
        """Record a 201/200 answer's positions for the events sent; False if it is not
        the answer api.md promises (every id, in order, positions rising unless the
        batch repeats events accepted before)."""
        try:
            results = body["events"]
            ids = [r["id"] for r in results]
            positions = [r["position"] for r in results]
            stamps = [r["recordedAt"] for r in results]
            assert all(isinstance(r["chainHash"], str) and len(r["chainHash"]) == 64 for r in results)
        except (KeyError, TypeError, AssertionError):
            self.problem(f"{where}: answer is not {{events: [{{id, position, recordedAt, chainHash}}]}}: {str(body)[:300]}")
            return False
        if ids != [e["id"] for e in events]:
            self.problem(f"{where}: answered ids {ids[:3]}... are not the ids sent, in order")
            return False
        if rising and (any(b <= a for a, b in zip(positions, positions[1:])) or any(b < a for a, b in zip(stamps, stamps[1:]))):
            self.problem(f"{where}: positions or recordedAt not rising within the batch: {positions[:5]}...")
        for event_id, position in zip(ids, positions):
            known = self.acked.get(event_id)
            if known is not None and known != position:
                self.problem(f"{where}: {event_id} answered at position {position}, earlier at {known}")
            holder = self.positions.get(position)
            if holder is not None and holder != event_id:
                self.problem(f"{where}: position {position} answered for {event_id} and for {holder}")
            self.acked[event_id] = position
            self.positions[position] = event_id
        return True


# --- one client --------------------------------------------------------------------


@dataclass
class Sent:
    """An accepted request, kept for exact retries: the bytes sent and the first answer."""

    body: bytes
    answer: Any
    events: int


class Client:
    def __init__(self, number: int, token: str, run: Run, rng: random.Random):
        self.number = number
        self.party = PARTIES[number % len(PARTIES)]
        self.other = PARTIES[(number + 1) % len(PARTIES)]
        self.reserve = f"load-c{number:02d}"
        self.token = token
        self.headers = {"Authorization": f"Bearer {token}", "Content-Type": "application/json"}
        self.run = run
        self.rng = rng
        self.moves: dict[str, int] = {f"{CLOSED}-01-01": OPENING}  # the reserve by effective date
        self.sent: list[Sent] = []  # a few accepted requests, for exact retries
        self.accepted: list[tuple[dict[str, Any], dict[str, Any]]] = []  # a few accepted events and their answers
        self.last_accepted: tuple[str, int] | None = None  # (id, position), for read-your-writes
        self.session: aiohttp.ClientSession | None = None
        self.rounds = 0

    def establish(self) -> dict[str, Any]:
        return {"id": new_id(), "type": "ReserveEstablished", "party": self.party, "effectiveDate": f"{CLOSED}-01-01",
                "data": {"reserve": self.reserve, "openingBalanceCents": OPENING, "purpose": f"load client {self.number}"}}

    # --- events ---------------------------------------------------------------------

    def _date(self) -> str:
        return self.rng.choice(MONTH_ENDS[self.rng.choice(YEARS)])

    def _amount(self) -> int:
        return self.rng.randint(1, 1_000_000)

    def _event(self, kind: str, date: str, data: dict[str, Any], party: str | None = None) -> dict[str, Any]:
        e = {"id": new_id(), "type": kind, "party": party or self.party, "effectiveDate": date, "data": data}
        if self.rng.random() < 0.3:
            e["reference"] = f"load c{self.number} r{self.rounds}"
        return e

    def _budget_line(self) -> tuple[str, str | None]:
        budget = self.rng.choice(BUDGETS)
        return budget, self.rng.choice(SUBS.get(budget, (None,)))

    def valid(self, moves: dict[str, int], party: str | None = None) -> dict[str, Any]:
        """One event the ledger must accept, given the reserve as `moves` (updated)."""
        roll = self.rng.random()
        date = self._date()
        budget, sub = self._budget_line()
        line = {"budget": budget, **({"subBudget": sub} if sub else {})}
        if roll < 0.45 or party is not None:
            data = {**line, "category": self.rng.choice(CATEGORIES[budget]), "amountCents": self._amount()}
            return self._event("CostBooked", date, data, party)
        if roll < 0.58:
            return self._event("IncomeBooked", date, {**line, "source": "algemene-middelen", "amountCents": self._amount()}, party)
        if roll < 0.68:
            data = {**line, "source": "rijk", "amountCents": self._amount(), "status": self.rng.choice(("voorlopig", "definitief"))}
            return self._event("BudgetAllocated", date, data, party)
        if roll < 0.82:
            amount = self._amount()
            moves[date] = moves.get(date, 0) + amount
            return self._event("ReserveAdded", date, {"reserve": self.reserve, **line, "amountCents": amount})
        room = withdrawable(moves, date)
        if room <= 0:
            amount = self._amount()
            moves[date] = moves.get(date, 0) + amount
            return self._event("ReserveAdded", date, {"reserve": self.reserve, **line, "amountCents": amount})
        amount = self.rng.randint(1, min(room, 2_000_000))
        moves[date] = moves.get(date, 0) - amount
        return self._event("ReserveWithdrawn", date, {"reserve": self.reserve, **line, "amountCents": amount})

    def batch_size(self) -> int:
        return int(round(10 * 50 ** self.rng.random()))  # 10..500, log-uniform

    def valid_batch(self, size: int) -> tuple[list[dict[str, Any]], dict[str, int]]:
        moves = dict(self.moves)
        return [self.valid(moves) for _ in range(size)], moves

    def breaking(self, moves: dict[str, int]) -> tuple[dict[str, Any], str]:
        """One event that breaks a rule, and the rule's code."""
        roll = self.rng.random()
        if roll < 0.4:
            date = self._date()
            budget, _ = self._budget_line()
            amount = withdrawable(moves, date) + self.rng.randint(1, 1_000_000)
            return self._event("ReserveWithdrawn", date, {"reserve": self.reserve, "budget": budget, "amountCents": amount}), "reserve-below-zero"
        if roll < 0.65:
            budget, _ = self._budget_line()
            data = {"budget": budget, "category": self.rng.choice(CATEGORIES[budget]), "amountCents": self._amount()}
            return self._event("CostBooked", self.rng.choice(MONTH_ENDS[CLOSED]), data), "year-closed"
        if roll < 0.85:
            budget, category = self.rng.choice(
                [("participatiebudget", "tegenprestatie"), ("wmo", "uitkering"), ("inkomensdeel", "begeleiding"),
                 ("participatiebudget", "dagbesteding")]
            )
            data = {"budget": budget, "category": category, "amountCents": self._amount()}
            return self._event("CostBooked", self._date(), data), "charging-rule"
        data = {"budget": "participatiebudget", "category": "begeleiding", "amountCents": self._amount()}
        return self._event("CostBooked", f"2031-{self.rng.randint(1, 12):02d}-28", data), "unknown-budget"

    def malformed(self, e: dict[str, Any]) -> tuple[dict[str, Any], str]:
        """`e` broken in one of several ways; the field api.md's 400 should name."""
        e = orjson.loads(orjson.dumps(e))
        roll = self.rng.randrange(6)
        if roll == 0:
            e["data"]["amountCents"] = e["data"]["amountCents"] + 0.5
            return e, "data.amountCents"
        if roll == 1:
            e["data"]["amountCents"] = str(e["data"]["amountCents"])
            return e, "data.amountCents"
        if roll == 2:
            del e["data"]["amountCents"]
            return e, "data.amountCents"
        if roll == 3:
            e["effectiveDate"] = "2021-02-30"
            return e, "effectiveDate"
        if roll == 4:
            e["type"] = "CostBook"
            return e, "type"
        e["id"] = f"not-a-uuid-{self.rounds}"
        return e, "id"

    # --- requests -------------------------------------------------------------------

    async def request(self, action: str, method: str, path: str, body: bytes | None = None, events: int = 0,
                      session: aiohttp.ClientSession | None = None, headers: dict[str, str] | None = None) -> tuple[int | None, Any]:
        """One request; on no answer or a 5xx, recorded as such (the caller may retry)."""
        session = session or self.session
        assert session is not None
        started = time.monotonic()
        try:
            async with session.request(method, self.run.base + path, data=body, headers=headers or self.headers) as r:
                raw = await r.read()
                status, content_type = r.status, r.headers.get("Content-Type", "")
        except (aiohttp.ClientError, TimeoutError, OSError) as e:
            seconds = time.monotonic() - started
            self.run.answers.append(Answer(self.number, action, method, path, None, seconds, events, repr(e)))
            self.run.problem(f"client {self.number} {action} {method} {path} ({events} events): no answer after {seconds:.1f} s: {e!r}")
            return None, None
        self.run.answers.append(Answer(self.number, action, method, path, status, time.monotonic() - started, events))
        try:
            parsed = orjson.loads(raw) if raw else None
        except orjson.JSONDecodeError:
            parsed = raw[:300]
        if status >= 500:
            self.run.problem(f"client {self.number} {action} {method} {path} ({events} events): {status} {str(parsed)[:500]}")
        elif status >= 400 and not content_type.startswith("application/problem+json"):
            self.run.problem(f"client {self.number} {action} {method} {path}: {status} as {content_type!r}, not problem+json")
        return status, parsed

    async def post(self, action: str, body: bytes, events: int) -> tuple[int | None, Any, bool]:
        """POST /v1/events; with no answer or a 5xx, the same bytes again (as a client
        would: the id makes it safe), so the outcome is known and the books stay exact.
        The flag says whether it had to be sent again."""
        status, answer = await self.request(action, "POST", "/v1/events", body, events)
        resent = False
        for attempt in range(5):
            if status is not None and status < 500:
                break
            await asyncio.sleep(1 + attempt)
            resent = True
            status, answer = await self.request(action + "-resent", "POST", "/v1/events", body, events)
        return status, answer, resent

    def expect(self, action: str, status: int | None, expected: int, answer: Any, what: str) -> bool:
        if status == expected:
            return True
        if status is not None and status < 500:  # 5xx and no answer are recorded already
            self.run.problem(f"client {self.number} {action} ({what}): {status}, expected {expected}: {str(answer)[:500]}")
        return False

    def commit(self, events: list[dict[str, Any]], moves: dict[str, int], body: bytes, answer: Any, where: str,
               old: int = 0) -> None:
        """Take an accepted batch into the books; the first `old` events of `events`
        were accepted before (a partial retry), so they are not counted again."""
        if not self.run.acknowledge(events, answer, where, rising=old == 0):
            return
        self.run.books.apply(events[old:])
        self.run.accepted_in_load += len(events) - old
        self.moves = moves
        sent = Sent(body, answer, len(events))
        if len(self.sent) < 4:
            self.sent.append(sent)
        elif self.rng.random() < 0.3:
            self.sent[self.rng.randrange(4)] = sent
        for i in self.rng.sample(range(old, len(events)), min(3, len(events) - old)):
            if len(self.accepted) >= 30:
                self.accepted.pop(self.rng.randrange(len(self.accepted)))
            self.accepted.append((events[i], answer["events"][i]))
        self.last_accepted = (events[-1]["id"], answer["events"][-1]["position"])

    async def post_valid(self, action: str, events: list[dict[str, Any]], moves: dict[str, int], single: bool) -> None:
        body = orjson.dumps(events[0] if single else {"events": events})
        status, answer, resent = await self.post(action, body, len(events))
        where = f"client {self.number} {action} of {len(events)}"
        if status == 200 and resent:
            status = 201  # the first attempt was stored though its answer was lost: the retry says so
        if self.expect(action, status, 201, answer, f"{len(events)} valid events"):
            self.commit(events, moves, body, answer, where)

    async def round(self) -> None:
        self.rounds += 1
        action = self.rng.choices(list(ACTIONS), weights=list(ACTIONS.values()))[0]
        if action == "retry" and not self.sent:
            action = "single"
        if action in ("reuse", "partial-retry") and not self.accepted:
            action = "single"
        if action == "batch":
            events, moves = self.valid_batch(self.batch_size())
            await self.post_valid("batch", events, moves, single=False)
        elif action == "single":
            moves = dict(self.moves)
            await self.post_valid("single", [self.valid(moves)], moves, single=True)
        elif action == "retry":
            sent = self.rng.choice(self.sent)
            status, answer, _ = await self.post("retry", sent.body, sent.events)
            if self.expect("retry", status, 200, answer, f"exact retry of {sent.events} events") and answer != sent.answer:
                self.run.problem(f"client {self.number} retry: answer differs from the first: {str(answer)[:300]} vs {str(sent.answer)[:300]}")
        elif action == "partial-retry":
            await self.post_partial_retry()
        elif action == "race":
            await self.post_race()
        elif action == "malformed":
            await self.post_malformed()
        elif action == "rule":
            events, moves = self.valid_batch(self.rng.randint(1, 60))
            index = self.rng.randint(0, len(events))
            bad, rule = self.breaking(self._moves_before(events, index))
            events.insert(index, bad)
            status, answer, _ = await self.post("rule", orjson.dumps({"events": events}), len(events))
            if self.expect("rule", status, 422, answer, f"{rule} at index {index} of {len(events)}"):
                errors = answer.get("errors", [])
                if [(x.get("index"), x.get("rule")) for x in errors] != [(index, rule)] or not answer["type"].endswith(rule):
                    self.run.problem(f"client {self.number} rule: expected [{index}] {rule}, answered {str(answer)[:400]}")
        elif action == "reuse":
            events, _ = self.valid_batch(self.rng.randint(0, 40))
            old = orjson.loads(orjson.dumps(self.rng.choice(self.accepted)[0]))
            old["data"]["amountCents"] += 1
            index = self.rng.randint(0, len(events))
            events.insert(index, old)
            status, answer, _ = await self.post("reuse", orjson.dumps({"events": events}), len(events))
            if self.expect("reuse", status, 409, answer, f"id {old['id']} reused at index {index}"):
                if answer.get("errors") != [{"index": index, "id": old["id"]}]:
                    self.run.problem(f"client {self.number} reuse: expected index {index}, answered {str(answer)[:400]}")
        elif action == "wrong-party":
            events, _ = self.valid_batch(self.rng.randint(0, 40))
            index = self.rng.randint(0, len(events))
            events.insert(index, self.valid({}, party=self.other))
            single = len(events) == 1
            status, answer, _ = await self.post("wrong-party", orjson.dumps(events[0] if single else {"events": events}), len(events))
            if self.expect("wrong-party", status, 403, answer, f"an event for {self.other} at index {index}"):
                if [x.get("index") for x in answer.get("errors", [])] != [index]:
                    self.run.problem(f"client {self.number} wrong-party: expected index {index}, answered {str(answer)[:400]}")
        else:
            await self.read()

    def _moves_before(self, events: list[dict[str, Any]], index: int) -> dict[str, int]:
        """The reserve as the ledger sees it when it reaches `events[index]`."""
        moves = dict(self.moves)
        for e in events[:index]:
            move = reserve_move(e)
            if move is not None:
                _, date, added, withdrawn = move
                moves[date] = moves.get(date, 0) + added - withdrawn
        return moves

    async def post_partial_retry(self) -> None:
        """Events accepted before (the same content) with new ones: 201, the old ones at
        their first positions, only the new ones stored."""
        olds = self.rng.sample(self.accepted, self.rng.randint(1, min(5, len(self.accepted))))
        events, moves = self.valid_batch(self.rng.randint(1, 60))
        batch = [e for e, _ in olds] + events
        body = orjson.dumps({"events": batch})
        status, answer, resent = await self.post("partial-retry", body, len(batch))
        if status == 200 and resent:
            status = 201
        if not self.expect("partial-retry", status, 201, answer, f"{len(olds)} old events and {len(events)} new"):
            return
        if answer["events"][: len(olds)] != [r for _, r in olds]:
            self.run.problem(f"client {self.number} partial-retry: old events answered {answer['events'][:len(olds)]}, "
                             f"first {[r for _, r in olds]}")
        self.commit(batch, moves, body, answer, f"client {self.number} partial-retry", old=len(olds))

    async def post_race(self) -> None:
        """The same new batch sent twice at once over two new connections (either worker):
        one 201, one 200, the same answer; stored once."""
        events, moves = self.valid_batch(self.rng.randint(1, 100))
        body = orjson.dumps({"events": events})
        hops = [aiohttp.ClientSession(timeout=TIMEOUT, connector=aiohttp.TCPConnector(force_close=True)) for _ in range(2)]
        try:
            answers = await asyncio.gather(
                *(self.request("race", "POST", "/v1/events", body, len(events), session=h) for h in hops)
            )
        finally:
            for h in hops:
                await h.close()
        statuses = sorted(a[0] if a[0] is not None else 0 for a in answers)
        if statuses != [200, 201] or answers[0][1] != answers[1][1]:
            if all(st is not None and st < 500 for st in statuses if st):
                self.run.problem(f"client {self.number} race of {len(events)} events: {statuses}, expected [200, 201] "
                                 f"with equal answers: {str(answers[0][1])[:200]} / {str(answers[1][1])[:200]}")
        if 201 in statuses or 200 in statuses:
            answer = next(a for st, a in answers if st in (200, 201))
        else:  # no answer at all: ask again to learn the outcome
            status, answer, _ = await self.post("race-resent", body, len(events))
            if status not in (200, 201):
                return
        self.commit(events, moves, body, answer, f"client {self.number} race")

    async def post_malformed(self) -> None:
        if self.rng.random() < 0.1:  # not JSON at all
            status, answer, _ = await self.post("malformed", b'{"events": [{"id": ', 0)
            if self.expect("malformed", status, 400, answer, "a body that is not JSON") and not answer.get("invalidParams"):
                self.run.problem(f"client {self.number} malformed: 400 without invalidParams: {str(answer)[:300]}")
            return
        events, _ = self.valid_batch(self.rng.randint(1, 60))
        index = self.rng.randrange(len(events))
        if self.rng.random() < 0.15 and index > 0:  # the same id twice in one batch
            events[index] = {**events[index], "id": events[0]["id"]}
            name = "id"
        else:
            events[index], name = self.malformed(events[index])
        status, answer, _ = await self.post("malformed", orjson.dumps({"events": events}), len(events))
        if self.expect("malformed", status, 400, answer, f"{name} of index {index} of {len(events)}"):
            params = answer.get("invalidParams") or []
            names = {p.get("name") for p in params}
            if not params or {p.get("index") for p in params} != {index} or f"events[{index}].{name}" not in names:
                self.run.problem(f"client {self.number} malformed: expected events[{index}].{name}, answered {str(answer)[:400]}")

    async def read(self) -> None:
        roll = self.rng.random()
        if roll < 0.25:
            year = self.rng.choice(YEARS)
            status, answer = await self.request("read", "GET", f"/v1/balances?party={self.party}&year={year}")
            self.expect("read", status, 200, answer, "balances")
        elif roll < 0.35:
            status, answer = await self.request("read", "GET", f"/v1/reserves?party={self.party}")
            if self.expect("read", status, 200, answer, "reserves") and self.reserve not in {r["reserve"] for r in answer["results"]}:
                self.run.problem(f"client {self.number} read: reserve {self.reserve} missing from {self.party}'s reserves")
        elif roll < 0.45:
            after = max(0, max(self.run.positions, default=0) - 3000)
            headers = {**self.headers, "Accept": "application/x-ndjson"}
            started = time.monotonic()
            try:
                async with self.session.get(self.run.base + f"/v1/events?party={self.party}&after={after}", headers=headers) as r:
                    status, raw = r.status, await r.read()
            except (aiohttp.ClientError, TimeoutError, OSError) as e:
                self.run.answers.append(Answer(self.number, "read", "GET", "/v1/events (ndjson)", None, time.monotonic() - started, 0, repr(e)))
                self.run.problem(f"client {self.number} read /v1/events as NDJSON: no answer: {e!r}")
                return
            self.run.answers.append(Answer(self.number, "read", "GET", "/v1/events (ndjson)", status, time.monotonic() - started, 0))
            rows = [orjson.loads(line) for line in raw.splitlines() if line] if status == 200 else []
            positions = [row["position"] for row in rows]
            if status != 200 or positions != sorted(set(positions)) or any(p <= after for p in positions) \
                    or any(row["party"] != self.party for row in rows):
                self.run.problem(f"client {self.number} read /v1/events?after={after} as NDJSON: {status}, {len(rows)} rows out of order or scope")
        elif roll < 0.6:
            after = self.rng.randint(0, max(self.run.positions, default=0))
            status, answer = await self.request("read", "GET", f"/v1/events?party={self.party}&after={after}&limit=100")
            if self.expect("read", status, 200, answer, "the log") and any(r["party"] != self.party or r["position"] <= after for r in answer["results"]):
                self.run.problem(f"client {self.number} read: /v1/events?party={self.party}&after={after} answered other rows")
        elif roll < 0.9 and self.last_accepted is not None:
            # read-your-writes across processes: a new connection lands on either worker
            event_id, position = self.last_accepted
            async with aiohttp.ClientSession(timeout=TIMEOUT, connector=aiohttp.TCPConnector(force_close=True)) as hop:
                status, answer = await self.request("read-own-write", "GET", f"/v1/events/{event_id}", session=hop)
            if self.expect("read-own-write", status, 200, answer, f"event {event_id} just accepted") and answer.get("position") != position:
                self.run.problem(f"client {self.number} read-own-write: {event_id} at {answer.get('position')}, accepted at {position}")
        elif roll < 0.95:
            status, answer = await self.request("read-forbidden", "GET", f"/v1/balances?party={self.other}")
            self.expect("read-forbidden", status, 403, answer, f"{self.other}'s balances with {self.party}'s token")
        else:  # no database, no thread: how long the event loop alone takes to answer
            status, answer = await self.request("healthz", "GET", "/healthz")
            self.expect("healthz", status, 200, answer, "/healthz")

    async def loop(self, deadline: float) -> None:
        connector = aiohttp.TCPConnector(limit=4, keepalive_timeout=30)
        async with aiohttp.ClientSession(timeout=TIMEOUT, connector=connector) as session:
            self.session = session
            # spread the clients' starts over a second, as real systems would arrive
            await asyncio.sleep(self.rng.random())
            while time.monotonic() < deadline:
                try:
                    await self.round()
                except Exception as e:  # a bug in this test or a body of the wrong shape: record, go on
                    self.run.problem(f"client {self.number} round {self.rounds}: {type(e).__name__}: {e}")
                    await asyncio.sleep(0.1)


# --- the whole run -----------------------------------------------------------------


async def admin_post(session: aiohttp.ClientSession, run: Run, admin: str, events: list[dict[str, Any]]) -> None:
    async with session.post(run.base + "/v1/events", data=orjson.dumps({"events": events}),
                            headers={"Authorization": f"Bearer {admin}", "Content-Type": "application/json"}) as r:
        body = await r.json(content_type=None)
        assert r.status == 201, body
    assert run.acknowledge(events, body, "setup"), run.problems
    run.books.apply(events)


def registration_events() -> list[dict[str, Any]]:
    """The admin's registrations of the gemeenten (before their tokens: `ledger token
    create` refuses a party that is not registered)."""
    return [
        {"id": new_id(), "type": "PartyRegistered", "party": p, "effectiveDate": f"{CLOSED}-01-01",
         "data": {"name": f"Loadgemeente {p}", "kind": "gemeente"}}
        for p in PARTIES
    ]


def setup_events(clients: list[Client]) -> list[dict[str, Any]]:
    """Each gemeente's allocations 2019-2024, the close of 2019 and its clients' reserves."""
    books: list[dict[str, Any]] = []
    for p in PARTIES:
        for year in (CLOSED, *YEARS):
            for budget in BUDGETS:
                books.append({"id": new_id(), "type": "BudgetAllocated", "party": p, "effectiveDate": f"{year}-01-01",
                              "data": {"budget": budget, "source": "rijk", "amountCents": 100_000_000}})
        books += [c.establish() for c in clients if c.party == p]
        books.append({"id": new_id(), "type": "YearClosed", "party": p, "effectiveDate": f"{CLOSED}-12-31", "data": {}})
    return books


async def log_of(session: aiohttp.ClientSession, run: Run, admin: str) -> list[dict[str, Any]]:
    """The whole log through GET /v1/events, paged by `after`."""
    rows: list[dict[str, Any]] = []
    after = 0
    counts = set()
    headers = {"Authorization": f"Bearer {admin}"}
    while True:
        async with session.get(run.base + f"/v1/events?limit=1000&after={after}", headers=headers) as r:
            assert r.status == 200, await r.text()
            page = orjson.loads(await r.read())
        counts.add(page["count"])
        rows += page["results"]
        if not page["results"]:
            assert page["next"] is None
            break
        after = page["results"][-1]["position"]
    assert counts == {len(rows)}, f"`count` answered {counts}, the pages held {len(rows)} events"
    return rows


def read_paths() -> list[str]:
    paths = ["/v1/balances?pageSize=1000", "/v1/reserves?pageSize=1000", "/v1/trial-balance"]
    for p in PARTIES:
        paths += [f"/v1/balances?party={p}&pageSize=1000", f"/v1/reserves?party={p}&pageSize=1000",
                  f"/v1/trial-balance?party={p}", f"/v1/balances?party={p}&pageSize=1000&year=2022",
                  f"/v1/reserves?party={p}&year=2021"]
    return paths


async def take_reads(session: aiohttp.ClientSession, run: Run, admin: str) -> dict[str, bytes]:
    out: dict[str, bytes] = {}
    headers = {"Authorization": f"Bearer {admin}"}
    for path in read_paths():
        async with session.get(run.base + path, headers=headers) as r:
            body = await r.read()
            assert r.status == 200, (path, body[:300])
            out[path] = body
    return out


def check_figures(run: Run, reads: dict[str, bytes]) -> list[str]:
    """Each party's balances, reserves and trial balance against the test's own books."""
    wrong: list[str] = []
    for p in PARTIES:
        answered = orjson.loads(reads[f"/v1/balances?party={p}&pageSize=1000"])
        assert answered["next"] is None, "more balance rows than one page"
        got = {(r["year"], r["budget"], r["subBudget"]): r for r in answered["results"]}
        expected = run.books.balances(p, run.acked)
        for key in sorted(expected.keys() | got.keys(), key=str):
            if got.get(key) != expected.get(key):
                wrong.append(f"{p} balance {key}: store {got.get(key)}, test {expected.get(key)}")
        reserves = orjson.loads(reads[f"/v1/reserves?party={p}&pageSize=1000"])["results"]
        if reserves != run.books.reserve_rows(p):
            wrong.append(f"{p} reserves: store {reserves}, test {run.books.reserve_rows(p)}")
        trial = orjson.loads(reads[f"/v1/trial-balance?party={p}"])
        accounts = {a["account"]: a["balanceCents"] for a in trial["accounts"]}
        if trial["debitCents"] != trial["creditCents"] or accounts != run.books.accounts(p):
            wrong.append(f"{p} trial balance: {trial['debitCents']} debit, {trial['creditCents']} credit; "
                         f"accounts differ: { {k: (accounts.get(k), v) for k, v in run.books.accounts(p).items() if accounts.get(k) != v} }")
    total = orjson.loads(reads["/v1/trial-balance"])
    if total["debitCents"] != total["creditCents"]:
        wrong.append(f"the whole ledger's trial balance: {total}")
    return wrong


def server_findings(*procs: Proc) -> list[str]:
    """Lines of the processes' logs that say something went wrong, each traceback whole
    (down to the exception it ends with)."""
    out = []
    for p in procs:
        in_traceback = False
        for line in p.text().splitlines():
            if line.startswith("Traceback"):
                in_traceback = True
            elif in_traceback and not line.startswith(" ") and line.strip():
                in_traceback = line.startswith("During handling") or line.startswith("The above exception")
                out.append(f"{p.name}: {line[:300]}")
                continue
            if in_traceback or re.search(r"\b(ERROR|CRITICAL)\b|Exception", line):
                out.append(f"{p.name}: {line[:300]}")
    return out


def summary(run: Run, seconds: float, setup: float, verify: float) -> str:
    per_action: dict[str, Counter[Any]] = defaultdict(Counter)
    latency: dict[str, list[float]] = defaultdict(list)
    for a in run.answers:
        per_action[a.action][a.status if a.status is not None else "no answer"] += 1
        latency[a.action].append(a.seconds)
    statuses = Counter(a.status if a.status is not None else "no answer" for a in run.answers)
    lines = [
        f"load: {CLIENTS} clients, {len(PARTIES)} gemeenten, {seconds:.1f} s of load (setup {setup:.1f} s, checks {verify:.1f} s)",
        f"requests: {len(run.answers)} ({len(run.answers) / seconds:.1f}/s); by status: "
        + ", ".join(f"{k}: {v}" for k, v in sorted(statuses.items(), key=str)),
    ]
    for action in sorted(per_action):
        times = sorted(latency[action])
        p50, p95 = times[len(times) // 2], times[min(len(times) - 1, math.ceil(len(times) * 0.95) - 1)]
        lines.append(f"  {action:15} {dict(per_action[action])}  p50 {p50:.2f} s, p95 {p95:.2f} s, max {times[-1]:.2f} s")
    lines.append(f"events accepted under load: {run.accepted_in_load} ({run.accepted_in_load / seconds:.0f} events/s); "
                 f"in the store: {len(run.acked)}")
    return "\n".join(lines)


async def test_bounded_load_stores_exactly_what_was_accepted(pg_url: str, tmp_path: Path) -> None:
    db = pg_url
    started = time.monotonic()
    admin = token(db, "admin")  # first, alone: it creates the tokens table
    port = free_port()
    run = Run(base=f"http://127.0.0.1:{port}")
    procs: list[Proc] = []
    try:
        server = Proc.start("serve", db, ["serve", "--port", str(port), "--workers", "2", "--external-projector"], tmp_path)
        procs.append(server)
        projector = Proc.start("project", db, ["project"], tmp_path)
        procs.append(projector)
        await wait_ready(run.base, procs)
        serving = time.monotonic() - started
        registrations = registration_events()
        async with aiohttp.ClientSession(timeout=aiohttp.ClientTimeout(total=300)) as session:
            await admin_post(session, run, admin, registrations)  # answered once the read model holds them
        limit = asyncio.Semaphore(4)

        async def make(party: str) -> str:
            async with limit:
                return await token_async(db, "gemeente", party)

        tokens = list(await asyncio.gather(*(make(p) for p in PARTIES)))
        tokens_made = time.monotonic() - started
        rng = random.Random(int(os.environ.get("LEDGER_LOAD_SEED", "0")) or None)
        clients = [Client(n, tokens[n % len(PARTIES)], run, random.Random(rng.random())) for n in range(CLIENTS)]
        books = setup_events(clients)
        async with aiohttp.ClientSession(timeout=aiohttp.ClientTimeout(total=300)) as session:
            await admin_post(session, run, admin, books)
        setup_seconds = time.monotonic() - started
        setup_detail = (f"tokens by {tokens_made:.1f} s, /readyz by {serving:.1f} s, "
                        f"{len(registrations) + len(books)} setup events by {setup_seconds:.1f} s")

        # --- the load ---------------------------------------------------------------
        load_started = time.monotonic()
        await asyncio.gather(*(c.loop(load_started + SECONDS) for c in clients))
        load_seconds = time.monotonic() - load_started
        checks_started = time.monotonic()
        for p in procs:
            assert p.alive(), f"{p.name} died under load:\n{p.text()[-3000:]}"

        async with aiohttp.ClientSession(timeout=aiohttp.ClientTimeout(total=600)) as session:
            # --- the log holds exactly what was accepted --------------------------------
            ready = await wait_ready(run.base, procs, timeout=300, lag_zero=True)
            log = await log_of(session, run, admin)
            stored = {r["id"]: r["position"] for r in log}
            positions = [r["position"] for r in log]
            assert len(stored) == len(log), "an event id occurs twice in the log"
            assert positions == sorted(set(positions)), "log positions not unique and rising"
            assert ready["head"] == positions[-1], (ready, positions[-1])
            missing = run.acked.keys() - stored.keys()
            extra = stored.keys() - run.acked.keys()
            moved = {i: (run.acked[i], stored[i]) for i in run.acked.keys() & stored.keys() if run.acked[i] != stored[i]}
            stamps = [r["recordedAt"] for r in log]
            went_back = [log[i]["position"] for i in range(1, len(log)) if stamps[i] < stamps[i - 1]]
            async with session.get(run.base + "/v1/audit/verify", headers={"Authorization": f"Bearer {admin}"}) as r:
                verified = await r.json()

            # --- the figures: the test's own sums, then byte-identical after a rebuild --
            before = await take_reads(session, run, admin)
            wrong_figures = check_figures(run, before)
            projector.stop()
            rebuild_started = time.monotonic()
            rebuilt = await cli_async(db, "rebuild", "--quiet", timeout=600)
            rebuild_seconds = time.monotonic() - rebuild_started
            after_rebuild = await take_reads(session, run, admin)
            procs.append(projector := Proc.start("project-again", db, ["project"], tmp_path))
            await wait_ready(run.base, [server, projector], timeout=120, lag_zero=True)
            after_restart = await take_reads(session, run, admin)
        verify_seconds = time.monotonic() - checks_started

        print()
        print(summary(run, load_seconds, setup_seconds, verify_seconds))
        print(f"setup: {setup_detail}; checks: log of {len(log)} events read and compared, chain verified, "
              f"reads taken 3 times around `ledger rebuild` ({rebuild_seconds:.1f} s)")
        findings = server_findings(*procs)
        behind = [line for p in procs for line in p.text().splitlines() if "read model behind" in line]
        print(f"server log: {len(findings)} error lines, {len(behind)} 'read model behind' warnings")
        for line in findings[:200]:
            print("  " + line)
        for problem in run.problems[:40]:
            print("PROBLEM " + problem)
        for wrong in wrong_figures[:20]:
            print("FIGURE " + wrong)

        assert not run.problems, f"{len(run.problems)} unexpected answers, first: {run.problems[:10]}"
        assert not any(a.status is None or a.status >= 500 for a in run.answers)
        assert not missing, f"{len(missing)} accepted events missing from the store, e.g. {sorted(missing)[:5]}"
        assert not extra, f"{len(extra)} events in the store that were never accepted, e.g. {sorted(extra)[:5]}"
        assert not moved, f"{len(moved)} events stored at another position than answered: {list(moved.items())[:5]}"
        assert not went_back, f"recordedAt goes back at positions {went_back[:10]}"
        assert verified["intact"] and verified["count"] == len(log), verified
        assert not wrong_figures, "\n".join(wrong_figures[:20])
        assert rebuilt[0] == 0 and f"rebuilt the read model from {len(log)} events" in rebuilt[2], rebuilt
        differ = [path for path in before if after_rebuild[path] != before[path]]
        assert not differ, f"reads changed by `ledger rebuild`: {differ[:10]}"
        differ = [path for path in before if after_restart[path] != before[path]]
        assert not differ, f"reads changed after the projector restarted: {differ[:10]}"
        assert not findings, "\n".join(findings[:20])
        assert run.accepted_in_load > 0
    finally:
        for p in reversed(procs):
            p.stop()
