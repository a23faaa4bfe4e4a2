"""Properties of the replay's pure parts: percentiles, figures by dotted name, bounds, and the
canonical history text the hash is taken over."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from typing import Any

from hypothesis import given
from hypothesis import strategies as st

from dispatch.exercises.replay import canonical, check_expect, figure
from dispatch.exercises.scenario import Bound, Scenario
from dispatch.incidents.service import percentile

minutes = st.lists(st.floats(min_value=0, max_value=10_000, allow_nan=False), max_size=60)


@given(minutes)
def test_percentiles_are_ordered_and_within_the_values(values: list[float]) -> None:
    p50, p90 = percentile(values, 0.5), percentile(values, 0.9)
    assert p50 <= p90 + 1e-9
    if values:
        assert min(values) - 0.05 <= p50 and p90 <= max(values) + 0.05
    else:
        assert p50 == p90 == 0.0


@given(
    st.floats(min_value=0, max_value=1, allow_nan=False),
    st.floats(min_value=0, max_value=500, allow_nan=False),
    st.sampled_from([">=", "<=", "==", ">", "<"]),
    st.floats(min_value=0, max_value=500, allow_nan=False),
)
def test_expect_checks_each_bound_on_its_figure(
    fill: float, p90: float, op: str, value: float
) -> None:
    report: dict[str, Any] = {
        "fill_rate": fill,
        "delivery_minutes": {"p90": p90},
        "unmet": [{"quantity": 1}, {"quantity": 2}],
        "first_delivery_minutes": None,
    }
    assert figure(report, "delivery_minutes.p90") == p90
    assert figure(report, "unmet") == 2.0  # a list counts its entries
    assert figure(report, "first_delivery_minutes") is None
    assert figure(report, "nothing.here") is None
    bounds = (
        Bound("fill_rate", op, value),
        Bound("delivery_minutes.p90", op, value),
        Bound("first_delivery_minutes", op, value),  # no delivery: a bound never holds
    )
    start = datetime(2024, 7, 30, 18, tzinfo=UTC)
    scenario = Scenario(
        name="s", start=start, duration=timedelta(hours=1), events=(), expect=bounds
    )
    checked = check_expect(scenario, report)
    assert [c["ok"] for c in checked] == [
        bounds[0].holds(fill),
        bounds[1].holds(p90),
        False,
    ]
    assert [c["bound"] for c in checked] == [str(b) for b in bounds]


history_entry = st.tuples(
    st.floats(min_value=0, max_value=4320, allow_nan=False),
    st.sampled_from(["request", "plan", "depart", "arrive", "close_road"]),
    st.dictionaries(st.text(min_size=1, max_size=5), st.integers(), max_size=4),
)


@given(st.lists(history_entry, max_size=20))
def test_canonical_history_ignores_key_order_but_not_content(
    entries: list[tuple[float, str, dict[str, int]]],
) -> None:
    forward: list[list[Any]] = [[m, k, dict(d)] for m, k, d in entries]
    backward: list[list[Any]] = [[m, k, dict(reversed(list(d.items())))] for m, k, d in entries]
    assert canonical(forward) == canonical(backward)
    if entries:
        changed = [list(e) for e in forward]
        changed[-1][0] = float(changed[-1][0]) + 1.0
        assert canonical(changed) != canonical(forward)
