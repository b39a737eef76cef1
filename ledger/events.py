"""The typed events a client may post, validated strictly on the way in.

An event is an envelope (id, type, party, effectiveDate, year, reference) around a
typed `data` payload, one pydantic model per event type of api.md. Validation is
strict on purpose: amounts are JSON integers in cents (a float or a string is an
error, never coerced), dates are real calendar dates, codes are kebab-case. A valid
event becomes an immutable `Event` whose `entry` is the canonical dict the ledger
stores and hashes; an invalid one raises `InvalidEvent` listing every bad field.
"""

from __future__ import annotations

import hashlib
import re
import unicodedata
import uuid
from collections.abc import Callable, Iterable
from dataclasses import dataclass, field
from datetime import date
from typing import Annotated, Any, Literal

import msgspec
import orjson
from pydantic import (
    AfterValidator,
    BaseModel,
    ConfigDict,
    Field,
    StrictBool,
    StrictFloat,
    StrictInt,
    StringConstraints,
    ValidationError,
    model_validator,
)

from ledger.bounds import FIRST_YEAR, LAST_YEAR, MAX_CENTS, MAX_GRANT_MONTHS
from ledger.fastparse import Twin
from ledger.subsidy import months_between

# --- field types ---------------------------------------------------------------


def _real_date(value: str) -> str:
    try:
        date.fromisoformat(value)
    except ValueError:
        raise ValueError("not a real calendar date") from None
    if not FIRST_YEAR <= int(value[:4]) <= LAST_YEAR:
        raise ValueError(f"the ledger keeps the years {FIRST_YEAR} to {LAST_YEAR}")
    return value


def _printable(value: str) -> str:
    """Free text holds no control characters: they hide what a reader sees (a BSN
    behind a U+0001), and no spreadsheet or log can show them."""
    if value.isascii() and value.isprintable():  # the common case, answered at C speed
        return value
    if any(unicodedata.category(c) == "Cc" for c in value):
        raise ValueError("holds a control character")
    return value


CODE = r"^[a-z0-9]+(-[a-z0-9]+)*$"  # budgets, reserves, categories: kebab-case
Code = Annotated[str, StringConstraints(pattern=CODE, max_length=64)]
# api.md: gemeenten by CBS code, organisations by a code the admin registers.
PARTY_CODE = r"^[A-Z0-9-]{2,40}$"
PartyCode = Annotated[str, StringConstraints(pattern=PARTY_CODE)]
REF = r"^[A-Za-z0-9._:/-]{1,64}$"  # ids the party gives: subsidies, placements, commitments, clients
Ref = Annotated[str, StringConstraints(pattern=REF)]
# A client: the ledger stores, and answers with, a keyed pseudonym of it (ledger/pseudonyms.py).
ClientRef = Annotated[Ref, Field(json_schema_extra={
    "description": "The party's own reference of the client, never a BSN. The ledger stores and answers a "
                   "pseudonym in its place (ps_ and 32 letters); GET /v1/events?party=&clientRef= finds it"})]
# CBS's overheidsnummer, the number an Iv3 delivery is filed under (a gemeente's are its
# code's four digits; a gemeenschappelijke regeling's CBS gives it): digits only.
CbsNumber = Annotated[
    str, StringConstraints(pattern=r"^[0-9]{4,8}$"),
    Field(json_schema_extra={"description": "CBS's overheidsnummer (Iv3), e.g. 0439"}),
]
# Free text as the OpenAPI document describes it: no control character (C0, DEL, C1).
PRINTABLE = {"pattern": "^[^\\u0000-\\u001f\\u007f-\\u009f]*$"}
Text = Annotated[
    str, StringConstraints(min_length=1, max_length=500), AfterValidator(_printable), Field(json_schema_extra=PRINTABLE)
]
# A council decision, invoice or beschikking as the party writes it.
Reference = Annotated[
    str, StringConstraints(max_length=200), AfterValidator(_printable), Field(json_schema_extra=PRINTABLE)
]
IsoDate = Annotated[
    str,
    StringConstraints(pattern=r"^\d{4}-\d{2}-\d{2}$"),
    AfterValidator(_real_date),
    Field(json_schema_extra={"format": "date", "description": f"A date in the years {FIRST_YEAR}-{LAST_YEAR}"}),
]
Cents = Annotated[StrictInt, Field(ge=-MAX_CENTS, le=MAX_CENTS)]
PositiveCents = Annotated[StrictInt, Field(gt=0, le=MAX_CENTS)]
NonNegativeCents = Annotated[StrictInt, Field(ge=0, le=MAX_CENTS)]


def _non_zero(value: int) -> int:
    if value == 0:
        raise ValueError("reverses no cents: leave amountCents out to reverse all that is left")
    return value


NonZeroCents = Annotated[Cents, AfterValidator(_non_zero)]
Number = StrictInt | StrictFloat  # weights, percentages, hours: never money
Weight = Annotated[Number, Field(ge=0)]
Percentage = Annotated[Number, Field(ge=0, le=100)]
PlacementKind = Literal[
    "beschut-werk", "banenafspraak", "detachering", "proefplaatsing", "werkervaringsplaats", "regulier", "dagbesteding"
]


class EventData(BaseModel):
    """Base of every payload: immutable, unknown fields refused (no silent typos)."""

    model_config = ConfigDict(extra="forbid", frozen=True)


# --- payloads, one per event type (api.md "Event data by type") -----------------


class PartyRegistered(EventData):
    name: Text
    kind: Literal["gemeente", "organisation"]
    cbsNumber: CbsNumber | None = None


class OrganisationRegistered(EventData):
    name: Text
    members: list[PartyCode] = Field(min_length=1)
    fundHolder: PartyCode | None = None
    cbsNumber: CbsNumber | None = None

    @model_validator(mode="after")
    def _distinct_members(self) -> OrganisationRegistered:
        if len(set(self.members)) != len(self.members):
            raise ValueError("members must be distinct")
        if self.fundHolder is not None and self.fundHolder not in self.members:
            raise ValueError("fundHolder must be one of the members")
        return self


class PartyUpdated(EventData):
    """A registered party's new name or CBS number (admin only): what its registration
    got wrong or left out, from its effective date on. A field left out stays as it was."""

    name: Text | None = None
    cbsNumber: CbsNumber | None = None

    @model_validator(mode="after")
    def _changes_something(self) -> PartyUpdated:
        if self.name is None and self.cbsNumber is None:
            raise ValueError("give name, cbsNumber or both")
        return self


class MembershipChanged(EventData):
    member: PartyCode
    change: Literal["joined", "left"]


class BudgetAllocated(EventData):
    budget: Code
    subBudget: Code | None = None
    source: Code
    amountCents: NonNegativeCents
    status: Literal["voorlopig", "definitief"] = "definitief"


class BudgetRevised(EventData):
    """A begrotingswijziging: the signed change, by which council decision, of what kind."""

    budget: Code
    subBudget: Code | None = None
    amountCents: Cents
    councilDecision: Reference | None = None
    kind: Literal["begrotingswijziging", "circulaire", "overig"] = "overig"


class SteeringModeSet(EventData):
    budget: Code
    subBudget: Code | None = None
    mode: Literal["richtinggevend", "kaderstellend", "integraal"]


class IncomeBooked(EventData):
    budget: Code
    subBudget: Code | None = None
    source: Code
    amountCents: PositiveCents


class FundsReallocated(EventData):
    fromBudget: Code
    fromSubBudget: Code | None = None
    toBudget: Code
    toSubBudget: Code | None = None
    amountCents: PositiveCents

    @model_validator(mode="after")
    def _two_lines(self) -> FundsReallocated:
        if (self.fromBudget, self.fromSubBudget) == (self.toBudget, self.toSubBudget):
            raise ValueError("from and to are the same budget line")
        return self


class CostBooked(EventData):
    """A cost; with `commitmentId` it uses up that much of the open commitment (the rest
    is uncommitted spending)."""

    budget: Code
    subBudget: Code | None = None
    category: Code
    amountCents: PositiveCents
    commitmentId: Ref | None = None


class CommitmentRegistered(EventData):
    """A verplichting on a budget line: an order, contract or beschikking that will cost
    this much; it counts in `committedCents` until costs use it up or it is released."""

    commitmentId: Ref
    budget: Code
    subBudget: Code | None = None
    category: Code
    amountCents: PositiveCents


class CommitmentReleased(EventData):
    """What is no longer expected of a commitment (default: all that is open)."""

    commitmentId: Ref
    amountCents: PositiveCents | None = None


class SubsidyGranted(EventData):
    subsidyId: Ref
    clientRef: ClientRef
    instrument: Code
    budget: Code = "inkomensdeel"
    loonwaardePct: Percentage
    wmlMonthlyCents: PositiveCents
    partTimeFactor: Annotated[Number, Field(gt=0, le=1)] = 1
    startDate: IsoDate
    endDate: IsoDate | None = None

    @model_validator(mode="after")
    def _ordered_dates(self) -> SubsidyGranted:
        if self.endDate is not None and self.endDate < self.startDate:
            raise ValueError("endDate is before startDate")
        if self.endDate is not None and months_between(self.startDate, self.endDate) > MAX_GRANT_MONTHS:
            raise ValueError(f"a grant runs at most {MAX_GRANT_MONTHS} months")
        return self


class LoonwaardeMeasured(EventData):
    subsidyId: Ref
    loonwaardePct: Percentage


class SubsidyPaid(EventData):
    subsidyId: Ref
    amountCents: PositiveCents


class SubsidyEnded(EventData):
    subsidyId: Ref


class PlacementStarted(EventData):
    placementId: Ref
    clientRef: ClientRef
    kind: PlacementKind
    hoursPerWeek: Annotated[Number, Field(gt=0, le=60)]
    priorityGroup: Code | None = None


class PlacementTargetSet(EventData):
    """The year's target for a kind of placement: places, or for banenafspraak jobs of
    25 hours a week. A binding target is a cap: a placement beyond it is refused."""

    kind: PlacementKind
    places: Annotated[Number, Field(ge=0, le=1_000_000)]
    binding: StrictBool = False


class PlacementEnded(EventData):
    placementId: Ref
    reason: Text


class OutflowRegistered(EventData):
    clientRef: ClientRef
    extent: Literal["volledig", "gedeeltelijk"]
    reason: Text
    avoidedBenefitCents: NonNegativeCents


class ReserveEstablished(EventData):
    reserve: Code
    openingBalanceCents: NonNegativeCents
    purpose: Text
    revolving: StrictBool = False


class ReserveAdded(EventData):
    reserve: Code
    budget: Code | None = None
    subBudget: Code | None = None
    amountCents: PositiveCents
    reflux: StrictBool = False

    @model_validator(mode="after")
    def _sub_needs_budget(self) -> ReserveAdded:
        if self.subBudget is not None and self.budget is None:
            raise ValueError("subBudget given without budget")
        return self


class ReserveWithdrawn(EventData):
    reserve: Code
    budget: Code
    subBudget: Code | None = None
    amountCents: PositiveCents


class WinstRealised(EventData):
    source: Literal["loonvormende-arbeid", "ideel-besparing", "opdrachten"]
    amountCents: PositiveCents
    member: PartyCode | None = None


class WinstReinvested(EventData):
    destination: Code
    amountCents: PositiveCents


class AllocationKeySet(EventData):
    basis: Literal["inwoners", "clienten", "wsw-se", "vast", "gebruik"]
    weights: dict[PartyCode, Weight] = Field(min_length=1)
    policy: Literal["solidariteit", "profijt"]


class OrganisationResultDetermined(EventData):
    unit: Code
    amountCents: Cents
    usage: dict[PartyCode, Weight] | None = None


class OrganisationCostBooked(EventData):
    unit: Code
    amountCents: PositiveCents
    usage: dict[PartyCode, Weight] | None = None


class ContributionInvoiced(EventData):
    """A shared organisation invoices a member an advance (voorschot) on its contribution
    to the budget year; the settlement (afrekening) is the member's share less what it paid."""

    member: PartyCode
    amountCents: PositiveCents


class ContributionPaid(EventData):
    """A member paid the organisation towards its contribution to the budget year."""

    member: PartyCode
    amountCents: PositiveCents


class YearClosed(EventData):
    pass


class YearReopened(EventData):
    """Opens the closed budget `year` again (admin only); the envelope's `reference`
    names the council or accountant decision, and is required. A later YearClosed
    seals it again."""


class ClientErased(EventData):
    """A client's key was destroyed (`ledger erase-client`, on an AVG request the
    envelope's `reference` names): nothing links the client to its events any more
    (ledger/pseudonyms.py). It names the key by its id, never the client."""

    keyId: Annotated[str, StringConstraints(pattern=r"^[a-p]{32}$")]


class Correction(EventData):
    """Reverses an earlier event, or with `amountCents` part of its amount (same sign
    as the original's); without it, whatever of the original is not yet corrected."""

    corrects: uuid.UUID
    reason: Text
    amountCents: NonZeroCents | None = None


PAYLOADS: dict[str, type[EventData]] = {
    cls.__name__: cls
    for cls in (
        PartyRegistered,
        OrganisationRegistered,
        PartyUpdated,
        MembershipChanged,
        BudgetAllocated,
        BudgetRevised,
        SteeringModeSet,
        IncomeBooked,
        FundsReallocated,
        CostBooked,
        CommitmentRegistered,
        CommitmentReleased,
        SubsidyGranted,
        LoonwaardeMeasured,
        SubsidyPaid,
        SubsidyEnded,
        PlacementStarted,
        PlacementEnded,
        PlacementTargetSet,
        OutflowRegistered,
        ReserveEstablished,
        ReserveAdded,
        ReserveWithdrawn,
        WinstRealised,
        WinstReinvested,
        AllocationKeySet,
        OrganisationResultDetermined,
        OrganisationCostBooked,
        ContributionInvoiced,
        ContributionPaid,
        YearClosed,
        YearReopened,
        ClientErased,
        Correction,
    )
}

REGISTRATION_TYPES = frozenset({"PartyRegistered", "OrganisationRegistered"})
# Recorded by a ledger command (`ledger erase-client`), never posted by a client.
LEDGER_ONLY_TYPES = frozenset({"ClientErased"})
ADMIN_ONLY_TYPES = REGISTRATION_TYPES | LEDGER_ONLY_TYPES | {"PartyUpdated", "YearReopened"}
# Types whose envelope must carry a `reference`: the decision or request that allows them.
NEEDS_REFERENCE = frozenset({"YearReopened", "ClientErased"})
GEMEENTE_CODE = re.compile(r"^GM\d{4}$")


class Envelope(BaseModel):
    """The fields every event shares; `data` is checked against its type's payload."""

    model_config = ConfigDict(extra="forbid", frozen=True)

    id: uuid.UUID
    type: Literal[tuple(PAYLOADS)]  # type: ignore[valid-type]
    party: PartyCode
    effectiveDate: IsoDate
    year: Annotated[StrictInt, Field(ge=FIRST_YEAR, le=LAST_YEAR)] | None = None
    reference: Reference | None = None
    data: dict[str, Any] = Field(default_factory=dict)


# --- the validated event ----------------------------------------------------------


@dataclass(frozen=True, slots=True)
class InvalidParam:
    """One bad field, in the shape of the ADR problem extension `invalidParams`."""

    name: str
    code: str
    reason: str

    def as_dict(self, index: int | None = None) -> dict[str, Any]:
        out: dict[str, Any] = {"name": self.name, "code": self.code, "reason": self.reason}
        if index is not None:
            out["index"] = index
        return out


class InvalidEvent(Exception):
    """An event that does not match its schema; `params` names every bad field."""

    def __init__(self, params: list[InvalidParam]):
        super().__init__("; ".join(f"{p.name}: {p.reason}" for p in params))
        self.params = params


@dataclass(frozen=True, slots=True)
class Event:
    """A validated event. `entry` is its canonical form: defaults filled in,
    `year` resolved, absent optionals left out, so equal content hashes equal."""

    entry: dict[str, Any]
    content_hash: str = field(compare=False)

    @property
    def id(self) -> str:
        return self.entry["id"]

    @property
    def type(self) -> str:
        return self.entry["type"]

    @property
    def party(self) -> str:
        return self.entry["party"]

    @property
    def year(self) -> int:
        return self.entry["year"]

    @property
    def data(self) -> dict[str, Any]:
        return self.entry["data"]


def content_hash(entry: dict[str, Any]) -> str:
    """SHA-256 of the canonical JSON encoding (sorted keys, no whitespace)."""
    return hashlib.sha256(orjson.dumps(entry, option=orjson.OPT_SORT_KEYS)).hexdigest()


def _params(error: ValidationError, prefix: str = "") -> list[InvalidParam]:
    out = []
    for err in error.errors(include_url=False, include_input=False):
        path = ".".join(str(p) for p in err["loc"] if p != "function-after[_real_date(), str]")
        name = f"{prefix}{path}" if path else prefix.rstrip(".") or "body"
        out.append(InvalidParam(name=name, code=err["type"], reason=err["msg"]))
    return out


class InvalidBatch(Exception):
    """Events of a batch that do not match their schema, or share an id: `params` holds
    each bad field as (the event's index in the batch, the field)."""

    def __init__(self, params: list[tuple[int, InvalidParam]]):
        super().__init__(f"{len({i for i, _ in params})} events are invalid")
        self.params = params


def parse_batch(raws: Iterable[Any], name_of: Callable[[int], str]) -> list[Event]:
    """Every event of a batch, or `InvalidBatch` naming every bad field of every bad
    event, an id that occurs twice included (the later one, pointing at the first by
    `name_of` its index: how the caller numbers events)."""
    events: list[Event] = []
    params: list[tuple[int, InvalidParam]] = []
    seen: dict[str, int] = {}
    for i, raw in enumerate(raws):
        try:
            event = parse_event(raw)
        except InvalidEvent as e:
            params += [(i, p) for p in e.params]
            continue
        if event.id in seen:
            params.append((i, InvalidParam("id", "duplicate_id", f"the same id as {name_of(seen[event.id])}")))
        seen.setdefault(event.id, i)
        events.append(event)
    if params:
        raise InvalidBatch(params)
    return events


def parse_event(raw: Any) -> Event:
    """Validate one raw JSON value as an event; raise `InvalidEvent` naming every bad field.

    The msgspec twins answer almost every event; what they refuse or are unsure of
    is asked of the pydantic models, which name the bad fields."""
    return parse_event_fast(raw) or parse_event_pydantic(raw)


def parse_event_pydantic(raw: Any) -> Event:
    """`parse_event` by the pydantic models alone, the source of truth."""
    if not isinstance(raw, dict):
        raise InvalidEvent([InvalidParam("body", "object_type", "an event must be a JSON object")])
    try:
        envelope = Envelope.model_validate(raw)
    except ValidationError as e:
        params = _params(e)
        payload = PAYLOADS.get(raw.get("type")) if isinstance(raw.get("type"), str) else None
        if payload is not None and isinstance(raw.get("data", {}), dict):
            try:
                payload.model_validate(raw.get("data", {}))
            except ValidationError as de:
                params += _params(de, "data.")
        raise InvalidEvent(params) from None
    try:
        data = PAYLOADS[envelope.type].model_validate(envelope.data)
    except ValidationError as e:
        raise InvalidEvent(_params(e, "data.")) from None
    dumped = data.model_dump(mode="json", exclude_none=True)
    misfit = _misfit(envelope.type, envelope.party, envelope.reference, dumped)
    if misfit is not None:
        raise InvalidEvent([misfit])
    return _event(str(envelope.id), envelope.type, envelope.party, envelope.effectiveDate, envelope.year,
                  envelope.reference, dumped)


def parse_event_fast(raw: Any) -> Event | None:
    """`parse_event` by the msgspec twins (ledger/fastparse.py), or None to ask pydantic."""
    kind = raw.get("type") if isinstance(raw, dict) else None
    if not isinstance(kind, str) or kind not in _FAST_TWINS:
        return None
    twin, payload = _FAST_TWINS[kind]
    try:  # one struct per type: msgspec converts to a union of 27 five times slower
        envelope = msgspec.convert(raw, twin.struct)
    except msgspec.ValidationError:
        return None
    head, data = twin.dump(envelope), payload.dump(envelope.data)
    if head is None or data is None or _misfit(kind, head["party"], head.get("reference"), data) is not None:
        return None
    return _event(head["id"], kind, head["party"], head["effectiveDate"], head.get("year"), head.get("reference"), data)


def _misfit(kind: str, party: str, reference: str | None, data: dict[str, Any]) -> InvalidParam | None:
    """What makes an event whose every field is valid still a bad one, for both parsers: a
    gemeente registered under another code than its CBS code, a decision left unnamed."""
    if kind == "PartyRegistered" and data["kind"] == "gemeente" and not GEMEENTE_CODE.match(party):
        return InvalidParam("party", "gemeente_code", "a gemeente is its CBS code: GM and 4 digits")
    if kind in NEEDS_REFERENCE and not reference:
        return InvalidParam("reference", "missing", f"a {kind} names the decision that allows it")
    return None


def _event(event_id: str, kind: str, party: str, effective: str, year: int | None, reference: str | None,
           data: dict[str, Any]) -> Event:
    entry: dict[str, Any] = {
        "id": event_id,
        "type": kind,
        "party": party,
        "effectiveDate": effective,
        "year": year if year is not None else int(effective[:4]),
        "data": data,
    }
    if reference is not None:
        entry["reference"] = reference
    return Event(entry=entry, content_hash=content_hash(entry))


def _fast_twins() -> dict[str, tuple[Twin, Twin]]:
    """Per event type, one struct of the envelope tagged by `type` around its payload's."""
    out = {}
    for kind, model in PAYLOADS.items():
        payload = Twin(model)
        data: tuple[Any, ...] = ("data", payload.struct)
        if not any(f.is_required() for f in model.model_fields.values()):  # `data` may be left out, as {}
            data += (msgspec.field(default_factory=payload.struct),)
        twin = Twin(Envelope, skip={"type", "data"}, extra=[data], name=f"{kind}Event", tag_field="type", tag=kind)
        out[kind] = (twin, payload)
    return out


_FAST_TWINS = _fast_twins()
