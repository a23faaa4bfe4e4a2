"""The scenario's model: the format's constants and figures, the problems a file can
have, the reference data it is checked against, the typed scenario (policy, world,
events, bounds) and durations. Plain data: no YAML and no database here."""

from __future__ import annotations

import csv
import random
import re
from collections.abc import Iterable
from dataclasses import dataclass, field
from datetime import date, datetime, timedelta
from pathlib import Path
from typing import ClassVar, TypeAlias

from dispatch.hotline.schemas import Category, Urgency
from geo.assignment import BUILTIN_SKILLS as SKILLS_AT_START

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
# a `call`: the hotline's categories and urgencies, and the request priority a call's
# urgency implies when its request names none
CALL_CATEGORIES = tuple(c.value for c in Category)
URGENCIES = tuple(u.value for u in Urgency)
URGENCY_PRIORITY = {"critical": "critical", "urgent": "high", "normal": "normal"}
# a caller's phone in a scenario: the synthetic range (100 + 8 digits: no real mobile
# number starts with 100), as the people demo's and the sandboxes' stand-ins
SYNTHETIC_PHONE = re.compile(r"^100\d{8}$")
BUILTIN_SKILLS = frozenset(SKILLS_AT_START)
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
    "vehicles_used",
    "trips",
    "vehicle_km",
    "utilisation",
    "waiting_minutes",
    "tasks",
    "tasks_staffed",
    "people_hours",
    "plans",
    "hotline.tickets",
    "hotline.response_rate",
    "hotline.resolution_rate",
    "hotline.satisfaction_rate",
    "hotline.overdue_now",
    "wall_seconds",
)
# the figures a report has only when its scenario turns `preparedness` on (absent from
# every other report, so theirs read as before); `expect` may bound them too
PREPAREDNESS_FIGURES: tuple[str, ...] = (
    "plans_activated",
    "callouts.sent",
    "callouts.acknowledged",
    "callouts.declined",
    "callouts.no_answer",
    "callout_ack_minutes.p50",
    "callout_ack_minutes.p90",
    "escalations",
    "households_sheltered",
    "people_sheltered",
    "shelter_peak_occupancy.overall",
)

_DURATION = re.compile(r"^(?:(\d+)d)?(?:(\d+)h)?(?:(\d+)m)?(?:(\d+)s)?$")


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


VEHICLE_KINDS = ("tricycle", "car", "van", "truck")  # the lane classes routing knows


@dataclass(frozen=True)
class FleetLine:
    """`count` vehicles of one kind at one depot (`world.fleet`); capacity and crew left
    out are the kind's illustrative defaults (`fleet.vehicles.DEFAULTS`)."""

    depot: str
    kind: str
    count: int = 1
    payload_kg: float | None = None
    volume_m3: float | None = None
    crew: int | None = None


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
    # the sandbox's vehicles: a depot named here has exactly these (count 0: none), every
    # other depot the demo's default fleet; None (no `fleet` key) is the default everywhere
    fleet: tuple[FleetLine, ...] | None = None


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


@dataclass(frozen=True, kw_only=True)
class RaiseLevel(_Event):
    """The incident's response level is raised (IV the lowest, I the gravest): the plans
    that answer only the graver level start."""

    action: ClassVar[str] = "raise_level"
    incident: str
    level: str


@dataclass(frozen=True)
class ImpliedRequest:
    """The supply request a call asks for, made from its ticket (the hotline's
    ticket→request path)."""

    item: str
    quantity: int
    priority: str


@dataclass(frozen=True, kw_only=True)
class Call(_Event):
    """A 12345 call: a ticket received at `at`. `community` is the one given, or the one the
    address names (matched as the hotline matches); `street` is its street, or the street
    an address names alone."""

    action: ClassVar[str] = "call"
    caller: str
    category: str
    urgency: str
    content: str
    phone: str | None = None
    community: str | None = None
    street: str | None = None
    address: str | None = None
    incident: str | None = None
    request: ImpliedRequest | None = None
    matched: bool = False  # the place is the address's (the hotline matches it again)


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
    | RaiseLevel
    | Call
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


DISTRIBUTIONS = ("uniform", "normal", "triangular")  # of a variation's spread


@dataclass(frozen=True)
class Spread:
    """How far a value moves: a duration in seconds, or a share of the value."""

    distribution: str
    spread: float

    def draw(self, rng: random.Random) -> float:
        """One draw, centred on 0."""
        if self.spread == 0:
            return 0.0
        if self.distribution == "uniform":
            return rng.uniform(-self.spread, self.spread)
        if self.distribution == "triangular":
            return rng.triangular(-self.spread, self.spread, 0.0)
        return max(-3 * self.spread, min(3 * self.spread, rng.gauss(0.0, self.spread)))


@dataclass(frozen=True)
class Variation:
    event_times: Spread | None = None  # seconds
    quantities: Spread | None = None  # share
    closure_start: Spread | None = None  # seconds
    closure_length: Spread | None = None  # share
    no_show: float = 0.0


@dataclass(frozen=True)
class Around:
    """A drawn value: `around` plus one draw of `spread` (centred on 0, the variation's
    distributions): seconds for a delay, people for a household."""

    around: float
    spread: Spread

    def draw(self, rng: random.Random) -> float:
        return self.around + self.spread.draw(rng)


@dataclass(frozen=True)
class Preparedness:
    """How community plans run in a replay (`preparedness`): whether declaring an incident
    starts them, and the rule the simulated recipients of call-outs and evacuation tasks
    follow. Shares are of all call-outs; the rest acknowledge."""

    activate: bool = False
    no_answer_share: float = 0.0
    decline_share: float = 0.0
    answer_delay: Around = field(default_factory=lambda: Around(360.0, Spread("normal", 180.0)))
    eta: Around = field(default_factory=lambda: Around(1200.0, Spread("uniform", 600.0)))
    households: int = 6  # households an evacuation task of a plan brings to its shelter
    household_size: Around = field(default_factory=lambda: Around(3.0, Spread("uniform", 2.0)))


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
    variation: Variation | None = None  # how runs vary (scenario.variation); None: they don't
    # how community plans run (scenario.preparedness); None: they are not started
    preparedness: Preparedness | None = None

    @property
    def plans_run(self) -> bool:
        """Whether declaring an incident in this scenario's sandbox starts plans."""
        return self.preparedness is not None and self.preparedness.activate

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
