"""The OpenAPI 3.1 document served at /v1/openapi.json.

Event schemas are generated from the same pydantic models that validate posted
events, so the document cannot drift from what the API accepts.
"""

from __future__ import annotations

from typing import Any

from api.render import CSV, DUTCH_CSV, XLSX
from ledger.audit import MAX_POSITION
from ledger.bounds import FIRST_YEAR, LAST_YEAR
from ledger.events import CODE, PARTY_CODE, PAYLOADS, REF, Envelope
from ledger.rules import RULES

API_VERSION = "1.0.0"
_REF = "#/components/schemas/{model}"


def _ref(name: str) -> dict[str, str]:
    return {"$ref": _REF.format(model=name)}


_STANDARD_HEADERS = {
    "API-Version": {"description": "Full version of this API", "schema": {"type": "string", "example": API_VERSION}},
    "X-Request-ID": {"description": "The request's id in the server's logs: the client's X-Request-ID if it sent "
                                    "a plain one of at most 128 characters, else a new one",
                     "schema": {"type": "string", "maxLength": 128}},
}
_RETRY_AFTER = {"Retry-After": {"description": "Seconds to wait before sending the request again",
                                "schema": {"type": "integer", "minimum": 1}}}


# A list's rows as a table: CSV as JSON writes values, the Dutch CSV Excel-NL opens as it
# is (api/render.py), and a spreadsheet.
TABLE_CONTENT: dict[str, Any] = {
    CSV: {"schema": {"type": "string", "description": "Comma-separated; values as JSON writes them (cents, true/false)"}},
    DUTCH_CSV: {"schema": {"type": "string", "description": "Semicolon-separated, UTF-8 with BOM, amounts in euros "
                                                           "with a decimal comma (columns headed '... (EUR)'), ja/nee"}},
    XLSX: {"schema": {"type": "string", "format": "binary"}},
}


def _ok(description: str, schema: dict[str, Any], csv: bool = False, status: str = "200") -> dict[str, Any]:
    content: dict[str, Any] = {"application/json": {"schema": schema}}
    if csv:
        content.update(TABLE_CONTENT)
    return {status: {"description": description, "headers": _STANDARD_HEADERS, "content": content}}


def _problem(status: str, description: str) -> dict[str, Any]:
    headers = {**_STANDARD_HEADERS, **_RETRY_AFTER} if status in ("429", "503") else _STANDARD_HEADERS
    return {
        status: {
            "description": description,
            "headers": headers,
            "content": {"application/problem+json": {"schema": _ref("Problem")}},
        }
    }


def _errors(*statuses: str) -> dict[str, Any]:
    descriptions = {
        "400": "Invalid input (invalidParams names every bad field)",
        "401": "No token, or an unknown, expired or revoked one",
        "403": "The token may not do this",
        "404": "Not found",
        "409": "An event id was posted before with different content",
        "413": "Batch or body too large",
        "422": "A domain rule refused the batch; nothing was stored",
        "429": "This token sent too many requests; nothing was done: send it again after Retry-After seconds",
        "503": "The database does not answer (database-unavailable), or a write waited longer than the lock "
               "timeout (ledger-busy); nothing was stored: send it again after Retry-After seconds",
    }
    out: dict[str, Any] = {}
    for status in statuses:
        out.update(_problem(status, descriptions[status]))
    return out


def _query(name: str, description: str, schema: dict[str, Any]) -> dict[str, Any]:
    return {"name": name, "in": "query", "required": False, "description": description, "schema": schema}


_PARTY = _query("party", "Party code, e.g. GM0439", {"type": "string", "pattern": PARTY_CODE})
_YEAR = _query("year", "Budget year (of an organisation, for a member: one it was a member in)",
               {"type": "integer", "minimum": FIRST_YEAR, "maximum": LAST_YEAR})
_YEAR_RANGE = [
    _query(name, f"{which} budget year of a meerjarenraming (inclusive; not beside year)",
           {"type": "integer", "minimum": FIRST_YEAR, "maximum": LAST_YEAR})
    for name, which in (("fromYear", "The first"), ("toYear", "The last"))
]
_AS_OF = _query("asOf", "The answer as the ledger knew it at this recorded instant", {"type": "string", "format": "date-time"})
_PAGE = _query("page", "Page number, from 1", {"type": "integer", "minimum": 1})
_PAGE_SIZE = _query("pageSize", "Rows per page", {"type": "integer", "minimum": 1, "maximum": 1000})


def _page_of(item: str) -> dict[str, Any]:
    return {
        "type": "object",
        "required": ["count", "next", "previous", "results"],
        "properties": {
            "count": {"type": "integer"},
            "next": {"type": ["string", "null"], "format": "uri"},
            "previous": {"type": ["string", "null"], "format": "uri"},
            "results": {"type": "array", "items": _ref(item)},
        },
    }


def _cents(description: str) -> dict[str, Any]:
    return {"type": "integer", "description": description + " (euro cents)"}


def _flatten_optional_dates(schema: dict[str, Any]) -> None:
    """An optional date as `{"type": ["string", "null"], "format": "date"}`, not pydantic's
    `anyOf` of a date and null: the ADR linter wants `format` on every date field itself."""
    for name, prop in schema.get("properties", {}).items():
        options = prop.get("anyOf", [])
        dates = [o for o in options if o.get("format") == "date"]
        if len(options) == 2 and len(dates) == 1 and {"type": "null"} in options:
            rest = {k: v for k, v in prop.items() if k != "anyOf"}
            schema["properties"][name] = {**dates[0], **rest, "type": ["string", "null"]}


_HASH = {"type": "string", "pattern": "^[0-9a-f]{64}$"}

# What the ledger adds to a client's event when it stores it (LoggedEvent).
_LOGGED: dict[str, Any] = {
    "derived": {"type": "object", "description": "What the ledger resolved when it accepted the event "
                "(a correction's original, a subsidy's commitments, a closed year's figures)"},
    "contentHash": {**_HASH, "description": "SHA-256 of the client's event (keys sorted, no whitespace)"},
    "position": {"type": "integer"},
    "recordedAt": {"type": "string", "format": "date-time",
                   "description": "Never before the recordedAt of the event before it"},
    "postedBy": {"type": "string", "description": "Role, party and token id of the poster (an OIDC token's "
                 "is oidc:<sub>), then the person the token names in parentheses: "
                 "gemeente:GM0439:tok_0123456789ab (Jan de Vries)"},
    "previousHash": {**_HASH, "description": "The chainHash of the event before it (64 zeros for the first)"},
    "chainHash": {**_HASH, "description": "SHA-256 of this object without chainHash, keys sorted, "
                  "no whitespace: the hash chain that `ledger verify` recomputes"},
}


def _typed(description: str, envelope: dict[str, Any], name: str, required: list[str],
           extra: dict[str, Any] | None = None, extra_required: tuple[str, ...] = ()) -> dict[str, Any]:
    """An event of type `name` as one closed object: the envelope's members (and `extra`),
    `type` the single value `name`, `data` that type's payload."""
    properties = {
        **envelope["properties"],
        "type": {"type": "string", "enum": [name], "description": "The event type"},
        "data": _ref(f"{name}Data"),
        **(extra or {}),
    }
    return {
        "type": "object",
        "description": description,
        "required": [*dict.fromkeys([*envelope["required"], *required, *extra_required])],
        "additionalProperties": False,
        "properties": properties,
    }


def _schemas() -> dict[str, Any]:
    schemas: dict[str, Any] = {}
    envelope = Envelope.model_json_schema(ref_template=_REF)
    envelope["properties"]["id"]["description"] = "Client-chosen UUID; the idempotency key"
    envelope["properties"]["year"]["description"] = "Budget year; defaults to the year of effectiveDate"
    schemas["EventEnvelope"] = envelope
    # One closed object per event type, the envelope's members with `type` a single-value
    # enum and `data` its type's payload; `Event` is the oneOf of them, discriminated by
    # `type`. Not an allOf of the envelope and a `const`: generators cannot join the
    # envelope's enum of every type to one type's const, and drop every event schema.
    mapping: dict[str, str] = {}
    for name, payload in PAYLOADS.items():
        data_schema = payload.model_json_schema(ref_template=_REF)
        data_schema.pop("title", None)
        _flatten_optional_dates(data_schema)
        schemas[f"{name}Data"] = data_schema
        schemas[name] = _typed(f"A {name} event", envelope, name,
                               ["data"] if data_schema.get("required") else [])
        mapping[name] = _REF.format(model=name)
    schemas["Event"] = {"oneOf": [{"$ref": ref} for ref in mapping.values()],
                        "discriminator": {"propertyName": "type", "mapping": mapping}}
    schemas["EventBatch"] = {
        "type": "object",
        "required": ["events"],
        "properties": {"events": {"type": "array", "minItems": 1, "items": _ref("Event")}},
    }
    schemas["AcceptedEvents"] = {
        "type": "object",
        "required": ["events"],
        "properties": {
            "events": {
                "type": "array",
                "items": {
                    "type": "object",
                    "required": ["id", "position", "recordedAt", "chainHash"],
                    "properties": {
                        "id": {"type": "string", "format": "uuid"},
                        "position": {"type": "integer", "description": "Place in the global order of the log"},
                        "recordedAt": {"type": "string", "format": "date-time"},
                        "chainHash": _HASH,
                    },
                },
            }
        },
    }
    # A stored event: its type's event with what the ledger added, one closed object per
    # type (`Logged<type>`), and `LoggedEvent` the oneOf of them by `type`.
    logged: dict[str, str] = {}
    for name in PAYLOADS:
        schemas[f"Logged{name}"] = _typed(f"A stored {name} event", envelope, name, ["data"] if
                                          schemas[f"{name}Data"].get("required") else [], _LOGGED,
                                          tuple(_LOGGED))
        logged[name] = _REF.format(model=f"Logged{name}")
    schemas["LoggedEvent"] = {"oneOf": [{"$ref": ref} for ref in logged.values()],
                              "discriminator": {"propertyName": "type", "mapping": logged}}
    schemas["Balance"] = {
        "type": "object",
        "required": ["party", "year", "budget", "subBudget", "allocatedCents", "incomeCents", "spentCents",
                     "committedCents", "availableCents", "saldoCents", "primitiveCents", "amendmentsCents",
                     "structuralSaldoCents", "status"],
        "properties": {
            "party": {"type": "string"},
            "year": {"type": "integer"},
            "budget": {"type": "string"},
            "subBudget": {"type": ["string", "null"], "description": "null: the budget's total row"},
            "allocatedCents": _cents("Allocated"),
            "incomeCents": _cents("Other income, reserve withdrawals"),
            "spentCents": _cents("Spent, additions to reserves"),
            "committedCents": _cents("Committed, not yet paid"),
            "availableCents": _cents("allocated + income - spent - committed"),
            "saldoCents": _cents("allocated + income - spent"),
            "primitiveCents": _cents("The primitive begroting: what BudgetAllocated gave"),
            "amendmentsCents": _cents("Begrotingswijzigingen: BudgetRevised and FundsReallocated; "
                                      "allocated = primitive + amendments"),
            "structuralSaldoCents": _cents("The saldo without what reserves (ReserveWithdrawn) and the "
                                           "meeneemregeling put in: the structural gap"),
            "status": {"type": "string", "enum": ["voorlopig", "definitief"],
                       "description": "voorlopig while the line's latest allocation is voorlopig (a total row: "
                                      "while any of its lines is)"},
        },
    }
    schemas["Reserve"] = {
        "type": "object",
        "required": ["party", "reserve", "balanceCents", "addedCents", "withdrawnCents"],
        "properties": {
            "party": {"type": "string"},
            "reserve": {"type": "string"},
            "purpose": {"type": "string"},
            "revolving": {"type": "boolean"},
            "balanceCents": _cents("Balance at the end of the year, by effective date"),
            "addedCents": _cents("Added during the year (opening balance included)"),
            "withdrawnCents": _cents("Withdrawn during the year"),
            "refluxCents": _cents("Flowed back into a revolving reserve, ever"),
        },
    }
    schemas["Commitment"] = _object(
        ["party", "year", "commitmentId", "budget", "subBudget", "category", "registeredCents", "usedCents",
         "releasedCents", "openCents"],
        {
            "party": {"type": "string"},
            "year": {"type": "integer", "description": "The budget year it was registered in"},
            "commitmentId": {"type": "string"},
            "budget": {"type": "string"},
            "subBudget": {"type": ["string", "null"]},
            "category": {"type": "string"},
            "registeredCents": _cents("Registered (CommitmentRegistered)"),
            "usedCents": _cents("Used up by costs booked against it (CostBooked with its commitmentId)"),
            "releasedCents": _cents("Released (CommitmentReleased)"),
            "openCents": _cents("registered - used - released: what counts in committedCents"),
        },
        "A verplichting on a budget line",
    )
    schemas["RunwayYear"] = _object(
        ["year", "openingCents", "addedCents", "withdrawnCents", "closingCents"],
        {
            "year": {"type": "integer"},
            "openingCents": _cents("Balance at the start of the year (the establishing year: the opening balance)"),
            "addedCents": _cents("Added during the year (dotaties, reflux)"),
            "withdrawnCents": _cents("Withdrawn during the year, planned (future-dated) withdrawals included"),
            "closingCents": _cents("Balance at the end of the year"),
        },
    )
    schemas["Runway"] = _object(
        ["party", "reserve", "years", "emptyAt"],
        {
            "party": {"type": "string"},
            "reserve": {"type": "string"},
            "years": {"type": "array", "items": _ref("RunwayYear"),
                      "description": "Every year from the reserve's first movement to its last dated one"},
            "emptyAt": {"type": ["integer", "null"], "description": "The first year whose closing balance is 0"},
        },
        "When a reserve runs dry, by effective date",
    )
    schemas["Problem"] = {
        "type": "object",
        "required": ["type", "title", "status", "detail"],
        "properties": {
            "type": {"type": "string", "format": "uri", "description": "urn:participatie-ledger:problem:<code>; "
                     "rule codes: " + ", ".join(RULES)},
            "title": {"type": "string"},
            "status": {"type": "integer"},
            "detail": {"type": "string"},
            "invalidParams": {
                "type": "array",
                "items": {
                    "type": "object",
                    "properties": {
                        "index": {"type": "integer", "description": "Event index in the batch"},
                        "name": {"type": "string", "description": "The field; of a spreadsheet: 'row 3, amount'"},
                        "code": {"type": "string"},
                        "reason": {"type": "string"},
                        "row": {"type": "integer", "description": "Of a spreadsheet: the row, the header being row 1"},
                        "column": {"type": "string", "description": "Of a spreadsheet: the column's heading"},
                    },
                },
            },
            "errors": {
                "type": "array",
                "description": "Each refused event of a batch, by index (and of a spreadsheet by row)",
                "items": {
                    "type": "object",
                    "properties": {
                        "index": {"type": "integer"},
                        "row": {"type": "integer", "description": "Of a spreadsheet: the row, the header being row 1"},
                        "rule": {"type": "string"},
                        "title": {"type": "string"},
                        "detail": {"type": "string"},
                    },
                },
            },
        },
    }
    schemas["Health"] = {"type": "object", "properties": {"status": {"type": "string"}}}
    schemas["DryRun"] = _object(["dryRun", "events", "wouldStore", "alreadyStored"], {
        "dryRun": {"type": "boolean", "const": True, "description": "Nothing was stored"},
        "events": {"type": "integer", "description": "The events checked: every one passes the rules"},
        "wouldStore": {"type": "integer", "description": "Of them, the new ones a post would store"},
        "alreadyStored": {"type": "integer", "description": "Of them, the ones stored before, with the same content"},
    }, "A dry run's answer: the batch as posted would be accepted")
    schemas.update(_organisation_schemas())
    schemas.update(_audit_schemas())
    return schemas


def _object(required: list[str], properties: dict[str, Any], description: str | None = None) -> dict[str, Any]:
    out: dict[str, Any] = {"type": "object", "required": required, "properties": properties}
    if description:
        out["description"] = description
    return out


_THOUSANDS = {"type": "number", "description": "Thousands of euros, exact to the cent (5 decimals)"}
_IV3_LINE = _object(["taakveld", "categorie", "bedrag"],
                    {"taakveld": {"type": "string"}, "categorie": {"type": "string"}, "bedrag": _THOUSANDS})
_IV3_BALANCE_LINE = _object(["balanscode", "categorie", "bedrag"],
                            {"balanscode": {"type": "string"}, "categorie": {"type": "string"}, "bedrag": _THOUSANDS})
_IV3_STAND = _object(["balanscode", "standper", "bedrag"],
                     {"balanscode": {"type": "string"}, "standper": {"type": "string"}, "bedrag": _THOUSANDS})


_SHARES = {
    "type": ["array", "null"],
    "items": _object(
        ["party", "weight", "keyWeight", "amountCents"],
        {
            "party": {"type": "string"},
            "weight": {"type": "number", "description": "The weight the amount was split by: under solidariteit "
                       "the key's weight, pro-rated by days of membership; under profijt, where the amount follows "
                       "usage, the party's share of the total in the key's units (its share of the key's total weight)"},
            "keyWeight": {"type": "number", "description": "The key's weight, pro-rated by days of membership"},
            "amountCents": _cents("This member's share"),
        },
    ),
}
# A cost split's shares, with the advances and the settlement (afrekening) of each member.
_SETTLED_SHARES = {
    "type": "array",
    "items": _object(
        [*_SHARES["items"]["required"], "invoicedCents", "paidCents", "settlementCents"],
        {
            **_SHARES["items"]["properties"],
            "invoicedCents": _cents("Advances (voorschotten) invoiced to the member for the year"),
            "paidCents": _cents("What the member paid for the year"),
            "settlementCents": _cents("The afrekening: amountCents - paidCents (positive: the member owes more; "
                                      "negative: it gets money back)"),
        },
    ),
}
_CENTS_BY_CODE = {"type": "object", "additionalProperties": {"type": "integer"}}


def _audit_schemas() -> dict[str, Any]:
    """The verification of the hash chain."""
    return {
        "Verification": _object(
            ["intact", "count", "head", "headPosition", "firstBadPosition", "problem", "closedYears", "anchors"],
            {
                "intact": {"type": "boolean", "description": "The chain, every anchor and every closed year check out"},
                "count": {"type": "integer", "description": "Events verified in order (up to the first bad one)"},
                "head": {**_HASH, "type": ["string", "null"], "description": "The chain hash of the last verified event"},
                "headPosition": {"type": "integer"},
                "firstBadPosition": {"type": ["integer", "null"]},
                "problem": {"type": ["string", "null"], "description": "What is wrong at firstBadPosition"},
                "closedYears": {"type": "array", "items": _object(
                    ["party", "year", "position", "chainHash", "figuresUnchanged", "changedAt", "reopenedAt"],
                    {"party": {"type": "string"}, "year": {"type": "integer"},
                     "position": {"type": "integer", "description": "The YearClosed's position"},
                     "chainHash": {**_HASH, "description": "The chain head at the close: hand it to the auditor"},
                     "figuresUnchanged": {"type": "boolean",
                                          "description": "Unchanged from the close on (until it was reopened)"},
                     "changedAt": {"type": ["integer", "null"]},
                     "reopenedAt": {"type": ["integer", "null"],
                                    "description": "The YearReopened's position that ended this close, if any"}}),
                    "description": "Every close in log order: a year reopened and closed again shows twice"},
                "anchors": {"type": "array", "items": _object(
                    ["position", "hash", "matches"],
                    {"position": {"type": "integer"}, "hash": _HASH, "matches": {"type": "boolean"}})},
                "snapshots": {"type": "string", "description": "What of the store's snapshots is trusted. Without "
                              "LEDGER_SNAPSHOT_KEY none: every book is derived from the verified events. With it, how "
                              "many stored snapshots its seal proves, and each one it does not (party, book id and "
                              "version: altered, or sealed under another key), which is never used; `intact` speaks "
                              "of the log alone (ledger/snapshots.py)"},
            },
        )
    }


def _audit_paths(secured: list[dict[str, Any]]) -> dict[str, Any]:
    anchor = _query("anchor", "A chain hash held outside the database, as POSITION:HASH (repeatable)",
                    {"type": "string", "pattern": "^[0-9]{1,19}:[0-9a-f]{64}$"})
    return {
        "/v1/audit/verify": _read(
            "verifyLog", "audit", "Recompute the hash chain of the whole log (auditor, admin)",
            [anchor, _AS_OF], _ok("The verification (intact or not)", _ref("Verification")), secured,
        )
    }


def _organisation_schemas() -> dict[str, Any]:
    """Cost split, winst, KPIs and the journal."""
    policy = {"type": "string", "enum": ["solidariteit", "profijt"]}
    return {
        "Party": _object(
            ["code", "name", "kind", "fundHolder", "cbsNumber", "members", "years", "closedYears"],
            {
                "code": {"type": "string", "pattern": PARTY_CODE},
                "name": {"type": "string"},
                "kind": {"type": "string", "enum": ["gemeente", "organisation"]},
                "fundHolder": {"type": ["string", "null"], "description": "An organisation's fund holder"},
                "cbsNumber": {"type": ["string", "null"], "description": "CBS's overheidsnummer (registration, PartyUpdated)"},
                "members": {"type": "array", "items": {"type": "string"}, "description": "An organisation's members (none for a gemeente)"},
                "years": {"type": "array", "items": {"type": "integer"}, "description": "Years the party's events fall in"},
                "closedYears": {"type": "array", "items": {"type": "integer"},
                                "description": "Years closed (a YearClosed no later YearReopened undid)"},
            },
        ),
        "CostSplit": _object(
            ["organisation", "year", "policy", "totalCents", "shares"],
            {
                "organisation": {"type": "string"},
                "year": {"type": "integer"},
                "policy": policy,
                "basis": {"type": ["string", "null"], "description": "The key's basis (inwoners, clienten, ...)"},
                "keyYear": {"type": ["integer", "null"], "description": "The year the key in force was set for"},
                "totalCents": _cents("Net charge to the members: costs plus deficits minus surpluses"),
                "shares": {**_SETTLED_SHARES, "description": "Shares that add up exactly to totalCents"},
                "units": {"type": "array", "items": _object(["unit", "totalCents"], {
                    "unit": {"type": "string"}, "totalCents": _cents("The unit's net charge")})},
            },
        ),
        "Winst": _object(
            ["realisedCents", "reinvestedCents", "unappropriatedCents", "bySource", "byDestination"],
            {
                "party": {"type": "string"},
                "year": {"type": ["integer", "null"]},
                "realisedCents": _cents("Realised in the year"),
                "reinvestedCents": _cents("Reinvested in the year"),
                "carriedOverCents": _cents("Left unappropriated from earlier years"),
                "unappropriatedCents": _cents("carriedOver + realised - reinvested"),
                "bySource": {**_CENTS_BY_CODE, "description": "Realised per source"},
                "byDestination": {**_CENTS_BY_CODE, "description": "Reinvested per destination"},
                "policy": {**policy, "description": "Organisations: who benefits from the winst"},
                "byMember": {**_SHARES, "description": "Organisations: the realised winst per member under the policy"},
            },
        ),
        "Kpis": _object(
            ["party", "year", "placements", "banenafspraakJobs", "beschutWerk", "outflow", "subsidies"],
            {
                "party": {"type": "string"},
                "year": {"type": "integer"},
                "placements": {"type": "array", "items": _object(
                    ["kind", "started", "ended", "active"],
                    {
                        "kind": {"type": "string"},
                        "started": {"type": "integer"},
                        "ended": {"type": "integer"},
                        "active": {"type": "integer", "description": "Placed on 31 December"},
                        "activeHoursPerWeek": {"type": "number"},
                        "target": {"type": ["number", "null"]},
                        "binding": {"type": "boolean", "description": "The target is a cap"},
                    },
                )},
                "banenafspraakJobs": {"type": "number", "description": "Active banenafspraak hours per week / 25"},
                "beschutWerk": _object([], {
                    "places": {"type": "integer"}, "cap": {"type": ["number", "null"]}, "target": {"type": ["number", "null"]}}),
                "outflow": _object([], {
                    "volledig": {"type": "integer"}, "gedeeltelijk": {"type": "integer"},
                    "avoidedBenefitCents": _cents("Notional: never part of a balance")}),
                "subsidies": _object([], {
                    "active": {"type": "integer"}, "committedCents": _cents("Open commitments in the year")}),
            },
        ),
        "TrialBalance": _object(
            ["debitCents", "creditCents"],
            {
                "position": {"type": "integer", "description": "The last log position included"},
                "debitCents": _cents("All debits"),
                "creditCents": _cents("All credits (always equal to the debits)"),
                "accounts": {"type": "array", "items": _ref("AccountBalance")},
            },
        ),
        "TrailEntry": _object(
            ["position", "id", "type", "effectiveDate", "recordedAt", "postedBy", "subBudget"],
            {
                "position": {"type": "integer"},
                "id": {"type": "string", "format": "uuid"},
                "type": {"type": "string"},
                "effectiveDate": {"type": "string", "format": "date"},
                "reference": {"type": ["string", "null"]},
                "recordedAt": {"type": "string", "format": "date-time"},
                "postedBy": {"type": "string"},
                "subBudget": {"type": ["string", "null"]},
                "allocatedCents": _cents("Allocated by this event on this line"),
                "incomeCents": _cents("Income"),
                "spentCents": _cents("Spent"),
                "committedCents": _cents("Committed"),
            },
        ),
        "AccountBalance": _object(
            ["party", "account", "debitCents", "creditCents", "balanceCents"],
            {
                "party": {"type": "string"},
                "account": {"type": "string"},
                "debitCents": _cents("Debits"),
                "creditCents": _cents("Credits"),
                "balanceCents": _cents("Debits minus credits"),
            },
        ),
        "Posting": _object(
            ["position", "party", "year", "account", "debitCents", "creditCents", "recordedAt"],
            {
                "position": {"type": "integer"},
                "party": {"type": "string"},
                "year": {"type": "integer"},
                "account": {"type": "string"},
                "debitCents": _cents("Debit"),
                "creditCents": _cents("Credit"),
                "recordedAt": {"type": "string", "format": "date-time"},
            },
        ),
        "Iv3Row": _object(
            ["taakveld", "balanscode", "categorie", "standper", "bedragCents"],
            {
                "taakveld": {"type": ["string", "null"], "description": "lasten, baten: the taakveld, e.g. 6.3"},
                "balanscode": {"type": ["string", "null"], "description": "balans_*: the balance position, e.g. P112"},
                "categorie": {"type": ["string", "null"], "description": "Iv3 economische categorie (none on a stand)"},
                "standper": {"type": ["string", "null"], "description": "balans_standen: when, e.g. 1 januari, ultimo"},
                "bedragCents": _cents("The line's bedrag in cents"),
            },
            "One line of an Iv3 delivery as a table row (CSV, after its section `side`)",
        ),
        "Iv3": _object(
            ["metadata", "contact", "data"],
            {
                "metadata": _object(
                    ["overheidslaag", "overheidsnummer", "overheidsnaam", "boekjaar", "periode", "status", "datum",
                     "details_openbaar", "financieel_pakket", "export_software"],
                    {
                        "overheidslaag": {"type": "string", "enum": ["Gemeente", "GR"]},
                        "overheidsnummer": {"type": "string", "description": "The party's cbsNumber; a gemeente's "
                                            "defaults to its code's four digits (GM0439: 0439)"},
                        "overheidsnaam": {"type": "string"},
                        "boekjaar": {"type": "integer"},
                        "periode": {"type": "integer", "minimum": 0, "maximum": 5},
                        "status": {"type": "string", "enum": ["Begroting", "Realisatie"],
                                   "description": "Begroting for periode 0; whether the year is closed is in opmerkingen"},
                        "datum": {"type": "string", "format": "date-time", "description": "When the last event it counts was recorded (to the second)"},
                        "details_openbaar": {"type": "boolean"},
                        "financieel_pakket": {"type": "string"},
                        "export_software": {"type": "string", "description": "With the Iv3 mapping version"},
                    },
                ),
                "contact": _object(["naam", "email", "telefoon"], {
                    "naam": {"type": "string"}, "email": {"type": "string"}, "telefoon": {"type": "string"},
                }, "LEDGER_IV3_CONTACT_NAME, _EMAIL, _PHONE (unset: a placeholder CBS refuses, and an opmerking)"),
                "opmerkingen": {
                    "type": "array",
                    "items": _object(["tekst"], {"tekst": {"type": "string"}, "auteur": {"type": "string"}}),
                    "description": "One 'key: value' each: eenheid (thousands of euros, exact to the cent), mapping "
                                   "(the version of ledger/iv3.py's table), boekjaar (voorlopig, or definitief once "
                                   "the year is closed), definities (a year after CBS's last file), contact (unset)",
                },
                "data": _object(["lasten", "baten", "balans_lasten", "balans_baten", "balans_standen"], {
                    **{side: {"type": "array", "items": _IV3_LINE} for side in ("lasten", "baten")},
                    **{side: {"type": "array", "items": _IV3_BALANCE_LINE} for side in ("balans_lasten", "balans_baten")},
                    "balans_standen": {"type": "array", "items": _IV3_STAND},
                }),
            },
            "An Iv3 delivery valid against CBS's data schema 2.1.1 (ledger/cbs/), mapped from the events by the "
            "table in ledger/iv3.py and written per year by ledger/iv3_cbs.py. Every bedrag is in thousands of "
            "euros, exact to the cent (1.23456 is EUR 1.234,56)",
        ),
        "SisaIndicator": _object(
            ["code", "text", "valueCents", "missing"],
            {
                "code": {"type": ["string", "null"], "description": "The indicator's number in the bijlage, e.g. G2/01; "
                         "null where the mapping could not confirm it (ledger/sisa.py): fill the column of this text"},
                "text": {"type": "string", "description": "The indicator's text in the bijlage"},
                "valueCents": {"type": ["integer", "null"], "description": "The amount (euro cents); null where the "
                               "ledger does not hold it"},
                "missing": {"type": ["string", "null"], "description": "Why the ledger cannot fill it (null when it can)"},
            },
        ),
        "Sisa": _object(
            ["party", "year", "regeling", "title", "part", "mappingVersion", "indicators"],
            {
                "party": {"type": "string"},
                "year": {"type": "integer", "description": "The bijlage's year (jaar T), read by budget year"},
                "regeling": {"type": "string", "const": "G2"},
                "title": {"type": "string"},
                "part": {"type": "string", "enum": ["gemeentedeel", "deel openbaar lichaam"],
                         "description": "A gemeente's own bookings, or a shared organisation's"},
                "mappingVersion": {"type": "string", "description": "The version of the event-to-SiSa table"},
                "indicators": {"type": "array", "items": _ref("SisaIndicator")},
            },
            "SiSa G2 (Participatiewet) indicators, derived from the events by the table in ledger/sisa.py",
        ),
    }


def table_columns() -> dict[str, list[str]]:
    """The columns of each table the API renders as CSV or XLSX, by its name: the members of
    its row's schema, in order (api/render.py; a route adds the members it puts in front)."""
    schemas = _schemas()

    def members(schema: dict[str, Any]) -> list[str]:
        return list(schema["properties"])

    return {
        "events": members(schemas[f"Logged{next(iter(PAYLOADS))}"]),
        "balances": members(schemas["Balance"]),
        "reserves": members(schemas["Reserve"]),
        "runway": ["party", "reserve", *members(schemas["RunwayYear"])],
        "commitments": members(schemas["Commitment"]),
        "parties": members(schemas["Party"]),
        "journal": members(schemas["Posting"]),
        "trail": members(schemas["TrailEntry"]),
        "trial-balance": members(schemas["AccountBalance"]),
        "kpis": members(schemas["Kpis"]["properties"]["placements"]["items"]),
        "cost-split": ["organisation", "year", "policy", *members(_SETTLED_SHARES["items"])],
        "iv3": ["side", *members(schemas["Iv3Row"])],
        "sisa": ["party", "year", "regeling", "part", *members(schemas["SisaIndicator"])],
    }


def _paths() -> dict[str, Any]:
    secured = [{"bearerAuth": []}, {"oidc": []}]  # either kind of token
    return {
        "/v1/healthz": {"get": {"operationId": "healthz", "tags": ["service"], "summary": "The process is alive",
                                "description": "Also served at /healthz, outside the versioned API",
                                "security": [], "responses": _ok("Alive", _ref("Health"))}},
        "/v1/readyz": {"get": {"operationId": "readyz", "tags": ["service"], "summary": "The database answers",
                               "description": "Also served at /readyz, outside the versioned API (the "
                               "deployment's health checks)",
                               "security": [], "responses": {**_ok("Ready", _ref("Health")), **_errors("503")}}},
        "/v1/openapi.json": {"get": {"operationId": "openapi", "tags": ["service"], "summary": "This document",
                                     "security": [], "responses": _ok("OpenAPI 3.1 document", {"type": "object"})}},
        "/v1/events": {
            "post": {
                "operationId": "postEvents",
                "tags": ["events"],
                "summary": "Post one event, or an atomic batch of events",
                "description": "All events of a batch are stored, or none. Posting an id again with the same "
                "content answers 200 with the original result; with different content, 409. A spreadsheet "
                "(text/csv, ';' or ',' separated, UTF-8 with or without BOM or Windows-1252; or XLSX) holds one "
                "event a row: columns id, type, party, effectiveDate, year, reference, then data fields by name; "
                "amountCents in cents or amount in euros (1.234,56, 22.616-, € - or 1234.56; at most two "
                "decimals); a nested field as a column per key (weights.GM0200; members.GM0200 ja); an empty "
                "cell is an absent field. Its refusals name the row (the header is row 1) and the column. "
                "?dryRun=true checks every event against the rules as a post would and stores nothing.",
                "security": secured,
                "parameters": [_query("dryRun", "true: check every event as a post would, store nothing",
                                      {"type": "boolean", "default": False})],
                "requestBody": {"required": True, "content": {
                    "application/json": {"schema": {"oneOf": [_ref("Event"), _ref("EventBatch")]}},
                    CSV: {"schema": {"type": "string", "description": "One event a row under a header row "
                                     "(GET /v1/templates/{type})"}},
                    XLSX: {"schema": {"type": "string", "format": "binary",
                                      "description": "The first sheet: one event a row under a header row"}},
                }},
                "responses": {
                    **_ok("Stored", _ref("AcceptedEvents"), status="201"),
                    **_ok("Already stored: the original result; of a dry run: what a post would store",
                          {"oneOf": [_ref("AcceptedEvents"), _ref("DryRun")]}),
                    **_errors("400", "401", "403", "409", "413", "422"),
                },
            },
            "get": {
                "operationId": "listEvents",
                "tags": ["events"],
                "summary": "The ordered event log (Accept: application/x-ndjson streams it)",
                "security": secured,
                "parameters": [
                    _query("after", "Only events after this position", {"type": "integer", "minimum": 0, "maximum": MAX_POSITION}),
                    _query("limit", "At most this many events", {"type": "integer", "minimum": 1, "maximum": 1000}),
                    _PARTY,
                    _AS_OF,
                    _query("clientRef", "Only the events of this client of `party` (required with it): the ledger "
                           "finds them by the client's pseudonym, which the events show in its place. None once "
                           "the client was erased (`ledger erase-client`)",
                           {"type": "string", "pattern": REF}),
                ],
                "responses": {
                    "200": {
                        "description": "A page of the log",
                        "headers": _STANDARD_HEADERS,
                        "content": {
                            "application/json": {"schema": _page_of("LoggedEvent")},
                            "application/x-ndjson": {"schema": {"type": "string"}},
                            **TABLE_CONTENT,
                        },
                    },
                    **_errors("400", "401", "403"),
                },
            },
        },
        "/v1/templates/{type}": {
            "get": {
                "operationId": "getTemplate",
                "tags": ["events"],
                "summary": "A spreadsheet to fill in for one event type: its header row and an example row",
                "description": "The example row posts as it is once the examples before it (in the order of the "
                "event types) have; a row of one's own needs an id of its own. CSV (also the Dutch CSV: "
                "Accept: text/csv; dialect=nl) or XLSX, as Accept asks; CSV without.",
                "security": secured,
                "parameters": [{"name": "type", "in": "path", "required": True, "description": "An event type",
                                "schema": {"type": "string", "enum": list(PAYLOADS)}}],
                "responses": {
                    "200": {"description": "The template", "headers": _STANDARD_HEADERS, "content": TABLE_CONTENT},
                    **_errors("400", "401", "404"),
                },
            }
        },
        "/v1/events/{id}": {
            "get": {
                "operationId": "getEvent",
                "tags": ["events"],
                "summary": "One event by its id",
                "description": "An event the token may not read is not found, as an unknown id is: "
                "no answer tells that another party logged it.",
                "security": secured,
                "parameters": [{"name": "id", "in": "path", "required": True,
                                "schema": {"type": "string", "format": "uuid"}}, _AS_OF],
                "responses": {**_ok("The event", _ref("LoggedEvent")), **_errors("400", "401", "404")},
            }
        },
        "/v1/balances": {
            "get": {
                "operationId": "listBalances",
                "tags": ["balances"],
                "summary": "Budget balances per party, budget, sub-budget and year",
                "security": secured,
                "parameters": [_PARTY, _YEAR, *_YEAR_RANGE, _query("budget", "Budget code", {"type": "string"}),
                               _AS_OF, _PAGE, _PAGE_SIZE],
                "responses": {**_ok("Balances", _page_of("Balance"), csv=True), **_errors("400", "401", "403")},
            }
        },
        "/v1/reserves": {
            "get": {
                "operationId": "listReserves",
                "tags": ["reserves"],
                "summary": "Reserves at the end of a year by effective date (now, without year)",
                "security": secured,
                "parameters": [_PARTY, _YEAR, _AS_OF, _PAGE, _PAGE_SIZE],
                "responses": {**_ok("Reserves", _page_of("Reserve"), csv=True), **_errors("400", "401", "403")},
            }
        },
        "/v1/commitments": _read(
            "listCommitments", "balances", "Commitments (verplichtingen): registered, used, released and open",
            [_PARTY, _YEAR, _AS_OF, _PAGE, _PAGE_SIZE], _ok("Commitments", _page_of("Commitment"), csv=True), secured,
        ),
        "/v1/reserves/{party}/{reserve}/runway": _read(
            "getReserveRunway", "reserves", "A reserve's balance year by year and the year it runs dry",
            [{"name": "party", "in": "path", "required": True, "schema": {"type": "string", "pattern": PARTY_CODE}},
             {"name": "reserve", "in": "path", "required": True, "schema": {"type": "string", "pattern": CODE}},
             _AS_OF],
            _ok("The runway", _ref("Runway"), csv=True), secured, ("400", "401", "403", "404"),
        ),
        **_organisation_paths(secured),
        **_audit_paths(secured),
    }


_POLICY = _query("policy", "solidariteit or profijt (default: the policy of the year's key)",
                 {"type": "string", "enum": ["solidariteit", "profijt"]})


def _read(operation: str, tag: str, summary: str, parameters: list[dict[str, Any]], ok: dict[str, Any],
          secured: list[dict[str, Any]], errors: tuple[str, ...] = ("400", "401", "403")) -> dict[str, Any]:
    return {"get": {"operationId": operation, "tags": [tag], "summary": summary, "security": secured,
                    "parameters": parameters, "responses": {**ok, **_errors(*errors)}}}


def _organisation_paths(secured: list[dict[str, Any]]) -> dict[str, Any]:
    required_year = {**_YEAR, "required": True}
    return {
        "/v1/parties": _read(
            "listParties", "parties", "The parties this token may read, with the years they have figures for",
            [_PARTY, _AS_OF, _PAGE, _PAGE_SIZE], _ok("Parties", _page_of("Party"), csv=True), secured,
        ),
        "/v1/organisations/{code}/cost-split": _read(
            "getCostSplit", "organisations",
            "An organisation's net charge for a year, split among its members (shares add up exactly)",
            [{"name": "code", "in": "path", "required": True, "schema": {"type": "string", "pattern": PARTY_CODE}},
             required_year, _POLICY, _AS_OF],
            _ok("The split", _ref("CostSplit"), csv=True), secured, ("400", "401", "403", "404"),
        ),
        "/v1/winst": _read(
            "getWinst", "winst", "Winst realised, reinvested and unappropriated (the solidarity principle)",
            [_PARTY, _YEAR, _POLICY, _AS_OF], _ok("Winst", _ref("Winst")), secured,
        ),
        "/v1/kpis": _read(
            "getKpis", "kpis", "Placements against targets, banenafspraak jobs, outflow, open commitments",
            [_PARTY, required_year, _AS_OF], _ok("KPIs", _ref("Kpis"), csv=True), secured,
        ),
        "/v1/trial-balance": _read(
            "getTrialBalance", "journal", "Debits and credits of the journal (per account for one party)",
            [_PARTY, _query("position", "Only events up to this log position", {"type": "integer", "minimum": 0, "maximum": MAX_POSITION}), _AS_OF],
            _ok("The trial balance", _ref("TrialBalance"), csv=True), secured,
        ),
        "/v1/balances/{party}/{year}/{budget}/trail": _read(
            "listTrail", "balances", "Every event behind a budget's figures, in log order, with who posted it",
            [{"name": "party", "in": "path", "required": True, "schema": {"type": "string", "pattern": PARTY_CODE}},
             {"name": "year", "in": "path", "required": True, "schema": {"type": "integer", "minimum": FIRST_YEAR, "maximum": LAST_YEAR}},
             {"name": "budget", "in": "path", "required": True, "schema": {"type": "string"}},
             _AS_OF, _PAGE, _PAGE_SIZE],
            _ok("The trail", _page_of("TrailEntry"), csv=True), secured,
        ),
        "/v1/journal": _read(
            "listPostings", "journal", "A party's double-entry postings in log order",
            [_PARTY, _YEAR, _AS_OF, _PAGE, _PAGE_SIZE], _ok("Postings", _page_of("Posting"), csv=True), secured,
        ),
        "/v1/iv3": _read(
            "getIv3", "iv3", "The Iv3 delivery as CBS takes it (data schema 2.1.1, that year's definities); "
            "XLSX: the sheets lasten, baten and balans of CBS's Excel model; CSV: one row per line, with its "
            "section as side (422 iv3-before-taakvelden before a year's taakvelden, cbs-number-missing for an "
            "organisation without cbsNumber)",
            [_PARTY, required_year,
             _query("period", "0 begroting, 1-4 the quarters (cumulative), 5 jaarrekening",
                    {"type": "integer", "minimum": 0, "maximum": 5, "default": 5}),
             _AS_OF],
            {**_ok("The Iv3 delivery", _ref("Iv3"), csv=True),
             **_problem("422", "No delivery: a year before the taakvelden of its overheidslaag (Gemeente 2017, GR "
                               "2018; iv3-before-taakvelden) or an organisation without cbsNumber (cbs-number-missing)")},
            secured, ("400", "401", "403", "404"),
        ),
        "/v1/sisa": _read(
            "getSisa", "sisa", "SiSa G2 indicators of the Participatiewet for a bijlage year "
            "(422 sisa-year-not-mapped for a year the mapping lacks; CSV: one row per indicator)",
            [_PARTY, required_year, _AS_OF],
            {**_ok("The SiSa indicators", _ref("Sisa"), csv=True),
             **_problem("422", "The mapping covers no bijlage of that year (sisa-year-not-mapped)")},
            secured, ("400", "401", "403", "404"),
        ),
    }


def _with_429_and_503(paths: dict[str, Any]) -> dict[str, Any]:
    """Every operation that needs the database may answer 503 (api/app.py); only the
    liveness probe and this document do not. Every one that needs a token may answer 429
    (api/limits.py)."""
    for path, operations in paths.items():
        for operation in operations.values():
            if "401" in operation["responses"]:
                operation["responses"].update(_errors("429"))
            if path not in ("/v1/healthz", "/v1/openapi.json"):
                operation["responses"].update(_errors("503"))
    return paths


BASE = "/v1"  # the major version: the document's server, so the ADR's rule sees it there
# The probes, served under BASE (where the document names them, so a generated client
# reaches them) and also outside it, where deployments' health checks call them.
PROBES = ("/healthz", "/readyz")


def query_parameters() -> dict[tuple[str, str], frozenset[str]]:
    """Each operation's query parameters by (METHOD, route path), as this document names
    them: any other is refused (a mistyped `?yaer=` would otherwise be silently ignored).
    The probes outside BASE as their documented selves under it."""
    known = {
        (method.upper(), path): frozenset(p["name"] for p in operation.get("parameters", []) if p["in"] == "query")
        for path, item in _paths().items()
        for method, operation in item.items()
    }
    return known | {(method, path.removeprefix(BASE)): names for (method, path), names in known.items()
                    if path.removeprefix(BASE) in PROBES}


def document_path(path: str) -> str:
    """A route's path as the document names it: relative to its server."""
    return path.removeprefix(BASE) if path.startswith(BASE + "/") else path


def _relative_to_server(paths: dict[str, Any]) -> dict[str, Any]:
    """Every path relative to the document's one server, `/v1` (a relative URL, resolved
    against wherever the document is served). No path has a server of its own: generators
    ignore one, and their clients would call the path under `/v1` all the same."""
    assert all(path.startswith(BASE + "/") for path in paths), [p for p in paths if not p.startswith(BASE + "/")]
    return {document_path(path): item for path, item in paths.items()}


def document(contact: dict[str, str]) -> dict[str, Any]:
    return {
        "openapi": "3.1.0",
        "info": {
            "title": "participatie-ledger",
            "version": API_VERSION,
            "description": "Event-sourced budget ledger for municipalities carrying out the Participatiewet. "
            "Amounts are integer euro cents. Each token may send a burst of requests and then a steady rate "
            "(429 beyond it); send `X-Request-ID` to find a request in the server's logs.",
            "contact": contact,
        },
        "servers": [{"url": BASE, "description": "Version 1, on the host that serves this document"}],
        "tags": [{"name": n} for n in ("service", "events", "parties", "balances", "reserves", "organisations", "winst", "kpis", "journal", "audit", "iv3", "sisa")],
        # Either scheme: a CLI token or, where the operator configured an issuer, its JWT.
        "security": [{"bearerAuth": []}, {"oidc": []}],
        "paths": _relative_to_server(_with_429_and_503(_paths())),
        "components": {
            "schemas": _schemas(),
            "securitySchemes": {
                "bearerAuth": {
                    "type": "http", "scheme": "bearer",
                    "description": "A token of the ledger's CLI (`ledger token create`, `plg_...`), stored hashed and "
                    "expiring; sent as `Authorization: Bearer <token>`.",
                },
                "oidc": {
                    "type": "openIdConnect",
                    # The served document names the configured issuer's (api/app.py); this placeholder stands
                    # where none is configured.
                    "openIdConnectUrl": "https://issuer.example.org/.well-known/openid-configuration",
                    "description": "A JWT access token of the OpenID Connect issuer the operator configured "
                    "(LEDGER_OIDC_ISSUER, its discovery document at `{issuer}/.well-known/openid-configuration`; "
                    "LEDGER_OIDC_AUDIENCE the `aud` it must carry), sent as `Authorization: Bearer <jwt>`. Its "
                    "role and party come from the claims LEDGER_OIDC_ROLE_CLAIM (ledger_role) and "
                    "LEDGER_OIDC_PARTY_CLAIM (ledger_party); its `sub` and `name` name the poster of what it posts. "
                    "Signed with an asymmetric algorithm (LEDGER_OIDC_ALGORITHMS: RS256, ES256, PS256). Not "
                    "accepted unless LEDGER_OIDC_ISSUER is set.",
                },
            },
        },
    }
