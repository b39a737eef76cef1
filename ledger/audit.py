"""What an auditor checks of a log: the chain intact, anchors matched, closed years unchanged.

One `Audit` walks a log in order, whether it comes from the store (`Ledger.verify`)
or from an export file (`ledger verify --file`), and stops at the first event that
does not fit, naming its position.

Closed years: a `YearClosed` stores the year's budget figures as the party's books
held them (`derived["figures"]`, see `sealed_figures`), inside the chain. The audit
sums every event's effects (ledger/effects.py) as it walks, checks that the sealed
figures are what the log before the close adds up to, and that no event after it
moves them until a `YearReopened` opens the year again (which seals the figures it
found: they must be the closed ones). With the chain intact and the YearClosed's chain
hash matching the one written into the audit report (an anchor), that proves the closed
year's figures unchanged since, or until it was reopened. A year closed again after a
reopening is a second close, checked the same way; both are reported.
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass, field
from typing import Any

from ledger import chain
from ledger.effects import effects_of
from ledger.events import content_hash

_AMOUNTS = ("allocatedCents", "incomeCents", "spentCents", "committedCents")


def sealed_figures(lines: Iterable[tuple[tuple[str, str | None], list[int]]]) -> list[dict[str, Any]]:
    """A year's budget lines as a YearClosed seals them: each (budget, sub-budget) with
    its allocated, income, spent and committed cents, in order; lines at zero left out."""
    out = []
    for (budget, sub), amounts in sorted(lines, key=lambda line: (line[0][0], line[0][1] or "")):
        if any(amounts):
            out.append({"budget": budget, "subBudget": sub or None, **dict(zip(_AMOUNTS, amounts, strict=True))})
    return out


MAX_POSITION = 2**62


def parse_anchor(text: str) -> tuple[int, str]:
    """`POSITION:HASH`, as an auditor writes down a chain hash; raise ValueError if not."""
    position, _, digest = text.partition(":")
    position, digest = position.strip(), digest.strip().lower()
    hexdigits = "0123456789abcdef"
    if not (position.isascii() and position.isdigit()) or len(digest) != 64 or any(c not in hexdigits for c in digest):
        raise ValueError(f"an anchor is POSITION:HASH (a position and a 64-digit hex chain hash), not {text!r}")
    if int(position) > MAX_POSITION:  # no log gets there, and the databases' integers end at 2**63
        raise ValueError(f"an anchor's position is at most {MAX_POSITION}, not {position}")
    return int(position), digest


@dataclass
class Verification:
    """The outcome of walking a log."""

    intact: bool
    count: int  # events verified, in order (up to the first bad one)
    head_position: int
    head: str | None
    bad_position: int | None
    problem: str | None
    closed_years: list[dict[str, Any]]
    anchors: list[dict[str, Any]]
    snapshots: str | None = None  # of a store: what of its snapshots is trusted (ledger/snapshots.py)
    snapshots_unproven: list[dict[str, Any]] = field(default_factory=list)  # stored ones whose seal fails

    def as_dict(self) -> dict[str, Any]:
        return {
            "intact": self.intact,
            "count": self.count,
            "head": self.head,
            "headPosition": self.head_position,
            "firstBadPosition": self.bad_position,
            "problem": self.problem,
            "closedYears": self.closed_years,
            "anchors": self.anchors,
            "snapshots": self.snapshots,
        }


@dataclass
class Audit:
    anchors: dict[int, str] = field(default_factory=dict)
    previous: str = chain.GENESIS
    position: int = 0
    recorded_at: str = ""
    count: int = 0
    bad_position: int | None = None
    problem: str | None = None
    _anchored: set[int] = field(default_factory=set)
    _lines: dict[tuple[str, int], dict[tuple[str, str | None], list[int]]] = field(default_factory=dict)
    _closed: dict[tuple[str, int], dict[str, Any]] = field(default_factory=dict)  # the closes in force
    _closes: list[dict[str, Any]] = field(default_factory=list)  # every close, in log order

    @property
    def failed(self) -> bool:
        return self.bad_position is not None

    def fail(self, position: int, problem: str) -> None:
        if not self.failed:
            self.bad_position, self.problem = position, problem

    def check(self, position: int, sealed: dict[str, Any], chain_hash: str | None) -> bool:
        """Check the next event of the log: its record as the source holds it
        (`previousHash` included) and the chain hash the source holds for it."""
        if self.failed:
            return False
        if position <= self.position:
            self.fail(position, f"out of order: position {position} follows position {self.position}")
        elif sealed.get("previousHash") != self.previous:
            self.fail(position, "does not follow the event before it: an event was deleted, inserted or moved")
        elif sealed.get("contentHash") != content_hash(chain.entry_of(sealed)):
            self.fail(position, "its content does not match its content hash: the event was altered")
        elif chain_hash != chain.seal(sealed):
            self.fail(position, "does not match its chain hash: the event was altered, or one before it deleted or moved")
        elif sealed["recordedAt"] < self.recorded_at:
            self.fail(position, f"recorded at {sealed['recordedAt']}, before the event before it")
        elif position in self.anchors and self.anchors[position] != chain_hash:
            self.fail(position, "its chain hash is not the anchored one: the log was rewritten from here or before")
        if self.failed:
            return False
        try:
            self._follow_figures(position, sealed, chain_hash)
        except (KeyError, TypeError, ValueError, AttributeError):  # sealed, yet not a ledger event
            self.fail(position, "sealed, but not an event the ledger could have stored")
            return False
        if position in self.anchors:
            self._anchored.add(position)
        self.previous, self.position, self.recorded_at = chain_hash, position, sealed["recordedAt"]
        self.count += 1
        return True

    def _follow_figures(self, position: int, sealed: dict[str, Any], chain_hash: str) -> None:
        entry = chain.entry_of(sealed)
        party = entry["party"]
        for d in effects_of(entry, sealed["derived"]).lines:
            key = (party, d.year)
            amounts = self._lines.setdefault(key, {}).setdefault((d.budget, d.sub_budget), [0, 0, 0, 0])
            for i, delta in enumerate(d.amounts):
                amounts[i] += delta
            closed = self._closed.get(key)
            if closed is not None and closed["figuresUnchanged"] and any(d.amounts):
                closed["figuresUnchanged"], closed["changedAt"] = False, position
        if entry["type"] not in ("YearClosed", "YearReopened"):
            return
        key = (party, entry["year"])
        matches = sealed["derived"].get("figures") == sealed_figures(self._lines.get(key, {}).items())
        if entry["type"] == "YearReopened":
            closed = self._closed.pop(key)  # KeyError: no close to reopen, not a ledger's event
            closed["reopenedAt"] = position
            if closed["figuresUnchanged"] and not matches:
                closed["figuresUnchanged"], closed["changedAt"] = False, position
            return
        self._closed[key] = {
            "party": party,
            "year": entry["year"],
            "position": position,
            "chainHash": chain_hash,
            "figuresUnchanged": matches,
            "changedAt": None if matches else position,
            "reopenedAt": None,
        }
        self._closes.append(self._closed[key])

    def result(self) -> Verification:
        anchors = []
        for position, digest in sorted(self.anchors.items()):
            if position not in self._anchored and not self.failed:
                self.fail(position, f"no event at the anchored position {position}")
            anchors.append({"position": position, "hash": digest, "matches": position in self._anchored})
        for closed in self._closes:
            if not closed["figuresUnchanged"] and not self.failed:
                self.fail(
                    closed["changedAt"],
                    f"the figures of {closed['party']} {closed['year']}, closed at position {closed['position']}, changed",
                )
        return Verification(
            intact=not self.failed,
            count=self.count,
            head_position=self.position,
            head=self.previous if self.count else None,
            bad_position=self.bad_position,
            problem=self.problem,
            closed_years=list(self._closes),
            anchors=anchors,
        )


# What every exported line holds besides the optional `reference`.
_EXPORTED = (chain.ENTRY_FIELDS - {"reference"}) | {"derived", "contentHash", "position", "recordedAt", "postedBy", "previousHash"}


def verify_export(lines: Iterable[dict[str, Any]], anchors: dict[int, str] | None = None) -> Verification:
    """Check the chain of an exported log (`ledger export`) without the ledger it came from."""
    audit = Audit(anchors=dict(anchors or {}))
    for line in lines:
        position = line.get("position")
        sealed = {k: v for k, v in line.items() if k != "chainHash"}
        if not isinstance(position, int) or not _EXPORTED <= sealed.keys():
            audit.fail(position if isinstance(position, int) else audit.position + 1, "not an exported event")
        if not audit.check(position, sealed, line.get("chainHash")):  # type: ignore[arg-type]
            break
    return audit.result()
