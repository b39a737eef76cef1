"""Posting events (api.md "Posting events"), proven through the HTTP API.

Validation answers 400 problem+json naming every bad field (by index in a batch);
accepted posts answer 201 with each event's position and recordedAt; the event id is
the idempotency key (same content: 200 with the original answer, other content: 409);
a Correction reverses exactly and leaves the corrected event in the log.
"""

from __future__ import annotations

import re
import uuid
from datetime import datetime, timedelta
from typing import Any

import orjson
import pytest

from tests.conftest import Api, assert_problem, event, register

PARTY = "GM0439"
DROP = object()  # a value that removes its key in `changed`
RFC3339_UTC = re.compile(r"^\d{4}-\d{2}-\d{2}T\d{2}:\d{2}:\d{2}(\.\d+)?Z$")


def changed(d: dict[str, Any], **changes: Any) -> dict[str, Any]:
    """`d` with `changes` applied; a change to DROP removes the key."""
    return {k: v for k, v in {**d, **changes}.items() if v is not DROP}


def allocation(**data: Any) -> dict[str, Any]:
    """A valid BudgetAllocated for PARTY, with its data changed by `data`."""
    base = {"budget": "participatiebudget", "source": "rijk", "amountCents": 1_000_000}
    return event("BudgetAllocated", changed(base, **data), party=PARTY, date="2015-01-01")


def cost(amount: int) -> dict[str, Any]:
    return event("CostBooked", {"budget": "participatiebudget", "category": "begeleiding", "amountCents": amount})


def batch(*events: dict[str, Any]) -> dict[str, Any]:
    return {"events": list(events)}


async def accepted(api: Api, token: str, body: Any) -> dict[str, Any]:
    """Post `body`, expect a 201; return the answer."""
    status, answer = await api.post(token, body)
    assert status == 201, answer
    return answer


async def post_raw(api: Api, token: str, body: bytes) -> tuple[int, str, Any]:
    """POST bytes as they are; the status, the Content-Type and the parsed body."""
    r = await api.client.post(
        "/v1/events", data=body, headers={"Authorization": f"Bearer {token}", "Content-Type": "application/json"}
    )
    return r.status, r.headers["Content-Type"], await r.json(content_type=None)


async def refused(api: Api, token: str, body: Any, status: int = 400) -> dict[str, Any]:
    """Post `body` (bytes are sent as they are), expect a problem document with `status`; return it."""
    code, content_type, problem = await post_raw(api, token, body if isinstance(body, bytes) else orjson.dumps(body))
    assert_problem(code, content_type, problem, status)
    return problem


def bad_names(problem: dict[str, Any]) -> set[str]:
    return {p["name"] for p in problem["invalidParams"]}


async def stored_count(api: Api) -> int:
    status, body = await api.get(api.token("auditor"), "/v1/events")
    assert status == 200, body
    return body["count"]


async def balance(api: Api, token: str) -> dict[str, Any]:
    status, body = await api.get(token, "/v1/balances", party=PARTY, year=2015, budget="participatiebudget")
    assert status == 200, body
    (row,) = body["results"]
    return row


# --- validation -----------------------------------------------------------------------

INVALID = [
    pytest.param(allocation(amountCents=12.5), "data.amountCents", id="amount-fraction"),
    pytest.param(allocation(amountCents=100.0), "data.amountCents", id="amount-whole-float"),
    pytest.param(allocation(amountCents="1000"), "data.amountCents", id="amount-string"),
    pytest.param(allocation(amountCents=True), "data.amountCents", id="amount-boolean"),
    pytest.param(allocation(amountCents=DROP), "data.amountCents", id="amount-missing"),
    pytest.param(changed(allocation(), type="BudgetInvented"), "type", id="unknown-type"),
    pytest.param(changed(allocation(), party=DROP), "party", id="party-missing"),
    pytest.param(changed(allocation(), effectiveDate="2015-02-30"), "effectiveDate", id="date-not-in-calendar"),
    pytest.param(changed(allocation(), effectiveDate="yesterday"), "effectiveDate", id="date-not-a-date"),
    pytest.param(allocation(budget="Participatie_Budget"), "data.budget", id="budget-not-kebab"),
    pytest.param(allocation(amountCent=5), "data.amountCent", id="unknown-data-field"),
    pytest.param(
        event("PartyRegistered", {"name": "Purmerend", "kind": "gemeente"}, party="GM439"), "party", id="gemeente-code"
    ),
]


@pytest.mark.parametrize(("body", "field"), INVALID)
async def test_an_invalid_event_is_a_400_naming_the_field(api: Api, body: dict[str, Any], field: str) -> None:
    problem = await refused(api, api.token("admin"), body)
    assert field in bad_names(problem)


@pytest.mark.parametrize(
    ("raw", "field"),
    [
        pytest.param(b'{"id": "6f1c2c9e-4a8e-4a43-9a59-0d2f8c4f2b10", "type": ', "body", id="malformed-json"),
        pytest.param(orjson.dumps([allocation()]), "body", id="json-array"),
        pytest.param(orjson.dumps({"events": []}), "events", id="empty-batch"),
    ],
)
async def test_a_body_that_is_no_event_is_a_400(api: Api, raw: bytes, field: str) -> None:
    problem = await refused(api, api.token("admin"), raw)
    assert field in bad_names(problem)


async def test_a_batch_lists_every_bad_event_by_index_and_stores_none(api: Api, gemeente: str) -> None:
    token = gemeente
    before = await stored_count(api)
    events = [allocation(), allocation(amountCents=12.5), allocation(), allocation(amountCents=DROP), allocation()]
    problem = await refused(api, token, batch(*events))
    assert {p["index"] for p in problem["invalidParams"]} == {1, 3}
    assert bad_names(problem) == {"events[1].data.amountCents", "events[3].data.amountCents"}
    assert await stored_count(api) == before


async def test_a_good_event_beside_an_unknown_type_is_not_stored(api: Api, gemeente: str) -> None:
    token = gemeente
    good = allocation()
    problem = await refused(api, token, batch(good, changed(allocation(), type="Nonsense")))
    assert [(p["index"], p["name"]) for p in problem["invalidParams"]] == [(1, "events[1].type")]
    assert (await api.get(token, f"/v1/events/{good['id']}"))[0] == 404


# --- accepted posts ----------------------------------------------------------------------


def assert_accepted(body: dict[str, Any], *sent: dict[str, Any]) -> list[dict[str, Any]]:
    """The 201/200 body: one {id, position, recordedAt, chainHash} per sent event, in order."""
    results = body["events"]
    assert [r["id"] for r in results] == [e["id"] for e in sent]
    for r in results:
        assert set(r) == {"id", "position", "recordedAt", "chainHash"}
        assert re.fullmatch(r"[0-9a-f]{64}", r["chainHash"])
        assert isinstance(r["position"], int)
        assert RFC3339_UTC.match(r["recordedAt"]), r["recordedAt"]
        assert datetime.fromisoformat(r["recordedAt"]).utcoffset() == timedelta(0)
    return results


async def test_a_single_event_answers_201_with_position_and_recorded_at(api: Api, gemeente: str) -> None:
    token = gemeente
    sent = allocation()
    body = await accepted(api, token, sent)
    (result,) = assert_accepted(body, sent)
    assert result["position"] > 0


async def test_a_batch_answers_201_with_positions_in_batch_order(api: Api, gemeente: str) -> None:
    token = gemeente
    sent = [allocation(), allocation(budget="inkomensdeel"), cost(500), cost(700)]
    body = await accepted(api, token, batch(*sent))
    positions = [r["position"] for r in assert_accepted(body, *sent)]
    assert positions == sorted(positions) and len(set(positions)) == len(positions)


# --- idempotency ---------------------------------------------------------------------------


@pytest.mark.parametrize(
    "sent",
    [pytest.param(allocation(), id="event"), pytest.param(batch(allocation(), cost(100), cost(200)), id="batch")],
)
async def test_a_retry_answers_200_with_the_original_body_and_stores_nothing(api: Api, gemeente: str, sent: dict[str, Any]) -> None:
    token = gemeente
    first = await accepted(api, token, sent)
    count = await stored_count(api)
    assert await api.post(token, sent) == (200, first)
    assert await stored_count(api) == count


async def test_year_omitted_is_the_same_content_as_the_year_of_the_date(api: Api, gemeente: str) -> None:
    token = gemeente
    sent = allocation()
    assert "year" not in sent
    first = await accepted(api, token, sent)
    assert await api.post(token, {**sent, "year": 2015}) == (200, first)


async def test_the_same_id_with_other_content_is_a_409_by_index(api: Api, gemeente: str) -> None:
    token = gemeente
    sent = allocation()
    await accepted(api, token, sent)
    count = await stored_count(api)
    new, altered = allocation(), allocation(amountCents=2_000_000) | {"id": sent["id"]}
    problem = await refused(api, token, batch(new, altered), status=409)
    assert [e["index"] for e in problem["errors"]] == [1]
    assert await stored_count(api) == count


async def test_a_batch_of_an_old_and_a_new_event_stores_only_the_new_one(api: Api, gemeente: str) -> None:
    token = gemeente
    old = allocation()
    first = await accepted(api, token, old)
    count = await stored_count(api)
    new = cost(100)
    body = await accepted(api, token, batch(old, new))
    again, fresh = assert_accepted(body, old, new)
    assert again == first["events"][0]
    assert fresh["position"] > again["position"]
    assert await stored_count(api) == count + 1


async def test_a_duplicate_id_within_one_batch_is_a_400(api: Api, gemeente: str) -> None:
    token = gemeente
    first = allocation()
    problem = await refused(api, token, batch(first, cost(100) | {"id": first["id"]}))
    assert [(p["index"], p["name"]) for p in problem["invalidParams"]] == [(1, "events[1].id")]
    assert (await api.get(token, f"/v1/events/{first['id']}"))[0] == 404


# --- corrections and the immutable log ---------------------------------------------------------


async def test_a_correction_reverses_a_cost_exactly_and_keeps_it_in_the_log(api: Api, gemeente: str) -> None:
    token = gemeente
    await accepted(api, token, allocation())
    before = await balance(api, token)
    booked = cost(123_456)
    await accepted(api, token, booked)
    assert (await balance(api, token))["spentCents"] == before["spentCents"] + 123_456
    correction = event("Correction", {"corrects": booked["id"], "reason": "dubbel geboekt"}, date="2015-07-31")
    await accepted(api, token, correction)
    assert await balance(api, token) == before
    status, kept = await api.get(token, f"/v1/events/{booked['id']}")
    assert status == 200, kept
    assert (kept["type"], kept["data"]) == ("CostBooked", booked["data"])
    status, log = await api.get(token, "/v1/events", party=PARTY)
    assert [e["id"] for e in log["results"]][-2:] == [booked["id"], correction["id"]]


async def test_an_event_reads_back_with_position_recorded_at_and_poster(api: Api) -> None:
    await register(api, api.token("admin"), PARTY)
    info, secret = api.tokens.create("gemeente", PARTY)
    sent = allocation() | {"reference": "beschikking-2015"}
    (receipt,) = (await accepted(api, secret, sent))["events"]
    status, read = await api.get(secret, f"/v1/events/{sent['id']}")
    assert status == 200, read
    expected = {**sent, "year": 2015, "data": {**sent["data"], "status": "definitief"}}  # defaults filled in
    assert {k: read[k] for k in expected} == expected
    assert (read["position"], read["recordedAt"]) == (receipt["position"], receipt["recordedAt"])
    assert info.token_id in read["postedBy"]
    assert secret not in read["postedBy"] and secret.removeprefix("plg_") not in read["postedBy"]


async def test_an_unknown_event_id_is_a_404_problem(api: Api) -> None:
    r = await api.client.get(f"/v1/events/{uuid.uuid4()}", headers={"Authorization": f"Bearer {api.token('auditor')}"})
    assert r.status == 404
    assert r.headers["Content-Type"].startswith("application/problem+json")
    assert (await r.json(content_type=None))["status"] == 404
