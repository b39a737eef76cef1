"""A party's books: the aggregate that decides whether an event may be posted.

Why one aggregate per party rather than one per budget, reserve or year: every rule
of domain.md is scoped to one party but crosses its budgets. A reserve withdrawal
feeds a budget, a closed year freezes all of them, an I-deel saving is bounded by
the inkomensdeel's surplus. With the party's books as the consistency boundary,
each client event is exactly one stored event (one position), every rule is checked
against one consistent state, and two writers conflict only when they post for the
same party, in which case the batch is retried on fresh state.

The state holds only what the rules need (balances per line, reserve movements per
date, winst per year, open subsidies and placements), as plain JSON-able values so
the library can snapshot it.
"""

from __future__ import annotations

import uuid
from collections.abc import Iterable
from contextvars import ContextVar
from datetime import datetime
from fractions import Fraction
from typing import Any, NamedTuple, Protocol

from eventsourcing.domain import Aggregate, datetime_now_with_tzinfo, event

from ledger import subsidy
from ledger.audit import sealed_figures
from ledger.bounds import MAX_GRANT_MONTHS, MAX_PARTIES, PARTY_VOLUME_CAP, volume
from ledger.effects import Effects, LineDelta, effects_of
from ledger.rules import RuleViolation, check_charging_rule

_NAMESPACE = uuid.UUID("5b0e1c4e-7a57-4d0b-9a3e-2f4f0c6f1e10")

# Types that spend from a budget line, so the budget must exist for that year.
_CONSUMING = frozenset({"CostBooked", "BudgetRevised", "SubsidyPaid", "ReserveAdded", "Correction", "CommitmentRegistered"})
# Types whose effects a Correction may reverse.
CORRECTABLE = frozenset(
    {
        "BudgetAllocated",
        "BudgetRevised",
        "IncomeBooked",
        "FundsReallocated",
        "CostBooked",
        "SubsidyPaid",
        "ReserveEstablished",
        "ReserveAdded",
        "ReserveWithdrawn",
        "WinstRealised",
        "WinstReinvested",
        "OrganisationCostBooked",
        "OrganisationResultDetermined",
        "OutflowRegistered",
        "ContributionInvoiced",
        "ContributionPaid",
    }
)
# The field a partial correction reverses part of (every other correctable type with an
# amount has `amountCents`); an outflow counts a client, which has no part to reverse.
_CORRECTED_AMOUNT = {"ReserveEstablished": "openingBalanceCents", "OutflowRegistered": None}
# Types that change a subsidy's commitment; the book derives the change.
_SUBSIDY = frozenset({"SubsidyGranted", "LoonwaardeMeasured", "SubsidyPaid", "SubsidyEnded"})
_ORGANISATION_ONLY = frozenset(
    {"MembershipChanged", "AllocationKeySet", "OrganisationCostBooked", "OrganisationResultDetermined",
     "ContributionInvoiced", "ContributionPaid"}
)


class Context(Protocol):
    """What a book may ask of the rest of the ledger while deciding."""

    def party_kind(self, code: str) -> str | None:
        """'gemeente' or 'organisation' for a registered party, else None."""

    def original(self, event_id: str) -> tuple[dict[str, Any], dict[str, Any]] | None:
        """The (entry, derived) of an accepted event, for corrections."""

    def party_count(self) -> int:
        """How many parties are registered, this batch's included."""


def _line_key(year: int, budget: str, sub: str | None) -> str:
    return f"{year}|{budget}|{sub or ''}"


def placement_measure(kind: str, hours_per_week: int | float) -> Fraction:
    """How much one placement counts towards its kind's target: banenafspraak counts
    jobs of 25 paid hours a week (seed 003 L1637), every other kind counts places."""
    return subsidy.exact(hours_per_week) / 25 if kind == "banenafspraak" else Fraction(1)


class Decision(NamedTuple):
    """What `Book.decide` found for an accepted event: what the ledger derives for it,
    its effects, and what it adds to the party's volume. Computed once, then applied
    to the book and projected (projections/runner.py)."""

    derived: dict[str, Any]
    effects: Effects
    volume: int


# When set, the instant the event being recorded was first recorded: an import of an
# exported log keeps every event's recordedAt, so as-of reads answer as before.
RECORDED_AT: ContextVar[datetime | None] = ContextVar("recorded_at", default=None)


class Book(Aggregate):
    """The books of one gemeente or shared organisation."""

    class Event(Aggregate.Event):
        @staticmethod
        def create_timestamp() -> datetime:
            return RECORDED_AT.get() or datetime_now_with_tzinfo()

    @staticmethod
    def create_id(party: str) -> uuid.UUID:
        return uuid.uuid5(_NAMESPACE, party)

    @event("Registered")
    def __init__(self, party: str, entry: dict[str, Any], derived: dict[str, Any], posted_by: str):
        self.party = party
        self.kind = "organisation"
        self.name = entry["data"]["name"]
        self.members: dict[str, list[list[str | None]]] = {}
        self.fund_holder: str | None = None
        self.lines: dict[str, list[int]] = {}
        self.budgets: dict[str, bool] = {}
        self.modes: dict[str, str] = {}
        self.reserves: dict[str, dict[str, Any]] = {}
        self.winst: dict[str, dict[str, int]] = {}
        self.closed: list[int] = []
        self.subsidies: dict[str, dict[str, Any]] = {}
        self.placements: dict[str, dict[str, Any]] = {}
        self.targets: dict[str, dict[str, Any]] = {}
        self.corrected: dict[str, bool] = {}
        self.part_corrected: dict[str, int] = {}  # cents reversed so far of events corrected in part
        # commitment id -> its line (year, budget, sub) and figures (registered, used, released)
        self.commitments: dict[str, dict[str, Any]] = {}
        self.volume = 0
        self._apply(entry, derived)

    class Recorded(Event):
        """Every event after the registration. A plain event class rather than the
        library's `@event` decorator, which inspects signatures on every event."""

        entry: dict[str, Any]
        derived: dict[str, Any]
        posted_by: str

        def apply(self, book: Book) -> None:
            book._apply(self.entry, self.derived)

    def record(self, entry: dict[str, Any], derived: dict[str, Any], posted_by: str, decided: Decision | None = None) -> None:
        """Record an event the book accepted: what the library's `trigger_event` does
        (the next version, the stamp, the pending event), but applied with the effects
        `decide` computed for it, where given, rather than computing them again."""
        recorded = self.Recorded(
            originator_id=self.id,
            originator_version=self.version + 1,
            timestamp=self.Recorded.create_timestamp(),
            entry=entry,
            derived=derived,
            posted_by=posted_by,
        )
        self._apply(entry, derived, decided)
        self.version = recorded.originator_version
        self.modified_on = recorded.timestamp
        self._pending_events.append(recorded)

    # --- deciding -------------------------------------------------------------

    @staticmethod
    def check_registration(entry: dict[str, Any], existing: Book | None, ctx: Context) -> None:
        """Refuse registering a party twice, an organisation of unknown members, or a
        party beyond the ledger's bound (ledger/bounds.py)."""
        if existing is None and ctx.party_count() >= MAX_PARTIES:
            raise RuleViolation("party-limit-reached", f"the ledger keeps at most {MAX_PARTIES} parties")
        if entry["type"] == "OrganisationRegistered":
            if existing is not None and (existing.kind != "organisation" or existing.members):
                raise RuleViolation("party-already-registered", f"{entry['party']} is already registered")
            for member in entry["data"]["members"]:
                if ctx.party_kind(member) is None:
                    raise RuleViolation("unknown-party", f"member {member} is not registered")
        elif existing is not None:
            raise RuleViolation("party-already-registered", f"{entry['party']} is already registered")

    def decide(self, entry: dict[str, Any], ctx: Context) -> Decision:
        """Check `entry` against every rule; return what the ledger derives for it
        (stored beside the client's content) with its effects, or raise `RuleViolation`."""
        kind = entry["type"]
        data = entry["data"]
        if kind not in ("YearReopened", "ClientErased"):  # dated after the closed year it opens; erasure is any day
            self._check_open(entry)
        if kind in _ORGANISATION_ONLY and self.kind != "organisation":
            raise RuleViolation("not-an-organisation", f"{self.party} is not a shared organisation")
        derived: dict[str, Any] = {}
        if kind == "Correction":
            derived.update(self._check_correction(data, ctx))
        check = getattr(self, f"_check_{kind}", None)
        if check is not None:
            check(entry, ctx)
        if kind in _SUBSIDY or (kind == "Correction" and derived["original"]["type"] == "SubsidyPaid"):
            self._derive_commitment(entry, derived)
        if kind == "CommitmentReleased" or (kind == "CostBooked" and "commitmentId" in data):
            self._derive_commitment_change(entry, derived)
        if kind in ("YearClosed", "YearReopened"):  # sealed in the chain: the year proven unchanged (ledger/audit.py)
            year = f"{entry['year']}|"
            derived["figures"] = sealed_figures(
                (tuple(key.removeprefix(year).split("|")), values) for key, values in self.lines.items() if key.startswith(year)
            )
        effects = effects_of(entry, derived)
        self._check_known_budgets(kind, effects)
        self._check_limits(kind, effects)
        moved = _volume(entry, derived, effects)
        if self.volume + moved > PARTY_VOLUME_CAP:
            raise RuleViolation(
                "party-volume-exceeded",
                f"{self.party} has moved {self.volume} cents (its amounts added up without their signs); this event "
                f"would take it past the {PARTY_VOLUME_CAP} cents a party may move in all",
            )
        return Decision(derived, effects, moved)

    def _check_open(self, entry: dict[str, Any]) -> None:
        for year in {entry["year"], int(entry["effectiveDate"][:4])}:
            if year in self.closed:
                raise RuleViolation(
                    "year-closed",
                    f"{self.party} closed {year}; post a correction dated in an open year instead",
                )

    def _check_correction(self, data: dict[str, Any], ctx: Context) -> dict[str, Any]:
        """What the correction derives: `original`, the event it reverses as every
        reader of a correction takes it (effects, Iv3, commitments), and where it
        reverses a part (or what a part left), `reversedCents` and `leftCents`, with
        `original`'s amount being the part reversed."""
        corrects = data["corrects"]
        found = ctx.original(corrects)
        if found is None or found[0]["party"] != self.party:
            raise RuleViolation("unknown-event", f"no event {corrects} of {self.party} to correct")
        original, original_derived = found
        if original["type"] not in CORRECTABLE:
            raise RuleViolation("not-correctable", f"a {original['type']} cannot be corrected")
        if corrects in self.corrected:
            raise RuleViolation("already-corrected", f"event {corrects} was corrected before")
        whole = {**original, "derived": original_derived} if original_derived else dict(original)
        done, asked = self.part_corrected.get(corrects, 0), data.get("amountCents")
        if asked is None and not done:
            return {"original": whole}
        field = _CORRECTED_AMOUNT.get(original["type"], "amountCents")
        if field is None or "commitmentUsedCents" in (original_derived or {}):  # which part used the commitment?
            raise RuleViolation("correction-not-partial", f"a {original['type']} is corrected whole: leave amountCents out")
        left = original["data"][field] - done
        part = left if asked is None else asked
        if abs(part) > abs(left) or part * left < 0:
            raise RuleViolation(
                "correction-exceeds-original",
                f"{left} cents of event {corrects} are left to correct (with its sign): {asked} cents cannot be reversed",
            )
        whole["data"] = {**original["data"], field: part}
        return {"original": whole, "reversedCents": part, "leftCents": left - part}

    def _check_YearReopened(self, entry: dict[str, Any], ctx: Context) -> None:
        if entry["year"] not in self.closed:
            raise RuleViolation("year-not-closed", f"{self.party} has not closed {entry['year']}: there is nothing to reopen")

    def _check_CostBooked(self, entry: dict[str, Any], ctx: Context) -> None:
        check_charging_rule(entry["data"]["category"], entry["data"]["budget"])

    def _check_CommitmentRegistered(self, entry: dict[str, Any], ctx: Context) -> None:
        data = entry["data"]
        if data["commitmentId"] in self.commitments:
            raise RuleViolation("duplicate-commitment", f"commitment {data['commitmentId']} was registered before")
        check_charging_rule(data["category"], data["budget"])

    def _derive_commitment_change(self, entry: dict[str, Any], derived: dict[str, Any]) -> None:
        """A cost's use of its commitment (as much as is open, never more) or a release
        (default: all that is open), on the commitment's own line."""
        data = entry["data"]
        held = self.commitments.get(data["commitmentId"])
        if held is None:
            raise RuleViolation("unknown-commitment", f"no commitment {data['commitmentId']} of {self.party}")
        open_cents = held["registered"] - held["used"] - held["released"]
        if entry["type"] == "CostBooked":
            line = (entry["year"], data["budget"], data.get("subBudget"))
            if line != (held["year"], held["budget"], held["sub"]):
                raise RuleViolation(
                    "commitment-other-line",
                    f"commitment {data['commitmentId']} is on {held['budget']}"
                    + (f"/{held['sub']}" if held["sub"] else "") + f" {held['year']}: book its cost there",
                )
            derived["commitmentUsedCents"] = min(data["amountCents"], open_cents)
            return
        released = data.get("amountCents", open_cents)
        if released > open_cents or released == 0:
            raise RuleViolation(
                "commitment-release-exceeds-open",
                f"commitment {data['commitmentId']} has {open_cents} cents open: {released} cannot be released",
            )
        if held["year"] in self.closed:
            raise RuleViolation("year-closed", f"{self.party} closed {held['year']}, the year of commitment {data['commitmentId']}")
        derived["commitment"] = {"year": held["year"], "budget": held["budget"]} | (
            {"subBudget": held["sub"]} if held["sub"] else {})
        derived["releasedCents"] = released

    def _check_SubsidyGranted(self, entry: dict[str, Any], ctx: Context) -> None:
        data = entry["data"]
        if data["subsidyId"] in self.subsidies:
            raise RuleViolation("duplicate-subsidy", f"subsidy {data['subsidyId']} was granted before")
        check_charging_rule(data["instrument"], data["budget"])

    def _check_LoonwaardeMeasured(self, entry: dict[str, Any], ctx: Context) -> None:
        if self._subsidy(entry["data"]["subsidyId"])["ended"]:
            raise RuleViolation("subsidy-ended", f"subsidy {entry['data']['subsidyId']} has ended")

    _check_SubsidyEnded = _check_LoonwaardeMeasured

    def _subsidy(self, subsidy_id: str) -> dict[str, Any]:
        try:
            return self.subsidies[subsidy_id]
        except KeyError:
            raise RuleViolation("unknown-subsidy", f"no subsidy {subsidy_id} granted by {self.party}") from None

    def _derive_commitment(self, entry: dict[str, Any], derived: dict[str, Any]) -> None:
        """The subsidy's budget and how its commitment per year moves (ledger/subsidy.py)."""
        if entry["type"] == "SubsidyGranted":
            grant = subsidy.new_grant(entry["data"], entry["effectiveDate"])
        else:
            grant = subsidy.working_copy(self._subsidy(_subsidy_id(entry, derived)))
            _change_grant(grant, entry, derived)
        derived["budget"] = grant["budget"]
        months = subsidy.committed_months(grant)
        if months > MAX_GRANT_MONTHS:
            raise RuleViolation(
                "subsidy-period-too-long",
                f"subsidy {_subsidy_id(entry, derived)} would commit {months} months; a grant commits at most {MAX_GRANT_MONTHS}",
            )
        changes = subsidy.commitment_changes(grant, self.closed)
        if changes:
            derived["committed"] = changes

    def _check_PlacementStarted(self, entry: dict[str, Any], ctx: Context) -> None:
        """A year's binding target caps the places taken on its 31 December (where
        /v1/kpis counts them): the new placement, open-ended, takes one in every year
        from its start on, beside the placements started by then and not yet ended."""
        data = entry["data"]
        if data["placementId"] in self.placements:
            raise RuleViolation("duplicate-placement", f"placement {data['placementId']} started before")
        for key, target in sorted(self.targets.items()):
            year, kind = key.split("|", 1)
            last = f"{year}-12-31"
            if kind != data["kind"] or not target["binding"] or entry["effectiveDate"] > last:
                continue
            taken = sum(
                placement_measure(p["kind"], p["hours"])
                for p in self.placements.values()
                if p["kind"] == kind and p["started"] <= last and (p["ended"] is None or p["ended"] > last)
            )
            if taken + placement_measure(kind, data["hoursPerWeek"]) > subsidy.exact(target["places"]):
                raise RuleViolation(
                    "placement-cap-reached",
                    f"{kind} {year} is capped at {target['places']} and {float(taken):g} are taken on {last}",
                )

    def _check_PlacementEnded(self, entry: dict[str, Any], ctx: Context) -> None:
        placement = entry["data"]["placementId"]
        if placement not in self.placements:
            raise RuleViolation("unknown-placement", f"no placement {placement} of {self.party}")
        if self.placements[placement]["ended"] is not None:
            raise RuleViolation("placement-ended", f"placement {placement} has ended")

    def _check_FundsReallocated(self, entry: dict[str, Any], ctx: Context) -> None:
        """Money moves between lines unless it changes a binding frame: a kaderstellend
        line changes only by a BudgetRevised (a council decision). Between sub-budgets of
        an integraal budget it always moves: they are one pot."""
        data, year = entry["data"], entry["year"]
        same_budget = data["fromBudget"] == data["toBudget"]
        if same_budget and self.mode(year, data["fromBudget"], None) == "integraal":
            return
        for budget, sub in ((data["fromBudget"], data.get("fromSubBudget")), (data["toBudget"], data.get("toSubBudget"))):
            frames = [(budget, sub)] if same_budget else [(budget, sub), (budget, None)]
            for frame_budget, frame_sub in frames:
                if self.mode(year, frame_budget, frame_sub) == "kaderstellend":
                    line = frame_budget + (f"/{frame_sub}" if frame_sub else "")
                    raise RuleViolation(
                        "reallocation-not-allowed",
                        f"{line} {year} is kaderstellend: change it with a BudgetRevised, "
                        "or set the budget integraal to move money between its sub-budgets",
                    )

    def mode(self, year: int, budget: str, sub: str | None) -> str:
        return self.modes.get(_line_key(year, budget, sub), "richtinggevend")

    def _check_ReserveEstablished(self, entry: dict[str, Any], ctx: Context) -> None:
        if entry["data"]["reserve"] in self.reserves:
            raise RuleViolation("reserve-already-established", f"reserve {entry['data']['reserve']} exists")

    def _check_MembershipChanged(self, entry: dict[str, Any], ctx: Context) -> None:
        """A member's changes come in date order, at most one a day: a leave then closes
        its latest period and a join opens one after it, so periods never overlap (nor
        two start on one day, the read model's key)."""
        member = entry["data"]["member"]
        on = entry["effectiveDate"]
        if ctx.party_kind(member) is None:
            raise RuleViolation("unknown-party", f"{member} is not registered")
        last = max((day for period in self.members.get(member, []) for day in period if day is not None), default=None)
        if last is not None and on <= last:
            raise RuleViolation(
                "membership-change-out-of-order",
                f"{member}'s last membership change in {self.party} is dated {last}: a change must be dated after it",
            )
        if entry["data"]["change"] == "joined" and self.is_member(member, on):
            raise RuleViolation("already-member", f"{member} is a member of {self.party} on {on}")
        if entry["data"]["change"] == "left" and not self.is_member(member, on):
            raise RuleViolation("not-a-member", f"{member} is not a member of {self.party} on {on}")

    def _check_AllocationKeySet(self, entry: dict[str, Any], ctx: Context) -> None:
        self._check_members_in_year(entry["data"]["weights"], entry["year"])

    def _check_OrganisationCostBooked(self, entry: dict[str, Any], ctx: Context) -> None:
        self._check_members_in_year(entry["data"].get("usage") or {}, entry["year"])

    _check_OrganisationResultDetermined = _check_OrganisationCostBooked

    def _check_ContributionInvoiced(self, entry: dict[str, Any], ctx: Context) -> None:
        self._check_members_in_year([entry["data"]["member"]], entry["year"])

    _check_ContributionPaid = _check_ContributionInvoiced

    def _check_WinstRealised(self, entry: dict[str, Any], ctx: Context) -> None:
        data = entry["data"]
        year = entry["year"]
        if "member" in data:
            if self.kind != "organisation":
                raise RuleViolation("not-an-organisation", "only an organisation records whose clients earned winst")
            self._check_members_in_year([data["member"]], year)
        if data["source"] == "ideel-besparing":
            surplus = sum(
                values[0] + values[1] - values[2] for _, values in self._budget_lines(year, "inkomensdeel")
            )
            saved = self.winst.get(str(year), {}).get("src:ideel-besparing", 0) + data["amountCents"]
            if saved > surplus:
                raise RuleViolation(
                    "ideel-besparing-exceeds-surplus",
                    f"I-deel savings of {saved} cents in {year} exceed the inkomensdeel's surplus of {surplus} cents",
                )

    def _check_members_in_year(self, codes: Iterable[str], year: int) -> None:
        for code in codes:
            if not self.was_member_in(code, year):
                raise RuleViolation("not-a-member", f"{code} is not a member of {self.party} in {year}")

    def _check_known_budgets(self, kind: str, effects: Effects) -> None:
        if kind in _CONSUMING:
            lines = effects.lines
        elif kind == "FundsReallocated":
            lines = effects.lines[:1]
        else:
            return
        for d in lines:
            if f"{d.year}|{d.budget}" not in self.budgets:
                raise RuleViolation(
                    "unknown-budget", f"{self.party} has no budget '{d.budget}' in {d.year}: allocate it first"
                )

    def _check_limits(self, kind: str, effects: Effects) -> None:
        for d in effects.lines:
            if d.available < 0:
                self._check_binding(d, effects.lines)
        for r in effects.reserves:
            self._check_reserve(kind, r)
        if effects.winst:
            self._check_winst(effects)

    def _check_binding(self, d: LineDelta, all_deltas: tuple[LineDelta, ...]) -> None:
        if d.sub_budget and self.modes.get(_line_key(d.year, d.budget, d.sub_budget)) == "kaderstellend":
            available = _available(self.lines.get(_line_key(d.year, d.budget, d.sub_budget))) + d.available
            if available < 0:
                raise RuleViolation(
                    "binding-budget-exceeded",
                    f"{d.budget}/{d.sub_budget} {d.year} is kaderstellend: {-available} cents short",
                )
        if self.modes.get(_line_key(d.year, d.budget, None)) == "kaderstellend":
            available = sum(_available(v) for _, v in self._budget_lines(d.year, d.budget))
            available += sum(o.available for o in all_deltas if (o.year, o.budget) == (d.year, d.budget))
            if available < 0:
                raise RuleViolation(
                    "binding-budget-exceeded", f"{d.budget} {d.year} is kaderstellend: {-available} cents short"
                )

    def _check_reserve(self, kind: str, r: Any) -> None:
        if kind == "ReserveEstablished":
            return
        reserve = self.reserves.get(r.reserve)
        if reserve is None:
            raise RuleViolation("unknown-reserve", f"{self.party} has no reserve '{r.reserve}'")
        if r.date < reserve["since"]:
            raise RuleViolation("unknown-reserve", f"reserve '{r.reserve}' was established on {reserve['since']}")
        if r.reflux > 0 and not reserve["revolving"]:
            raise RuleViolation("reflux-not-revolving", f"reserve '{r.reserve}' is not revolving")
        moves = dict(reserve["moves"])
        moves[r.date] = moves.get(r.date, 0) + r.net
        balance = 0
        for day in sorted(moves):
            balance += moves[day]
            if balance < 0 and day >= r.date:
                raise RuleViolation(
                    "reserve-below-zero", f"reserve '{r.reserve}' would stand at {balance} cents on {day}"
                )
        withdrawn = reserve["withdrawn"] + r.withdrawn
        reflux = reserve["reflux"] + r.reflux
        if reserve["revolving"] and reflux > withdrawn:
            raise RuleViolation(
                "reflux-exceeds-withdrawn",
                f"reflux of {reflux} cents into '{r.reserve}' exceeds the {withdrawn} cents withdrawn",
            )

    def _check_winst(self, effects: Effects) -> None:
        years = {str(y): dict(v) for y, v in self.winst.items()}
        for w in effects.winst:
            year = years.setdefault(str(w.year), {})
            year["realised"] = year.get("realised", 0) + w.realised
            year["reinvested"] = year.get("reinvested", 0) + w.reinvested
        first = min(w.year for w in effects.winst)
        left = 0
        for y in sorted(years, key=int):
            left += years[y].get("realised", 0) - years[y].get("reinvested", 0)
            if left < 0 and int(y) >= first:
                raise RuleViolation(
                    "winst-reinvested-exceeds-realised",
                    f"reinvested winst would exceed realised winst by {-left} cents by the end of {y}",
                )

    # --- membership -----------------------------------------------------------

    def is_member(self, code: str, on: str) -> bool:
        return any(
            joined <= on and (left is None or on < left)  # type: ignore[operator]
            for joined, left in self.members.get(code, [])
        )

    def was_member_in(self, code: str, year: int) -> bool:
        first, last = f"{year}-01-01", f"{year}-12-31"
        return any(
            joined <= last and (left is None or left > first)  # type: ignore[operator]
            for joined, left in self.members.get(code, [])
        )

    # --- applying ---------------------------------------------------------------

    def _budget_lines(self, year: int, budget: str) -> list[tuple[str, list[int]]]:
        prefix = f"{year}|{budget}|"
        return [(k, v) for k, v in self.lines.items() if k.startswith(prefix)]

    def _apply(self, entry: dict[str, Any], derived: dict[str, Any], decided: Decision | None = None) -> None:
        kind = entry["type"]
        data = entry["data"]
        if decided is None:  # replaying a stored event
            effects = effects_of(entry, derived)
            self.volume += _volume(entry, derived, effects)
        else:
            effects = decided.effects
            self.volume += decided.volume
        for d in effects.lines:
            values = self.lines.setdefault(_line_key(d.year, d.budget, d.sub_budget), [0, 0, 0, 0])
            values[0] += d.allocated
            values[1] += d.income
            values[2] += d.spent
            values[3] += d.committed
            self.budgets[f"{d.year}|{d.budget}"] = True
        for r in effects.reserves:
            reserve = self.reserves.setdefault(
                r.reserve, {"since": r.date, "revolving": False, "moves": {}, "withdrawn": 0, "reflux": 0}
            )
            reserve["moves"][r.date] = reserve["moves"].get(r.date, 0) + r.net
            reserve["withdrawn"] += r.withdrawn
            reserve["reflux"] += r.reflux
        for c in effects.commitments:
            held = self.commitments.setdefault(
                c.commitment_id, {"year": c.year, "budget": c.budget, "sub": c.sub_budget, "registered": 0, "used": 0,
                                  "released": 0}
            )
            held["registered"] += c.registered
            held["used"] += c.used
            held["released"] += c.released
        for w in effects.winst:
            year = self.winst.setdefault(str(w.year), {})
            year["realised"] = year.get("realised", 0) + w.realised
            year["reinvested"] = year.get("reinvested", 0) + w.reinvested
            if w.source:
                key = f"src:{w.source}"
                year[key] = year.get(key, 0) + w.realised
        if kind == "PartyRegistered":
            self.kind = data["kind"]
        elif kind == "OrganisationRegistered":
            self.kind = "organisation"
            self.name = data["name"]
            self.fund_holder = data.get("fundHolder")
            for member in data["members"]:
                self.members[member] = [[entry["effectiveDate"], None]]
        elif kind == "MembershipChanged":
            periods = self.members.setdefault(data["member"], [])
            if data["change"] == "joined":
                periods.append([entry["effectiveDate"], None])
            else:
                periods[-1][1] = entry["effectiveDate"]
        elif kind == "SteeringModeSet":
            self.modes[_line_key(entry["year"], data["budget"], data.get("subBudget"))] = data["mode"]
            self.budgets[f"{entry['year']}|{data['budget']}"] = True
        elif kind == "ReserveEstablished":
            self.reserves[data["reserve"]]["revolving"] = data["revolving"]
        elif kind == "PlacementStarted":
            self.placements[data["placementId"]] = {
                "kind": data["kind"], "hours": data["hoursPerWeek"], "started": entry["effectiveDate"], "ended": None
            }
        elif kind == "PlacementEnded":
            self.placements[data["placementId"]]["ended"] = entry["effectiveDate"]
        elif kind == "PlacementTargetSet":
            self.targets[f"{entry['year']}|{data['kind']}"] = {"places": data["places"], "binding": data["binding"]}
        elif kind == "YearClosed":
            self.closed.append(entry["year"])
        elif kind == "YearReopened":
            self.closed.remove(entry["year"])
        if kind == "Correction":
            corrects = data["corrects"]
            if derived.get("leftCents", 0) == 0:
                self.corrected[corrects] = True
                self.part_corrected.pop(corrects, None)
            else:
                self.part_corrected[corrects] = self.part_corrected.get(corrects, 0) + derived["reversedCents"]
        if "budget" in derived:  # only a subsidy event or a payment's correction derives one
            self._apply_commitment(entry, derived)

    def _apply_commitment(self, entry: dict[str, Any], derived: dict[str, Any]) -> None:
        if entry["type"] == "SubsidyGranted":
            grant = self.subsidies[entry["data"]["subsidyId"]] = subsidy.new_grant(entry["data"], entry["effectiveDate"])
        else:
            grant = self.subsidies[_subsidy_id(entry, derived)]
            _change_grant(grant, entry, derived)
        for year, cents in derived.get("committed", {}).items():
            grant["committed"][year] = grant["committed"].get(year, 0) + cents


def _volume(entry: dict[str, Any], derived: dict[str, Any], effects: Effects) -> int:
    """What the event adds to its party's volume: its effects, and an outflow's
    notional avoided benefit (or the one its correction takes back)."""
    data = derived["original"]["data"] if entry["type"] == "Correction" else entry["data"]
    return volume(effects, data.get("avoidedBenefitCents", 0))


def _subsidy_id(entry: dict[str, Any], derived: dict[str, Any]) -> str:
    if entry["type"] == "Correction":
        return derived["original"]["data"]["subsidyId"]
    return entry["data"]["subsidyId"]


def _change_grant(grant: dict[str, Any], entry: dict[str, Any], derived: dict[str, Any]) -> None:
    """Apply a subsidy event (or the correction of a payment) to a grant's state."""
    kind, data = entry["type"], entry["data"]
    if kind == "LoonwaardeMeasured":
        subsidy.remeasure(grant, data["loonwaardePct"], entry["effectiveDate"])
    elif kind == "SubsidyEnded":
        subsidy.end(grant, entry["effectiveDate"])
    elif kind == "SubsidyPaid":
        year = str(entry["year"])
        grant["paid"][year] = grant["paid"].get(year, 0) + data["amountCents"]
    elif kind == "Correction":
        payment = derived["original"]
        year = str(payment["year"])
        grant["paid"][year] = grant["paid"].get(year, 0) - payment["data"]["amountCents"]


def _available(values: list[int] | None) -> int:
    if values is None:
        return 0
    return values[0] + values[1] - values[2] - values[3]
