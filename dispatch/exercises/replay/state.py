"""What one replay run knows as it goes: the scenario's keys for what it made, the
deliveries and people's tasks in flight, the agenda, and the history it hashes.

Every other module of the replay reads and changes a `ReplayState`; only this one says
what it holds and how the history and the agenda are written.
"""

from __future__ import annotations

import heapq
from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import datetime, timedelta
from typing import Any

from dispatch.accounts.policy import Actor, Role
from dispatch.clock import FixedClock
from dispatch.db import Context
from dispatch.errors import DomainError
from dispatch.exercises import scenario as sc
from dispatch.exercises.schemas import ExerciseKind

# who issues a replay's commands: a commander, named so its audit rows say so
CREW_OVERRIDE = "replay: the depot's crew stands for its vehicles"
REPLAY_ACTOR = Actor(user_id=None, username="replay", role=Role.COMMANDER)
# agenda classes: at one moment, vehicles arrive first, then tasks end, then the
# scenario's events in file order, then the planner runs on the result; 12345 tickets
# move on last (a reply sees what arrived at its moment), and the hotline's sweep after
ARRIVAL, TASK_END, EVENT, REPLAN, STAFF, TICKET, SWEEP = 0, 1, 2, 3, 4, 5, 6
# call-outs of community plans are answered last (only with `preparedness` on)
CALLOUT = 7
CREW_PER_DEPOT = 2

Progress = Callable[[float, int], None]  # (fraction of the scenario's time, agenda steps)


@dataclass
class Delivery:
    number: int
    task: int
    version: int
    request: int
    depot: str
    community: str
    item: str
    quantity: int
    departed: datetime
    arrives: datetime
    route: dict[str, Any]
    rerouted: int = 0
    # Nodes of the route the vehicle had reached by the last closure: a road closed
    # behind it does not stop it.
    passed: int = 0
    delivered: int | None = None
    arrived: datetime | None = None
    failed: str | None = None
    stop: int | None = None  # the run stop that unloads it (None: a single-line delivery)
    # minutes its load waited at the depot for a vehicle: held back while the depot's
    # vehicles were out, then until its own trip left (a vehicle's later trips)
    waited_minutes: float = 0.0


@dataclass(frozen=True)
class SandboxVehicle:
    """A vehicle of the scenario's fleet, made in the sandbox before the clock starts."""

    id: int
    code: str
    depot: str
    kind: str
    payload_kg: float
    volume_m3: float
    crew: list[int]


@dataclass
class Trip:
    """One trip a run drove (or is driving): what it carried and how far."""

    vehicle: int
    km: float
    kg: float
    m3: float


@dataclass
class RunTrack:
    """A vehicle's run task as the replay plays it: its stops' deliveries by stop id, and
    how long after its last stop the vehicle is back at its depot."""

    task: int
    version: int
    vehicle: int
    stops: dict[int, list[int]]  # stop id -> keys of its deliveries in `deliveries`
    back_after: timedelta
    generation: int = 0
    handled: set[int] = field(default_factory=set)  # stops done or found cut off
    cut_off: set[int] = field(default_factory=set)


@dataclass
class PeopleTask:
    key: str
    task: int
    version: int
    community: str
    kind: str
    people: int
    minutes: int
    assigned: list[int] = field(default_factory=list)
    done: bool = False
    # a community plan's evacuation task: the shelter (id) its households go to when done
    shelter: int | None = None


@dataclass
class TicketRun:
    """A call's ticket as the replay plays it on: its key in the history (`C1`, ...), the
    moments of its steps and the draws that decide them (`calls.plan_ticket`)."""

    key: str
    ticket: int
    event: sc.Call
    respond_at: datetime
    reply_at: datetime
    solved_draw: float
    rating_draw: float
    request: int | None = None  # the request made from it
    replied_in_time: bool = False
    solved: bool = False


@dataclass
class CalloutRun:
    """A plan's call-out as the replay plays it: its key in the history (`K1`, ...), what
    the recipient will do (`acknowledged`, `declined`, or `None`: never answers), when,
    and the ETA or reason it gives (`preparedness.plan_answer`)."""

    key: str
    callout: int
    answer: str | None
    answer_at: datetime | None
    eta_minutes: int | None = None
    reason: str | None = None


@dataclass
class Options:
    policy: str | None = None  # overrides the file's planner
    speed: float | None = None  # live: simulated seconds per wall second; None: no waiting
    keep: bool = False  # keep the sandbox afterwards
    kind: ExerciseKind = ExerciseKind.REPLAY
    exercise_id: int | None = None  # play into this existing exercise instead of a new one
    name: str | None = None


def as_minutes(delta: timedelta) -> float:
    """Minutes as the history writes them (two decimals)."""
    return round(delta.total_seconds() / 60, 2)


def closure_key(closure: sc.Closure) -> list[Any]:
    """A closure as the history names it: its shape, never its database id."""
    if closure.near is not None:
        return ["near", round(closure.near[0], 6), round(closure.near[1], 6), closure.radius_m]
    return ["edge", *(closure.edge or ())]


class ReplayState:
    """One run of one scenario: what it made, what is in flight, and its history."""

    def __init__(
        self,
        scenario: sc.Scenario,
        options: Options | None = None,
        on_progress: Progress | None = None,
    ) -> None:
        self.scenario = sc.drawn(scenario)  # the run its seed draws, if the file varies
        self.options = options or Options()
        self.planner = self.options.policy or scenario.policy.planner
        self.on_progress = on_progress
        self.clock = FixedClock(scenario.start)
        self.exercise_id: int | None = None
        self.schema: str | None = None
        self.ctx: Context | None = None
        self.history: list[list[Any]] = []
        self.agenda: list[tuple[datetime, int, int, str, Any]] = []
        self.seq = 0
        self.incidents: dict[str, int] = {}  # key -> id
        self.incident_order: list[str] = []
        self.world_incident: int | None = None
        self.requests: dict[int, int] = {}  # request id -> number in order of arrival
        self.request_incident: dict[int, str] = {}
        # single-line deliveries by task id, a run's by -(transfer id)
        self.deliveries: dict[int, Delivery] = {}
        self.vehicles: dict[int, SandboxVehicle] = {}  # vehicle id -> the scenario's vehicle
        self.busy: set[int] = set()  # vehicles on a run or driving back to their depot
        self.runs: dict[int, RunTrack] = {}  # run task id -> its run
        self.trips: list[Trip] = []
        self.held_since: dict[int, datetime] = {}  # request id -> first held for a vehicle
        self.tasks: dict[int, PeopleTask] = {}
        self.unstaffed: list[int] = []  # people tasks waiting for people
        self.closures: list[tuple[sc.Closure, int]] = []  # open closures made by the replay
        self.outages: dict[str, int] = {}  # depot -> outage id
        self.crews: dict[str, list[int]] = {}  # depot -> crew person ids
        self.on_duty: dict[str, list[tuple[str, int]]] = {}  # community -> [(code, id)]
        self.codes: dict[int, str] = {}  # person id -> replay code
        self.people_made = 0
        self.plans = 0
        self.last_unmet: dict[int, str] = {}  # request id -> the planner's latest reason
        self.latest_proposed: dict[str, int] = {}  # incident key -> plan id
        self.responding: set[str] = set()
        self.replan_due = False
        self.steps = 0
        self.events_done = 0
        self.refused: list[dict[str, Any]] = []
        self.plan_seconds = 0.0
        self.wall_seconds = 0.0
        self.stood_down: set[str] = set()
        # what plans read (requests, stock, roads, depots) changes only with these commands;
        # a periodic re-plan of an incident whose inputs did not change would repeat itself
        self.version = 0
        self.planned_version: dict[str, int] = {}
        self.staffing_day: Any = None
        self.tickets: dict[str, TicketRun] = {}  # call key -> its ticket
        # community plans (only with `preparedness` on): activations and their call-outs,
        # communities whose plan did not answer, shelters' occupancy after each change
        self.activations: list[int] = []
        self.callouts: dict[str, CalloutRun] = {}  # call-out key -> its run
        self.without_plan: list[str] = []
        self.shelter_names: dict[int, str] = {}  # shelter id -> name
        self.shelter_codes: dict[int, str] = {}  # shelter id -> code
        self.occupancy: dict[int, int] = {}  # shelter id -> people in it now
        self.peak: dict[int, int] = {}  # shelter id -> the most people in it at once
        self.peak_overall = 0  # the most people in the run's shelters at once
        self.sheltered: list[int] = []  # people of each household registered

    # --- bookkeeping ----------------------------------------------------------------------

    @property
    def now(self) -> datetime:
        return self.clock.now()

    def offset(self, moment: datetime | None = None) -> float:
        return as_minutes((moment or self.now) - self.scenario.start)

    def record(self, kind: str, *data: Any) -> None:
        self.history.append([self.offset(), kind, *data])

    def push(self, at: datetime, order: int, kind: str, payload: Any = None) -> None:
        self.seq += 1
        heapq.heappush(self.agenda, (at, order, self.seq, kind, payload))

    def context(self) -> Context:
        assert self.ctx is not None
        return self.ctx

    def changed(self) -> None:
        self.version += 1

    def replan_soon(self) -> None:
        self.changed()
        if not self.replan_due:
            self.replan_due = True
            self.push(self.now, REPLAN, "replan_now")

    def refuse(self, what: str, exc: DomainError, index: int | None = None) -> None:
        self.refused.append({"at": self.offset(), "what": what, "detail": exc.detail})
        # the detail may name database ids; the history keeps what and why in kind only
        self.record("refused", what, index, type(exc).__name__, getattr(exc, "field", None))
