"""Scenario files (`dispatch-scenario/1`): load, validate and type them, before any clock starts.

The contract is `../shared/docs/scenario-format.md`. A file that breaks it is refused with
a `ScenarioError` listing every problem found, each naming its line and key path
(`line 14, events[3].request.quantity: must be a positive integer`).

The validator is pure: places, depots, items and skills are looked up in a `Reference`
(built from the reference CSVs by `load_reference`), so it runs without a database.

Shapes accepted where the format leaves room:

- an event is `{at: OFFSET, ACTION: {field: value, ...}}`; an action with one field may
  give it directly (`depot_out: D110101005`, `stand_down: R1`, `approve: latest`);
- `need_by` is an offset from `start`, like `at`, and may not come before its event;
- an offset of plain `0` means the start;
- `expect` takes figure names from the report; nested figures by dotted name
  (`delivery_minutes.p90: "<= 120"`) or as a nested map.
"""

from __future__ import annotations

import csv
import re
from collections.abc import Callable, Iterable
from dataclasses import dataclass, field
from datetime import date, datetime, timedelta
from pathlib import Path
from typing import Any, ClassVar, TypeAlias, TypeVar

import yaml
from yaml.nodes import MappingNode, Node, ScalarNode, SequenceNode

FORMAT = "dispatch-scenario/1"

INCIDENT_TYPES = frozenset(
    {
        "rainstorm",
        "fire",
        "earthquake",
        "heatwave",
        "snow_ice",
        "public_health",
        "utility_outage",
        "building_collapse",
    }
)
LEVELS = ("I", "II", "III", "IV")
PRIORITIES = ("critical", "high", "normal")
TASK_KINDS = ("door_check", "evacuation", "delivery_support", "guard")
PLANNERS = ("optimal", "nearest")
BUILTIN_SKILLS = frozenset(
    {
        "first_aid",
        "driving",
        "electrician",
        "plumbing",
        "counselling",
        "elderly_care",
        "lifting",
        "medical",
        "interpreting",
    }
)
# the report's figures in the order they are shown; `expect` may bound any of them
FIGURES: tuple[str, ...] = (
    "requests",
    "requested_units",
    "delivered_units",
    "fill_rate",
    "fill_rate_by_priority.critical",
    "fill_rate_by_priority.high",
    "fill_rate_by_priority.normal",
    "unmet",
    "first_delivery_minutes",
    "delivery_minutes.p50",
    "delivery_minutes.p90",
    "delivery_minutes.max",
    "delivery_minutes.mean",
    "deliveries",
    "tasks",
    "tasks_staffed",
    "people_hours",
    "plans",
    "wall_seconds",
)

_DURATION = re.compile(r"^(?:(\d+)d)?(?:(\d+)h)?(?:(\d+)m)?(?:(\d+)s)?$")
_BOUND = re.compile(r"^\s*(>=|<=|==|>|<)\s*(-?\d+(?:\.\d+)?)\s*$")
_SKILL = re.compile(r"^[a-z][a-z0-9_]{1,39}$")


# ---------------------------------------------------------------- problems


@dataclass(frozen=True, order=True)
class Problem:
    """One thing wrong with a file: where (line, key path) and what."""

    line: int
    path: str
    message: str

    def __str__(self) -> str:
        where = f"line {self.line}, {self.path}" if self.path else f"line {self.line}"
        return f"{where}: {self.message}"


class ScenarioError(Exception):
    """A file refused: every problem found, in line order."""

    def __init__(self, problems: Iterable[Problem], source: str = "<scenario>") -> None:
        self.problems = sorted(problems)
        self.source = source
        lines = "\n".join(f"  {p}" for p in self.problems)
        super().__init__(f"{source}: {len(self.problems)} problem(s)\n{lines}")


# ---------------------------------------------------------------- reference data


@dataclass(frozen=True)
class Reference:
    """What a scenario may name: communities and streets (code or exact name), depot and
    item codes, skills."""

    communities: dict[str, str]  # code -> name
    community_streets: dict[str, str]  # code -> street code
    community_names: dict[str, tuple[str, ...]]  # name (and official name) -> codes
    streets: dict[str, str]  # code -> name
    street_names: dict[str, str]  # name -> code
    depots: frozenset[str]
    items: frozenset[str]
    skills: frozenset[str] = BUILTIN_SKILLS

    def community(self, value: str) -> str | list[str] | None:
        """The code a community reference names; a list when a name is ambiguous."""
        if value in self.communities:
            return value
        codes = self.community_names.get(value, ())
        if len(codes) == 1:
            return codes[0]
        return list(codes) if codes else None

    def street(self, value: str) -> str | None:
        if value in self.streets:
            return value
        return self.street_names.get(value)

    def with_skills(self, skills: Iterable[str]) -> Reference:
        """The same reference, knowing more skills (a commander added some)."""
        return Reference(
            self.communities,
            self.community_streets,
            self.community_names,
            self.streets,
            self.street_names,
            self.depots,
            self.items,
            self.skills | frozenset(skills),
        )


def _rows(path: Path) -> list[dict[str, str]]:
    with path.open(encoding="utf-8", newline="") as handle:
        return list(csv.DictReader(handle))


def load_reference(folder: Path) -> Reference:
    """The reference from `communities.csv`, `streets.csv`, `depots.csv` and `items.csv`."""
    streets = {r["code"]: r["name"] for r in _rows(folder / "streets.csv")}
    communities: dict[str, str] = {}
    community_streets: dict[str, str] = {}
    names: dict[str, list[str]] = {}
    for r in _rows(folder / "communities.csv"):
        communities[r["code"]] = r["name"]
        community_streets[r["code"]] = r["street_code"]
        for name in {r["name"], r.get("official_name") or r["name"]}:
            names.setdefault(name, []).append(r["code"])
    return Reference(
        communities=communities,
        community_streets=community_streets,
        community_names={k: tuple(v) for k, v in names.items()},
        streets=streets,
        street_names={name: code for code, name in streets.items()},
        depots=frozenset(r["code"] for r in _rows(folder / "depots.csv")),
        items=frozenset(r["code"] for r in _rows(folder / "items.csv")),
    )


# ---------------------------------------------------------------- the typed scenario


@dataclass(frozen=True)
class Policy:
    planner: str = "optimal"
    replan_every: timedelta = timedelta(minutes=15)
    auto_approve: bool = True
    assign_people: bool = True
    vehicle_speed_kmh: float = 25.0
    handling_minutes: float = 10.0


@dataclass(frozen=True)
class Closure:
    """Roads inside a circle (`near`, `radius_m`), or one edge between two road nodes."""

    near: tuple[float, float] | None = None
    radius_m: float | None = None
    edge: tuple[int, int] | None = None


@dataclass(frozen=True)
class StockLine:
    depot: str
    item: str
    quantity: int
    expires: date | None = None


@dataclass(frozen=True)
class OnDuty:
    community: str
    people: int
    skills: tuple[str, ...] = ()


@dataclass(frozen=True)
class TeamOnCall:
    id: str
    unit: str
    community: str
    size: int
    skills: tuple[str, ...] = ()


@dataclass(frozen=True)
class World:
    stock: tuple[StockLine, ...] = ()
    depots_out: tuple[str, ...] = ()
    closed_roads: tuple[Closure, ...] = ()
    on_duty: tuple[OnDuty, ...] = ()
    teams: tuple[TeamOnCall, ...] = ()


@dataclass(frozen=True, kw_only=True)
class _Event:
    action: ClassVar[str]
    at: timedelta
    line: int  # where the event starts in the file
    index: int  # its position in the file's list


@dataclass(frozen=True, kw_only=True)
class Incident(_Event):
    action: ClassVar[str] = "incident"
    key: str
    type: str
    level: str
    title: str
    communities: tuple[str, ...]


@dataclass(frozen=True, kw_only=True)
class Request(_Event):
    action: ClassVar[str] = "request"
    incident: str
    community: str
    item: str
    quantity: int
    priority: str
    need_by: timedelta | None = None


@dataclass(frozen=True, kw_only=True)
class Task(_Event):
    action: ClassVar[str] = "task"
    incident: str
    community: str
    kind: str
    people: int
    minutes: int
    skills: tuple[str, ...] = ()


@dataclass(frozen=True, kw_only=True)
class CloseRoad(_Event):
    action: ClassVar[str] = "close_road"
    closure: Closure


@dataclass(frozen=True, kw_only=True)
class OpenRoad(_Event):
    action: ClassVar[str] = "open_road"
    closure: Closure


@dataclass(frozen=True, kw_only=True)
class DepotOut(_Event):
    action: ClassVar[str] = "depot_out"
    depot: str


@dataclass(frozen=True, kw_only=True)
class DepotBack(_Event):
    action: ClassVar[str] = "depot_back"
    depot: str


@dataclass(frozen=True, kw_only=True)
class Receive(_Event):
    action: ClassVar[str] = "receive"
    depot: str
    item: str
    quantity: int
    expires: date | None = None


@dataclass(frozen=True, kw_only=True)
class CheckIn(_Event):
    action: ClassVar[str] = "check_in"
    community: str
    people: int
    skills: tuple[str, ...] = ()


@dataclass(frozen=True, kw_only=True)
class CheckOut(_Event):
    action: ClassVar[str] = "check_out"
    community: str
    people: int


@dataclass(frozen=True, kw_only=True)
class Approve(_Event):
    action: ClassVar[str] = "approve"
    plan: str = "latest"


@dataclass(frozen=True, kw_only=True)
class StandDown(_Event):
    action: ClassVar[str] = "stand_down"
    incident: str


Event: TypeAlias = (
    Incident
    | Request
    | Task
    | CloseRoad
    | OpenRoad
    | DepotOut
    | DepotBack
    | Receive
    | CheckIn
    | CheckOut
    | Approve
    | StandDown
)


@dataclass(frozen=True)
class Bound:
    """`figure op value`, e.g. fill_rate >= 0.9."""

    figure: str
    op: str
    value: float
    line: int = 0

    def holds(self, actual: float | None) -> bool:
        if actual is None:
            return False
        return {
            ">=": actual >= self.value,
            "<=": actual <= self.value,
            "==": actual == self.value,
            ">": actual > self.value,
            "<": actual < self.value,
        }[self.op]

    def __str__(self) -> str:
        value = int(self.value) if self.value == int(self.value) else self.value
        return f"{self.figure} {self.op} {value}"


@dataclass(frozen=True)
class Scenario:
    name: str
    start: datetime
    duration: timedelta
    events: tuple[Event, ...]
    format: str = FORMAT
    description: str = ""
    seed: int = 0
    policy: Policy = field(default_factory=Policy)
    world: World = field(default_factory=World)
    expect: tuple[Bound, ...] = ()
    source: str = "<scenario>"

    @property
    def end(self) -> datetime:
        return self.start + self.duration

    def incidents(self) -> tuple[Incident, ...]:
        return tuple(e for e in self.events if isinstance(e, Incident))


# ---------------------------------------------------------------- durations


def parse_duration(text: str) -> timedelta | None:
    """`90m`, `1h30m`, `12h`, `2d`, `45s` (units in the order d h m s); None if malformed."""
    text = text.strip()
    if text == "0":
        return timedelta(0)
    found = _DURATION.match(text)
    if not text or found is None:
        return None
    days, hours, minutes, seconds = (int(g) if g else 0 for g in found.groups())
    return timedelta(days=days, hours=hours, minutes=minutes, seconds=seconds)


def format_duration(value: timedelta) -> str:
    """The inverse of `parse_duration` for non-negative whole seconds: `1h30m`, `0s`."""
    total = int(value.total_seconds())
    if total < 0:
        raise ValueError("durations are not negative")
    days, rest = divmod(total, 86400)
    hours, rest = divmod(rest, 3600)
    minutes, seconds = divmod(rest, 60)
    parts = [(days, "d"), (hours, "h"), (minutes, "m"), (seconds, "s")]
    text = "".join(f"{n}{unit}" for n, unit in parts if n)
    return text or "0s"


# ---------------------------------------------------------------- the validator

T = TypeVar("T")
Fields: TypeAlias = dict[str, tuple[ScalarNode, Node]]


def _line(node: Node) -> int:
    return int(node.start_mark.line) + 1


def _join(path: str, key: str) -> str:
    return f"{path}.{key}" if path else key


class _Checker:
    """Walks the composed YAML (nodes keep their lines) and collects every problem."""

    def __init__(self, reference: Reference) -> None:
        self.ref = reference
        self.problems: list[Problem] = []
        self.broken_incidents: set[str] = set()  # keys of refused incidents: no cascade
        self._constructor = yaml.SafeLoader("")

    def fail(self, node: Node, path: str, message: str) -> None:
        self.problems.append(Problem(_line(node), path, message))

    # -- structure

    def mapping(
        self, node: Node, path: str, required: Iterable[str] = (), allowed: Iterable[str] = ()
    ) -> Fields | None:
        """The keys of a map with their nodes; flags missing, unknown and repeated keys."""
        if not isinstance(node, MappingNode):
            self.fail(node, path, "must be a map of keys and values")
            return None
        found: Fields = {}
        known = set(required) | set(allowed)
        for key_node, value_node in node.value:
            if not isinstance(key_node, ScalarNode) or key_node.tag != "tag:yaml.org,2002:str":
                self.fail(key_node, path, "keys must be plain names")
                continue
            key = str(key_node.value)
            if key in found:
                self.fail(key_node, _join(path, key), "appears twice")
                continue
            found[key] = (key_node, value_node)
            if known and key not in known:
                self.fail(key_node, _join(path, key), f"unknown key (allowed: {_names(known)})")
        for key in required:
            if key not in found:
                self.fail(node, _join(path, key), "missing required key")
        return found

    def sequence(self, node: Node, path: str) -> list[Node] | None:
        if not isinstance(node, SequenceNode):
            self.fail(node, path, "must be a list")
            return None
        return list(node.value)

    def each(
        self, node: Node, path: str, convert: Callable[[Node, str], T | None]
    ) -> tuple[T, ...] | None:
        items = self.sequence(node, path)
        if items is None:
            return None
        out = [convert(item, f"{path}[{i}]") for i, item in enumerate(items)]
        if any(v is None for v in out):
            return None
        return tuple(v for v in out if v is not None)

    # -- scalars

    def scalar(self, node: Node, path: str) -> Any:
        if not isinstance(node, ScalarNode):
            self.fail(node, path, "must be a single value, not a list or map")
            return None
        return self._constructor.construct_object(node, deep=True)

    def raw(self, node: Node, path: str) -> str | None:
        """The scalar's text as written (dates and times are read from it, not from YAML)."""
        if not isinstance(node, ScalarNode):
            self.fail(node, path, "must be a single value, not a list or map")
            return None
        return str(node.value)

    def text(self, node: Node, path: str) -> str | None:
        value = self.raw(node, path)
        if value is None:
            return None
        if node.tag == "tag:yaml.org,2002:null" or not value.strip():
            self.fail(node, path, "must not be empty")
            return None
        return value.strip()

    def integer(self, node: Node, path: str, minimum: int = 1) -> int | None:
        value = self.scalar(node, path)
        if not isinstance(node, ScalarNode):
            return None
        if isinstance(value, bool) or not isinstance(value, int) or value < minimum:
            what = "a positive integer" if minimum == 1 else f"an integer >= {minimum}"
            self.fail(node, path, f"must be {what}")
            return None
        return value

    def number(
        self,
        node: Node,
        path: str,
        *,
        positive: bool = True,
        lo: float | None = None,
        hi: float | None = None,
    ) -> float | None:
        value = self.scalar(node, path)
        if isinstance(value, bool) or not isinstance(value, int | float):
            if isinstance(node, ScalarNode):
                self.fail(node, path, "must be a number")
            return None
        number = float(value)
        if positive and number <= 0:
            self.fail(node, path, "must be a positive number")
            return None
        if (lo is not None and number < lo) or (hi is not None and number > hi):
            self.fail(node, path, f"must be between {lo} and {hi}")
            return None
        return number

    def boolean(self, node: Node, path: str) -> bool | None:
        value = self.scalar(node, path)
        if not isinstance(value, bool):
            if isinstance(node, ScalarNode):
                self.fail(node, path, "must be true or false")
            return None
        return value

    def choice(self, node: Node, path: str, allowed: Iterable[str], what: str) -> str | None:
        value = self.raw(node, path)
        options = tuple(allowed)
        if value is None:
            return None
        if value not in options:
            self.fail(node, path, f"unknown {what} {value!r} (one of: {', '.join(options)})")
            return None
        return value

    def duration(self, node: Node, path: str, what: str = "duration") -> timedelta | None:
        value = self.raw(node, path)
        if value is None:
            return None
        parsed = parse_duration(value)
        if parsed is None:
            self.fail(
                node,
                path,
                f"bad {what} {value!r}: a number and a unit s, m, h or d (90m, 1h30m, 12h, 2d)",
            )
        return parsed

    def day(self, node: Node, path: str) -> date | None:
        value = self.raw(node, path)
        if value is None:
            return None
        try:
            return date.fromisoformat(value.strip())
        except ValueError:
            self.fail(node, path, f"bad date {value!r}: ISO 8601, e.g. 2024-08-15")
            return None

    def moment(self, node: Node, path: str) -> datetime | None:
        value = self.raw(node, path)
        if value is None:
            return None
        try:
            parsed = datetime.fromisoformat(value.strip())
        except ValueError:
            parsed = None
        if parsed is None or parsed.tzinfo is None or "T" not in value.upper():
            self.fail(
                node,
                path,
                f"bad date and time {value!r}: ISO 8601 with an offset, "
                "e.g. 2024-07-30T18:00:00+08:00",
            )
            return None
        return parsed

    # -- references

    def community(self, node: Node, path: str) -> str | None:
        value = self.scalar(node, path)
        if value is None:
            return None
        text = str(value).strip()
        found = self.ref.community(text)
        if isinstance(found, list):
            self.fail(node, path, f"community name {text!r} is ambiguous; use one of {found}")
            return None
        if found is None:
            self.fail(node, path, f"unknown community {text!r} (a 12-digit code or exact name)")
        return found

    def street(self, node: Node, path: str) -> str | None:
        value = self.scalar(node, path)
        if value is None:
            return None
        found = self.ref.street(str(value).strip())
        if found is None:
            self.fail(node, path, f"unknown street {value!r} (a 9-digit code or exact name)")
        return found

    def depot(self, node: Node, path: str) -> str | None:
        value = self.raw(node, path)
        if value is not None and value not in self.ref.depots:
            self.fail(node, path, f"unknown depot {value!r}")
            return None
        return value

    def item(self, node: Node, path: str) -> str | None:
        value = self.raw(node, path)
        if value is not None and value not in self.ref.items:
            self.fail(node, path, f"unknown item {value!r} (codes: {_names(self.ref.items)})")
            return None
        return value

    def skill(self, node: Node, path: str) -> str | None:
        value = self.raw(node, path)
        if value is None:
            return None
        if not _SKILL.match(value) or value not in self.ref.skills:
            self.fail(node, path, f"unknown skill {value!r} (known: {_names(self.ref.skills)})")
            return None
        return value

    def skills(self, fields: Fields, path: str) -> tuple[str, ...] | None:
        if "skills" not in fields:
            return ()
        return self.each(fields["skills"][1], _join(path, "skills"), self.skill)

    # -- world

    def closure(self, node: Node, path: str) -> Closure | None:
        fields = self.mapping(node, path, allowed=("near", "radius_m", "edge"))
        if fields is None:
            return None
        if ("near" in fields) == ("edge" in fields):
            self.fail(node, path, "needs either near: [lat, lon] with radius_m, or edge: [u, v]")
            return None
        if "edge" in fields:
            if "radius_m" in fields:
                self.fail(fields["radius_m"][0], _join(path, "radius_m"), "only goes with near")
            ends = self.pair(fields["edge"][1], _join(path, "edge"), "two road node ids")
            if ends is None:
                return None
            u = self.integer(ends[0], _join(path, "edge") + "[0]", minimum=0)
            v = self.integer(ends[1], _join(path, "edge") + "[1]", minimum=0)
            return Closure(edge=(u, v)) if u is not None and v is not None else None
        near_path = _join(path, "near")
        ends = self.pair(fields["near"][1], near_path, "[lat, lon]")
        radius = None
        if "radius_m" not in fields:
            self.fail(node, _join(path, "radius_m"), "missing required key (with near)")
        else:
            radius = self.number(fields["radius_m"][1], _join(path, "radius_m"))
        if ends is None:
            return None
        lat = self.number(ends[0], near_path + "[0]", positive=False, lo=-90, hi=90)
        lon = self.number(ends[1], near_path + "[1]", positive=False, lo=-180, hi=180)
        if lat is None or lon is None or radius is None:
            return None
        return Closure(near=(lat, lon), radius_m=radius)

    def pair(self, node: Node, path: str, what: str) -> tuple[Node, Node] | None:
        items = self.sequence(node, path)
        if items is None:
            return None
        if len(items) != 2:
            self.fail(node, path, f"must be {what}")
            return None
        return items[0], items[1]

    def stock_line(self, node: Node, path: str) -> StockLine | None:
        fields = self.mapping(node, path, ("depot", "item", "quantity"), ("expires",))
        if fields is None or not {"depot", "item", "quantity"} <= fields.keys():
            return None
        depot = self.depot(fields["depot"][1], _join(path, "depot"))
        item = self.item(fields["item"][1], _join(path, "item"))
        qty = self.integer(fields["quantity"][1], _join(path, "quantity"), minimum=0)
        expires = (
            self.day(fields["expires"][1], _join(path, "expires")) if "expires" in fields else None
        )
        if depot is None or item is None or qty is None:
            return None
        return StockLine(depot, item, qty, expires)

    def on_duty(self, node: Node, path: str) -> OnDuty | None:
        fields = self.mapping(node, path, ("community", "people"), ("skills",))
        if fields is None or not {"community", "people"} <= fields.keys():
            return None
        community = self.community(fields["community"][1], _join(path, "community"))
        people = self.integer(fields["people"][1], _join(path, "people"))
        skills = self.skills(fields, path)
        if community is None or people is None or skills is None:
            return None
        return OnDuty(community, people, skills)

    def team(self, node: Node, path: str) -> TeamOnCall | None:
        fields = self.mapping(node, path, ("id", "unit", "community", "size"), ("skills",))
        if fields is None or not {"id", "unit", "community", "size"} <= fields.keys():
            return None
        ident = self.text(fields["id"][1], _join(path, "id"))
        unit = self.text(fields["unit"][1], _join(path, "unit"))
        community = self.community(fields["community"][1], _join(path, "community"))
        size = self.integer(fields["size"][1], _join(path, "size"))
        skills = self.skills(fields, path)
        if None in (ident, unit, community, size, skills):
            return None
        assert ident is not None and unit is not None and community is not None
        assert size is not None and skills is not None
        return TeamOnCall(ident, unit, community, size, skills)

    def world(self, node: Node) -> World:
        keys = ("stock", "depots_out", "closed_roads", "on_duty", "teams")
        fields = self.mapping(node, "world", allowed=keys)
        if fields is None:
            return World()
        parts: dict[str, Any] = {}
        if "stock" in fields:
            parts["stock"] = self.each(fields["stock"][1], "world.stock", self.stock_line)
        if "depots_out" in fields:
            parts["depots_out"] = self.each(fields["depots_out"][1], "world.depots_out", self.depot)
        if "closed_roads" in fields:
            parts["closed_roads"] = self.each(
                fields["closed_roads"][1], "world.closed_roads", self.closure
            )
        if "on_duty" in fields:
            parts["on_duty"] = self.each(fields["on_duty"][1], "world.on_duty", self.on_duty)
        if "teams" in fields:
            teams = self.each(fields["teams"][1], "world.teams", self.team)
            if teams is not None:
                seen: set[str] = set()
                for i, team in enumerate(teams):
                    if team.id in seen:
                        self.fail(fields["teams"][1], f"world.teams[{i}].id", "repeats a team id")
                    seen.add(team.id)
            parts["teams"] = teams
        return World(**{k: v for k, v in parts.items() if v is not None})

    # -- policy

    def policy(self, node: Node) -> Policy:
        keys = (
            "planner",
            "replan_every",
            "auto_approve",
            "assign_people",
            "vehicle_speed_kmh",
            "handling_minutes",
        )
        fields = self.mapping(node, "policy", allowed=keys)
        if fields is None:
            return Policy()
        parts: dict[str, Any] = {}
        if "planner" in fields:
            parts["planner"] = self.choice(
                fields["planner"][1], "policy.planner", PLANNERS, "planner"
            )
        if "replan_every" in fields:
            every = self.duration(fields["replan_every"][1], "policy.replan_every")
            if every is not None and every <= timedelta(0):
                self.fail(fields["replan_every"][1], "policy.replan_every", "must be more than 0")
                every = None
            parts["replan_every"] = every
        for flag in ("auto_approve", "assign_people"):
            if flag in fields:
                parts[flag] = self.boolean(fields[flag][1], f"policy.{flag}")
        if "vehicle_speed_kmh" in fields:
            parts["vehicle_speed_kmh"] = self.number(
                fields["vehicle_speed_kmh"][1], "policy.vehicle_speed_kmh"
            )
        if "handling_minutes" in fields:
            minutes = self.number(
                fields["handling_minutes"][1], "policy.handling_minutes", positive=False
            )
            if minutes is not None and minutes < 0:
                self.fail(fields["handling_minutes"][1], "policy.handling_minutes", "must be >= 0")
                minutes = None
            parts["handling_minutes"] = minutes
        return Policy(**{k: v for k, v in parts.items() if v is not None})

    # -- events

    def event(self, node: Node, index: int) -> Event | None:
        path = f"events[{index}]"
        fields = self.mapping(node, path)
        if fields is None:
            return None
        at = None
        if "at" not in fields:
            self.fail(node, _join(path, "at"), "missing required key")
        else:
            at = self.duration(fields["at"][1], _join(path, "at"), "offset")
        actions = [k for k in fields if k != "at"]
        known = [k for k in actions if k in _ACTIONS]
        for key in actions:
            if key not in _ACTIONS:
                self.fail(
                    fields[key][0],
                    _join(path, key),
                    f"unknown action {key!r} (one of: {', '.join(_ACTIONS)})",
                )
        if not actions:
            self.fail(node, path, f"needs one action ({', '.join(_ACTIONS)})")
            return None
        if len(known) > 1:
            self.fail(
                fields[known[1]][0],
                _join(path, known[1]),
                f"an event has exactly one action; this one also has {known[0]!r}",
            )
            return None
        if len(known) != 1 or len(actions) != 1:
            return None
        action = known[0]
        key_node, body = fields[action]
        action_path = _join(path, action)
        kind, required, optional = _ACTIONS[action]
        if action in ("close_road", "open_road"):
            closure = self.closure(body, action_path)
            if closure is None or at is None:
                return None
            return kind(at=at, line=_line(node), index=index, closure=closure)
        if isinstance(body, ScalarNode) and len(required) == 1 and not optional:
            values: Fields = {required[0]: (key_node, body)}
        else:
            shaped = self.mapping(body, action_path, required, optional)
            if shaped is None:
                return None
            values = shaped
        if not set(required) <= values.keys():
            return None
        parsed = self.action_fields(action, values, action_path)
        if action == "incident" and parsed is None and "key" in values:
            self.broken_incidents.add(str(values["key"][1].value))
        if parsed is None or at is None:
            return None
        return kind(at=at, line=_line(node), index=index, **parsed)

    def action_fields(self, action: str, f: Fields, path: str) -> dict[str, Any] | None:
        def get(key: str, convert: Callable[[Node, str], Any]) -> Any:
            return convert(f[key][1], _join(path, key)) if key in f else None

        out: dict[str, Any]
        if action == "incident":
            communities = get("communities", lambda n, p: self.each(n, p, self.community))
            if communities == ():
                self.fail(f["communities"][1], _join(path, "communities"), "must not be empty")
                communities = None
            out = {
                "key": get("key", self.text),
                "type": get(
                    "type", lambda n, p: self.choice(n, p, sorted(INCIDENT_TYPES), "incident type")
                ),
                "level": get("level", lambda n, p: self.choice(n, p, LEVELS, "level")),
                "title": get("title", self.text),
                "communities": communities,
            }
        elif action == "request":
            out = {
                "incident": get("incident", self.text),
                "community": get("community", self.community),
                "item": get("item", self.item),
                "quantity": get("quantity", self.integer),
                "priority": get("priority", lambda n, p: self.choice(n, p, PRIORITIES, "priority")),
            }
            if "need_by" in f:
                out["need_by"] = get("need_by", lambda n, p: self.duration(n, p, "offset"))
                if out["need_by"] is None:
                    return None
        elif action == "task":
            out = {
                "incident": get("incident", self.text),
                "community": get("community", self.community),
                "kind": get("kind", lambda n, p: self.choice(n, p, TASK_KINDS, "task kind")),
                "people": get("people", self.integer),
                "minutes": get("minutes", self.integer),
                "skills": self.skills(f, path),
            }
        elif action in ("depot_out", "depot_back"):
            out = {"depot": get("depot", self.depot)}
        elif action == "receive":
            out = {
                "depot": get("depot", self.depot),
                "item": get("item", self.item),
                "quantity": get("quantity", self.integer),
            }
            if "expires" in f:
                out["expires"] = get("expires", self.day)
                if out["expires"] is None:
                    return None
        elif action == "check_in":
            out = {
                "community": get("community", self.community),
                "people": get("people", self.integer),
                "skills": self.skills(f, path),
            }
        elif action == "check_out":
            out = {
                "community": get("community", self.community),
                "people": get("people", self.integer),
            }
        elif action == "approve":
            plan = get("plan", self.raw)
            if plan is not None and plan != "latest":
                self.fail(f["plan"][1], _join(path, "plan"), f"must be 'latest', not {plan!r}")
                plan = None
            out = {"plan": plan}
        else:  # stand_down
            out = {"incident": get("incident", self.text)}
        if any(v is None for v in out.values()):
            return None
        return out

    # -- expect

    def expect(self, node: Node, path: str = "expect") -> list[Bound]:
        fields = self.mapping(node, path)
        bounds: list[Bound] = []
        for key, (key_node, value) in (fields or {}).items():
            name = _join(path, key)
            figure = name.removeprefix("expect.")
            if isinstance(value, MappingNode):
                bounds += self.expect(value, name)
                continue
            if figure not in FIGURES:
                self.fail(key_node, name, f"unknown report figure (known: {_names(FIGURES)})")
                continue
            text = self.raw(value, name)
            if text is None:
                continue
            found = _BOUND.match(text)
            if found is None:
                self.fail(
                    value,
                    name,
                    f'bad bound {text!r}: an operator and a number, quoted, e.g. ">= 0.9", '
                    '"<= 45", "== 9"',
                )
                continue
            bounds.append(Bound(figure, found.group(1), float(found.group(2)), _line(value)))
        return bounds

    # -- the whole file

    def scenario(self, root: Node, source: str) -> Scenario | None:
        top = self.mapping(
            root,
            "",
            required=("format", "name", "start", "duration", "events"),
            allowed=("description", "seed", "policy", "world", "expect"),
        )
        if top is None:
            return None

        def get(key: str, convert: Callable[[Node, str], Any]) -> Any:
            return convert(top[key][1], key) if key in top else None

        tag = get("format", self.raw)
        if tag is not None and tag != FORMAT:
            self.fail(top["format"][1], "format", f"must be {FORMAT!r}, not {tag!r}")
        name = get("name", self.text)
        description = get("description", self.raw) or ""
        seed = get("seed", lambda n, p: self.integer(n, p, minimum=0)) if "seed" in top else 0
        start = get("start", self.moment)
        duration = get("duration", self.duration)
        if duration is not None and duration <= timedelta(0):
            self.fail(top["duration"][1], "duration", "must be more than 0")
            duration = None
        policy = self.policy(top["policy"][1]) if "policy" in top else Policy()
        world = self.world(top["world"][1]) if "world" in top else World()
        events: list[Event] = []
        if "events" in top:
            node = top["events"][1]
            empty = isinstance(node, ScalarNode) and node.tag == "tag:yaml.org,2002:null"
            items = [] if empty else self.sequence(node, "events") or []
            for i, item in enumerate(items):
                event = self.event(item, i)
                if event is not None:
                    events.append(event)
        events.sort(key=lambda e: e.at)  # stable: file order kept at equal offsets
        self.check_timeline(events, duration, policy)
        expect = self.expect(top["expect"][1]) if "expect" in top else []
        if self.problems:
            return None
        return Scenario(
            name=name,
            start=start,
            duration=duration,
            events=tuple(events),
            format=FORMAT,
            description=description,
            seed=seed,
            policy=policy,
            world=world,
            expect=tuple(expect),
            source=source,
        )

    def check_timeline(
        self, events: list[Event], duration: timedelta | None, policy: Policy
    ) -> None:
        """Offsets inside the run; incidents declared before they are used; approvals only
        when plans wait for them."""
        declared: dict[str, Incident] = {}
        for event in events:
            path = f"events[{event.index}]"
            if duration is not None and event.at > duration:
                self.problems.append(
                    Problem(
                        event.line,
                        f"{path}.at",
                        f"offset {format_duration(event.at)} is after the end of the "
                        f"scenario ({format_duration(duration)})",
                    )
                )
            if isinstance(event, Incident):
                if event.key in declared:
                    self.problems.append(
                        Problem(
                            event.line,
                            f"{path}.incident.key",
                            f"incident key {event.key!r} is already used "
                            f"(line {declared[event.key].line})",
                        )
                    )
                declared[event.key] = event
            elif isinstance(event, Request | Task | StandDown):
                if event.incident not in declared and event.incident not in self.broken_incidents:
                    self.problems.append(
                        Problem(
                            event.line,
                            f"{path}.{event.action}.incident",
                            f"no incident {event.incident!r} declared by then",
                        )
                    )
                if (
                    isinstance(event, Request)
                    and event.need_by is not None
                    and event.need_by < event.at
                ):
                    self.problems.append(
                        Problem(
                            event.line,
                            f"{path}.request.need_by",
                            "need_by (an offset from start) comes before the request",
                        )
                    )
            elif isinstance(event, Approve) and policy.auto_approve:
                self.problems.append(
                    Problem(
                        event.line,
                        f"{path}.approve",
                        "approve events need policy.auto_approve: false",
                    )
                )


def _names(values: Iterable[str]) -> str:
    return ", ".join(sorted(values))


_ACTIONS: dict[str, tuple[type[Any], tuple[str, ...], tuple[str, ...]]] = {
    "incident": (Incident, ("key", "type", "level", "title", "communities"), ()),
    "request": (
        Request,
        ("incident", "community", "item", "quantity", "priority"),
        ("need_by",),
    ),
    "task": (Task, ("incident", "community", "kind", "people", "minutes"), ("skills",)),
    "close_road": (CloseRoad, (), ("near", "radius_m", "edge")),
    "open_road": (OpenRoad, (), ("near", "radius_m", "edge")),
    "depot_out": (DepotOut, ("depot",), ()),
    "depot_back": (DepotBack, ("depot",), ()),
    "receive": (Receive, ("depot", "item", "quantity"), ("expires",)),
    "check_in": (CheckIn, ("community", "people"), ("skills",)),
    "check_out": (CheckOut, ("community", "people"), ()),
    "approve": (Approve, ("plan",), ()),
    "stand_down": (StandDown, ("incident",), ()),
}


# ---------------------------------------------------------------- entry points


def parse_scenario(text: str, reference: Reference, source: str = "<scenario>") -> Scenario:
    """The typed scenario in `text`, or `ScenarioError` listing every problem."""
    try:
        root = yaml.compose(text, Loader=yaml.SafeLoader)
    except yaml.MarkedYAMLError as exc:
        mark = exc.problem_mark or exc.context_mark
        line = int(mark.line) + 1 if mark is not None else 1
        raise ScenarioError(
            [Problem(line, "", f"not valid YAML: {exc.problem or exc}")], source
        ) from exc
    except yaml.YAMLError as exc:
        raise ScenarioError([Problem(1, "", f"not valid YAML: {exc}")], source) from exc
    if root is None:
        raise ScenarioError([Problem(1, "", "the file is empty")], source)
    checker = _Checker(reference)
    scenario = checker.scenario(root, source)
    if scenario is None or checker.problems:
        raise ScenarioError(checker.problems, source)
    return scenario


def load_scenario(path: Path, reference: Reference) -> Scenario:
    """Read and validate a scenario file (UTF-8)."""
    data = path.read_bytes()
    try:
        text = data.decode("utf-8")
    except UnicodeDecodeError as exc:
        line = data[: exc.start].count(b"\n") + 1
        raise ScenarioError([Problem(line, "", "the file is not UTF-8")], str(path)) from exc
    return parse_scenario(text, reference, str(path))
