"""A generated 24-hour scenario for `dispatch bench replay` (a benchmark, not a test).

Built from a seed over the reference data: a few incidents across the district and, through
the day, requests, people's tasks, road closures and openings, depot outages, receipts and
volunteers checking in and out, in the proportions a long incident day might see.
"""

from __future__ import annotations

import random
from collections.abc import Callable
from dataclasses import dataclass, field, fields
from datetime import datetime, timedelta
from typing import Any

import yaml
from yaml.nodes import MappingNode, Node, ScalarNode, SequenceNode

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


END = timedelta(hours=24)
KEYS = ("B1", "B2", "B3")


@dataclass
class _Day:
    """The generator's state: one random stream drawn in a fixed order (the same seed gives
    the same day), the events so far, and the closures and outages still open."""

    rng: random.Random
    communities: list[str]
    depots: list[str]
    out: list[sc.Event] = field(default_factory=list)
    open_closures: list[tuple[sc.Closure, timedelta]] = field(default_factory=list)
    out_depots: list[tuple[str, timedelta]] = field(default_factory=list)

    def at(self) -> timedelta:
        return timedelta(minutes=self.rng.randrange(5, 24 * 60 - 30))

    def later(self, than: timedelta) -> timedelta:
        return min(than + timedelta(minutes=self.rng.randrange(20, 240)), END)


def _incidents(day: _Day) -> None:
    rng = day.rng
    for k, key in enumerate(KEYS):
        day.out.append(
            sc.Incident(
                at=timedelta(minutes=k),
                line=0,
                index=len(day.out),
                key=key,
                type=("rainstorm", "heatwave", "utility_outage")[k],
                level=("II", "III", "III")[k],
                title=f"基准测试事件{k + 1} · bench incident {k + 1}",
                communities=tuple(rng.sample(day.communities, 6)),
            )
        )


def _request(day: _Day, index: int, when: timedelta) -> None:
    rng = day.rng
    day.out.append(
        sc.Request(
            at=when,
            line=0,
            index=index,
            incident=rng.choice(KEYS),
            community=rng.choice(day.communities),
            item=rng.choice(ITEMS),
            quantity=rng.randrange(5, 60),
            priority=rng.choices(sc.PRIORITIES, (1, 2, 4))[0],
        )
    )


def _check_in(day: _Day, index: int, when: timedelta) -> None:
    rng = day.rng
    day.out.append(
        sc.CheckIn(
            at=when,
            line=0,
            index=index,
            community=rng.choice(day.communities),
            people=rng.randrange(1, 4),
            skills=tuple(rng.sample(sorted(sc.BUILTIN_SKILLS), 2)),
        )
    )


def _check_out(day: _Day, index: int, when: timedelta) -> None:
    community = day.rng.choice(day.communities)
    day.out.append(sc.CheckOut(at=when, line=0, index=index, community=community, people=1))


def _task(day: _Day, index: int, when: timedelta) -> None:
    rng = day.rng
    day.out.append(
        sc.Task(
            at=when,
            line=0,
            index=index,
            incident=rng.choice(KEYS),
            community=rng.choice(day.communities),
            kind=rng.choice(KINDS),
            people=rng.randrange(1, 4),
            minutes=rng.randrange(20, 120),
            skills=(),
        )
    )


def _close_road(day: _Day, index: int, when: timedelta) -> None:
    """Half the time an open closure opens again; else a new one closes."""
    rng = day.rng
    if day.open_closures and rng.random() < 0.5:
        closure, since = day.open_closures.pop(0)
        day.out.append(sc.OpenRoad(at=day.later(since), line=0, index=index, closure=closure))
        return
    lat = 39.87 + rng.random() * 0.08
    lon = 116.39 + rng.random() * 0.045
    closure = sc.Closure(near=(round(lat, 5), round(lon, 5)), radius_m=120.0)
    day.open_closures.append((closure, when))
    day.out.append(sc.CloseRoad(at=when, line=0, index=index, closure=closure))


def _receive(day: _Day, index: int, when: timedelta) -> None:
    rng = day.rng
    day.out.append(
        sc.Receive(
            at=when,
            line=0,
            index=index,
            depot=rng.choice(day.depots),
            item=rng.choice(ITEMS),
            quantity=rng.randrange(50, 300),
        )
    )


def _depot_out(day: _Day, index: int, when: timedelta) -> None:
    """Half the time a depot that is out comes back; else another one goes out, or, when
    every depot is out already, the first one out comes back (the draws before that are
    the same as before this case was handled, so other seeds' days are unchanged)."""
    rng = day.rng
    gone = {d for d, _ in day.out_depots}
    left = [d for d in day.depots if d not in gone]
    if day.out_depots and (rng.random() < 0.5 or not left):
        depot, since = day.out_depots.pop(0)
        day.out.append(sc.DepotBack(at=day.later(since), line=0, index=index, depot=depot))
        return
    if not left:  # no depot at all
        return
    depot = rng.choice(left)
    day.out_depots.append((depot, when))
    day.out.append(sc.DepotOut(at=when, line=0, index=index, depot=depot))


def _approve(day: _Day, index: int, when: timedelta) -> None:
    """Weighted 0 in MIX: never drawn (auto-approve plays the day)."""


# one generator per action of MIX
_ACTIONS: dict[str, Callable[[_Day, int, timedelta], None]] = {
    "request": _request,
    "check_in": _check_in,
    "task": _task,
    "check_out": _check_out,
    "close_road": _close_road,
    "receive": _receive,
    "depot_out": _depot_out,
    "approve": _approve,
}


def generated_scenario(events: int, seed: int = 1) -> sc.Scenario:
    """A valid `Scenario` with at least `events` events over 24 hours."""
    rng = random.Random(seed)
    ref = reference()
    day = _Day(rng, sorted(ref.communities), sorted(d for d in ref.depots if d != "D110101000"))
    _incidents(day)
    weights = [w for _, w in MIX]
    names = [n for n, _ in MIX]
    while len(day.out) < events:
        action = rng.choices(names, weights)[0]
        index = len(day.out)
        when = day.at()
        _ACTIONS[action](day, index, when)
    # the same offsets in the order they will run: file order is event order
    ordered = sorted(day.out, key=lambda e: (e.at, e.index))
    return sc.Scenario(
        name=f"基准 24 小时 · generated 24-hour scenario ({len(ordered)} events)",
        start=START,
        duration=timedelta(hours=24),
        events=tuple(ordered),
        description="generated by dispatch bench replay",
        seed=seed,
        source=f"bench-{seed}.yaml",
    )


def _offset(at: timedelta) -> str:
    seconds = int(at.total_seconds())
    if seconds != at.total_seconds():
        raise ValueError(f"offset {at} is not whole seconds")
    return f"{seconds}s"


def _plain(value: Any) -> Any:
    """A field's value as the file writes it: closures as maps, tuples as lists, offsets
    as seconds."""
    if isinstance(value, sc.Closure):
        return {k: _plain(v) for k, v in value.__dict__.items() if v is not None}
    if isinstance(value, tuple):
        return [_plain(v) for v in value]
    if isinstance(value, timedelta):
        return _offset(value)
    return value


# per event type, the fields a file writes (not `at`, `line`, `index`)
_FIELDS: dict[type, tuple[str, ...]] = {}


def _event_map(event: sc.Event) -> dict[str, Any]:
    names = _FIELDS.get(type(event))
    if names is None:
        names = tuple(f.name for f in fields(event) if f.name not in ("at", "line", "index"))
        _FIELDS[type(event)] = names
    body = {
        name: _plain(value)
        for name in names
        if (value := getattr(event, name)) is not None and value != ()
    }
    if isinstance(event, sc.CloseRoad | sc.OpenRoad):
        body = body["closure"]
    return {"at": _offset(event.at), event.action: body}


_TAG = "tag:yaml.org,2002:"


def _node(value: Any, mark: yaml.Mark) -> Node:
    """The YAML node a file with this value composes to (tags as the resolver gives them,
    its line in ``mark``); exact types, most frequent first (bool is no int here)."""
    kind = type(value)
    if kind is str:
        return ScalarNode(_TAG + "str", value, mark, mark)
    if kind is int:
        return ScalarNode(_TAG + "int", str(value), mark, mark)
    if kind is dict:
        pairs = [(_node(k, mark), _node(v, mark)) for k, v in value.items()]
        return MappingNode(_TAG + "map", pairs, mark, mark)
    if kind is list:
        return SequenceNode(_TAG + "seq", [_node(v, mark) for v in value], mark, mark)
    if kind is float:
        return ScalarNode(_TAG + "float", repr(value), mark, mark)
    raise TypeError(f"no such field value in a generated scenario: {value!r}")


def scenario_node(scenario: sc.Scenario) -> Node:
    """A generated scenario as the YAML node tree of a `dispatch-scenario/1` file (name,
    start, duration, description, seed and events as `generated_scenario` sets them; world,
    policy and expect at their defaults): what `dispatch scenario check` composes a file to
    and checks, without writing and reading the text (event k on line k + 8)."""
    head = {
        "format": scenario.format,
        "name": scenario.name,
        "description": scenario.description,
        "seed": scenario.seed,
        "start": scenario.start.isoformat(),
        "duration": _offset(scenario.duration),
    }

    def line(k: int) -> yaml.Mark:
        return yaml.Mark("<generated>", 0, k, 0, "", 0)  # no buffer to quote from

    events = [_node(_event_map(e), line(k + len(head) + 1)) for k, e in enumerate(scenario.events)]
    top = _node(head, line(0))
    assert isinstance(top, MappingNode)
    listed = SequenceNode(_TAG + "seq", events, line(len(head)), line(len(head)))
    top.value.append((_node("events", line(len(head))), listed))
    return top


def scenario_yaml(scenario: sc.Scenario) -> str:
    """A generated scenario as the text of a `dispatch-scenario/1` file (`scenario_node`)."""
    dumper = getattr(yaml, "CSafeDumper", yaml.SafeDumper)  # libyaml where built with it
    text: str = yaml.serialize(scenario_node(scenario), Dumper=dumper, allow_unicode=True)
    return text
