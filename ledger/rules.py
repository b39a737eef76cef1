"""The rules a posting must keep, and the refusal raised when it breaks one.

Each rule has a stable kebab-case code; the HTTP layer turns a `RuleViolation`
into a 422 problem whose `type` ends in that code and whose `title` names it, so a
client can act on the code and a person can read the title.
"""

from __future__ import annotations

from dataclasses import dataclass

# code -> title. The titles are what a finance person reads in an error.
RULES: dict[str, str] = {
    "unknown-party": "Unknown party",
    "party-already-registered": "Party already registered",
    "not-an-organisation": "Party is not a shared organisation",
    "not-a-member": "Not a member of the organisation",
    "already-member": "Already a member of the organisation",
    "membership-change-out-of-order": "Membership change not dated after the member's last change",
    "unknown-budget": "Unknown budget",
    "charging-rule": "Charging rule (bestedingsregel) broken",
    "binding-budget-exceeded": "Binding (kaderstellend) budget exceeded",
    "reallocation-not-allowed": "Reallocation not allowed by the steering mode",
    "unknown-reserve": "Unknown reserve",
    "reserve-already-established": "Reserve already established",
    "reserve-below-zero": "Reserve would go below zero",
    "reflux-not-revolving": "Reflux into a reserve that is not revolving",
    "reflux-exceeds-withdrawn": "Reflux exceeds what was withdrawn from the revolving reserve",
    "year-closed": "Year closed",
    "year-not-closed": "Year not closed",
    "winst-reinvested-exceeds-realised": "Winst reinvested beyond what is left",
    "ideel-besparing-exceeds-surplus": "I-deel saving exceeds the inkomensdeel's actual surplus",
    "unknown-subsidy": "Unknown subsidy",
    "duplicate-subsidy": "Subsidy already granted",
    "subsidy-ended": "Subsidy already ended",
    "unknown-placement": "Unknown placement",
    "duplicate-placement": "Placement already started",
    "placement-ended": "Placement already ended",
    "placement-cap-reached": "Placement cap reached",
    "unknown-event": "Corrected event unknown",
    "not-correctable": "Event cannot be corrected",
    "already-corrected": "Event already corrected",
    "correction-exceeds-original": "Correction exceeds what is left of the original",
    "correction-not-partial": "Event can only be corrected whole",
    "duplicate-commitment": "Commitment already registered",
    "unknown-commitment": "Unknown commitment",
    "commitment-other-line": "Cost booked against a commitment on another budget line",
    "commitment-release-exceeds-open": "Release exceeds what is open of the commitment",
    "bsn-like-value": "Value looks like a BSN",
    "erasure-by-command": "An erasure is made by ledger erase-client, not posted",
    "party-volume-exceeded": "The party's amounts would exceed what the ledger keeps exactly",
    "party-limit-reached": "The ledger holds as many parties as it keeps",
    "subsidy-period-too-long": "Subsidy commits more months than a grant may",
}


@dataclass(frozen=True)
class RuleViolation(Exception):
    """A posting refused by a domain rule; nothing of its batch is stored."""

    rule: str
    detail: str

    def __post_init__(self) -> None:
        if self.rule not in RULES:
            raise ValueError(f"unknown rule code {self.rule!r}")

    @property
    def title(self) -> str:
        return RULES[self.rule]

    def __str__(self) -> str:
        return f"{self.rule}: {self.detail}"


# The standard budget codes of domain.md section 3. The charging rules bind these
# only; a party's own budgets (an organisation's `exploitatie`) take any category.
STANDARD_BUDGETS = frozenset(
    {"inkomensdeel", "participatiebudget", "werk-en-inkomen", "algemene-middelen", "wmo"}
)

# Cost category -> the standard budgets it may be charged to (domain.md section 4).
# Categories not listed may be charged to any budget.
_PARTICIPATIE = frozenset({"participatiebudget"})
CHARGING_RULES: dict[str, frozenset[str]] = {
    "uitkering": frozenset({"inkomensdeel"}),
    "loonkostensubsidie": frozenset({"inkomensdeel"}),
    **{
        category: _PARTICIPATIE
        for category in (
            "begeleiding",
            "jobcoach",
            "no-risk",
            "werkplekaanpassing",
            "scholing",
            "diagnose",
            "activering",
            "bemiddeling",
            "exploitatietekort",
            "wsw-loonkosten",
            "sw-tekort",
        )
    },
    "tegenprestatie": frozenset({"algemene-middelen"}),
    "dagbesteding": frozenset({"wmo"}),
    "vrijwilligerswerk": frozenset({"wmo"}),
}


def check_charging_rule(category: str, budget: str) -> None:
    """Refuse charging `category` to a standard budget the rules do not allow."""
    allowed = CHARGING_RULES.get(category)
    if allowed is None or budget not in STANDARD_BUDGETS or budget in allowed:
        return
    raise RuleViolation(
        "charging-rule",
        f"'{category}' may be charged to {', '.join(sorted(allowed))} only, not to '{budget}'",
    )
