"""A generated 24-hour scenario for `dispatch bench replay` (a benchmark, not a test).

Built from a seed over the reference data: a few incidents across the district and, through
the day, requests, people's tasks, road closures and openings, depot outages, receipts and
volunteers checking in and out, in the proportions a long incident day might see.
"""

from __future__ import annotations

import random
from datetime import datetime, timedelta

from dispatch.exercises import scenario as sc
from dispatch.exercises.replay import reference

START = datetime.fromisoformat("2024-07-30T06:00:00+08:00")
ITEMS = ("SANDBAG", "WATER", "FOOD", "RAINGEAR", "FLASHLIGHT", "FIRST_AID", "QUILT")
KINDS = ("door_check", "evacuation", "delivery_support", "guard")
# share of the generated events by action (after the incidents)
MIX = (
    ("request", 0.45),
    ("check_in", 0.17),
    ("task", 0.12),
    ("check_out", 0.08),
    ("close_road", 0.07),
    ("receive", 0.05),
    ("depot_out", 0.03),
    ("approve", 0.0),
)


def generated_scenario(events: int, seed: int = 1) -> sc.Scenario:
    """A valid `Scenario` with at least `events` events over 24 hours."""
    rng = random.Random(seed)
    ref = reference()
    communities = sorted(ref.communities)
    depots = sorted(d for d in ref.depots if d != "D110101000")
    out: list[sc.Event] = []

    def at() -> timedelta:
        return timedelta(minutes=rng.randrange(5, 24 * 60 - 30))

    keys = ["B1", "B2", "B3"]
    for k, key in enumerate(keys):
        out.append(
            sc.Incident(
                at=timedelta(minutes=k),
                line=0,
                index=len(out),
                key=key,
                type=("rainstorm", "heatwave", "utility_outage")[k],
                level=("II", "III", "III")[k],
                title=f"基准测试事件{k + 1} · bench incident {k + 1}",
                communities=tuple(rng.sample(communities, 6)),
            )
        )
    open_closures: list[tuple[sc.Closure, timedelta]] = []
    out_depots: list[tuple[str, timedelta]] = []
    end = timedelta(hours=24)

    def later(than: timedelta) -> timedelta:
        return min(than + timedelta(minutes=rng.randrange(20, 240)), end)

    weights = [w for _, w in MIX]
    names = [n for n, _ in MIX]
    while len(out) < events:
        action = rng.choices(names, weights)[0]
        index = len(out)
        when = at()
        if action == "request":
            out.append(
                sc.Request(
                    at=when,
                    line=0,
                    index=index,
                    incident=rng.choice(keys),
                    community=rng.choice(communities),
                    item=rng.choice(ITEMS),
                    quantity=rng.randrange(5, 60),
                    priority=rng.choices(sc.PRIORITIES, (1, 2, 4))[0],
                )
            )
        elif action == "check_in":
            out.append(
                sc.CheckIn(
                    at=when,
                    line=0,
                    index=index,
                    community=rng.choice(communities),
                    people=rng.randrange(1, 4),
                    skills=tuple(rng.sample(sorted(sc.BUILTIN_SKILLS), 2)),
                )
            )
        elif action == "check_out":
            out.append(
                sc.CheckOut(
                    at=when, line=0, index=index, community=rng.choice(communities), people=1
                )
            )
        elif action == "task":
            out.append(
                sc.Task(
                    at=when,
                    line=0,
                    index=index,
                    incident=rng.choice(keys),
                    community=rng.choice(communities),
                    kind=rng.choice(KINDS),
                    people=rng.randrange(1, 4),
                    minutes=rng.randrange(20, 120),
                    skills=(),
                )
            )
        elif action == "close_road":
            if open_closures and rng.random() < 0.5:
                closure, since = open_closures.pop(0)
                out.append(sc.OpenRoad(at=later(since), line=0, index=index, closure=closure))
            else:
                lat = 39.87 + rng.random() * 0.08
                lon = 116.39 + rng.random() * 0.045
                closure = sc.Closure(near=(round(lat, 5), round(lon, 5)), radius_m=120.0)
                open_closures.append((closure, when))
                out.append(sc.CloseRoad(at=when, line=0, index=index, closure=closure))
        elif action == "receive":
            out.append(
                sc.Receive(
                    at=when,
                    line=0,
                    index=index,
                    depot=rng.choice(depots),
                    item=rng.choice(ITEMS),
                    quantity=rng.randrange(50, 300),
                )
            )
        elif action == "depot_out":
            if out_depots and rng.random() < 0.5:
                depot, since = out_depots.pop(0)
                out.append(sc.DepotBack(at=later(since), line=0, index=index, depot=depot))
            else:
                gone = {d for d, _ in out_depots}
                depot = rng.choice([d for d in depots if d not in gone])
                out_depots.append((depot, when))
                out.append(sc.DepotOut(at=when, line=0, index=index, depot=depot))
    # the same offsets in the order they will run: file order is event order
    ordered = sorted(out, key=lambda e: (e.at, e.index))
    return sc.Scenario(
        name=f"基准 24 小时 · generated 24-hour scenario ({len(ordered)} events)",
        start=START,
        duration=timedelta(hours=24),
        events=tuple(ordered),
        description="generated by dispatch bench replay",
        seed=seed,
        source=f"bench-{seed}.yaml",
    )
