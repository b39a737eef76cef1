"""Properties of the cost split (ledger/split.py), for any items, keys and memberships:
shares add up exactly, each is within a cent of its exact value and is that value
rounded by largest remainder, a deficit is the mirror image of a surplus, and the order
the items come in does not matter."""

from __future__ import annotations

from datetime import date, timedelta
from fractions import Fraction

from hypothesis import given
from hypothesis import strategies as st

from ledger import split

MEMBERS = ["GM0001", "GM0002", "GM0003", "GM0004"]
dates = st.dates(min_value=date(2014, 1, 1), max_value=date(2016, 12, 31)).map(lambda d: d.isoformat())
weights = st.one_of(st.integers(0, 100_000), st.floats(0, 1000, allow_nan=False).map(lambda f: round(f, 3)))
usages = st.none() | st.dictionaries(st.sampled_from(MEMBERS), weights, min_size=1)
items = st.lists(
    st.builds(split.Item, unit=st.sampled_from(["a", "b"]), cents=st.integers(-10**9, 10**9), usage=usages),
    max_size=8,
)


@st.composite
def periods(draw: st.DrawFn) -> dict[str, list[tuple[str, str | None]]]:
    out: dict[str, list[tuple[str, str | None]]] = {}
    for member in MEMBERS:
        joined = draw(dates)
        left = draw(st.none() | st.dates(min_value=date.fromisoformat(joined) + timedelta(days=1),
                                         max_value=date(2017, 1, 1)).map(lambda d: d.isoformat()))
        out[member] = [(joined, left)]
    out[MEMBERS[0]] = [("2010-01-01", None)]  # someone is always a member, so the key weighs
    return out


keys = st.builds(
    split.Key, year=st.just(2015), basis=st.just("vast"),
    weights=st.fixed_dictionaries({MEMBERS[0]: st.integers(1, 1000)}, optional={m: weights for m in MEMBERS[1:]}),
    policy=st.sampled_from(split.POLICIES),
)


def exact_shares(xs: list[split.Item], key: split.Key, members: dict, policy: str) -> dict[str, Fraction]:
    """The unrounded shares, summed item by item straight from the definition."""
    out: dict[str, Fraction] = {}
    base = split.key_weights(key, members, 2015)
    for item in xs:
        use = {p: split.exact(u) for p, u in (item.usage or {}).items()} if policy == "profijt" else {}
        ws = use if sum(use.values()) else base
        for p, w in ws.items():
            out[p] = out.get(p, Fraction(0)) + item.cents * w / sum(ws.values())
    return out


@given(items, keys, periods(), st.sampled_from(split.POLICIES))
def test_shares_add_up_exactly_and_stay_within_a_cent(xs: list[split.Item], key: split.Key, members: dict, policy: str) -> None:
    total, shares = split.split(xs, key, members, 2015, policy)
    assert total == sum(i.cents for i in xs)
    assert sum(s.cents for s in shares) == total
    exact = exact_shares(xs, key, members, policy)
    for s in shares:
        assert abs(s.cents - exact.get(s.party, 0)) < 1
    # The same cents as rounding, once, the item-by-item exact shares: summing the items
    # that go by the same weights first (as split does) changes nothing.
    assert {s.party: s.cents for s in shares} == split.hamilton(total, {s.party: exact.get(s.party, Fraction(0)) for s in shares})


@given(items, keys, periods(), st.sampled_from(split.POLICIES))
def test_a_deficit_is_the_mirror_of_a_surplus(xs: list[split.Item], key: split.Key, members: dict, policy: str) -> None:
    _, shares = split.split(xs, key, members, 2015, policy)
    negated = [split.Item(i.unit, -i.cents, i.usage) for i in xs]
    _, mirrored = split.split(negated, key, members, 2015, policy)
    assert [(s.party, -s.cents) for s in shares] == [(s.party, s.cents) for s in mirrored]


@given(items, keys, periods(), st.sampled_from(split.POLICIES), st.randoms())
def test_the_order_of_the_items_does_not_matter(xs: list[split.Item], key: split.Key, members: dict, policy: str,
                                                rnd: object) -> None:
    shuffled = list(xs)
    rnd.shuffle(shuffled)  # type: ignore[attr-defined]
    assert split.split(xs, key, members, 2015, policy) == split.split(shuffled, key, members, 2015, policy)


def test_ties_go_to_the_lower_party_code() -> None:
    key = split.Key(2015, "vast", {"GM0003": 1, "GM0001": 1, "GM0002": 1}, "solidariteit")
    members = {m: [("2015-01-01", None)] for m in key.weights}
    _, shares = split.split([split.Item("x", 200)], key, members, 2015, "solidariteit")
    assert [(s.party, s.cents) for s in shares] == [("GM0001", 67), ("GM0002", 67), ("GM0003", 66)]
