"""Scenario replay: a `Scenario` played on a simulated clock in an exercise sandbox.

Every change goes through the services the API uses (incidents, planning, stock, people),
as a commander-like actor, in a `Context` whose clock is a `FixedClock` and whose world is
the sandbox schema; the engine only decides *when* each command is issued:

- an agenda ordered by (time, class, sequence): vehicles arriving, people's tasks ending,
  the scenario's events (file order at the same offset), then re-planning. Nothing else
  orders it, so two runs issue the same commands in the same order;
- deliveries leave when their plan is approved (assigned to the depot's vehicle crew, picked
  up), and arrive after the plan line's ETA (route time at the policy's speed plus handling);
  a road closing on the route while in transit reroutes it (the incidents service does) and
  the new route's time sets the new ETA; a delivery still cut off when it should arrive
  fails, its stock returns and its request is planned again;
- open requests are planned every `replan_every`, and at once after a road or depot change.

Before the clock starts the sandbox is brought to the scenario's world, so figures do not
depend on what the real world held when it was copied: stock is the reference stock (each
depot holds its reserve standard, in one lot per item) with `world.stock` lines set, the
copied duty roster is stood down (only the scenario's people are on duty), closures and
depot outages copied from the real world are lifted, and then `world` applies.

The history hashed into `history_sha256` names things by domain keys (incident keys,
request and delivery numbers in order of appearance, depot, community and item codes,
minutes from start), never by database ids or wall time.
"""

from __future__ import annotations

import asyncio
import contextlib
import hashlib
import heapq
import json
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import datetime, timedelta
from pathlib import Path
from typing import Any

from dispatch.accounts.policy import Actor, Role
from dispatch.clock import SHANGHAI, FixedClock, WallClock
from dispatch.db import Context, command, query
from dispatch.errors import Conflict, DomainError
from dispatch.exercises import scenario as sc
from dispatch.exercises.schemas import ExerciseCreate, ExerciseKind
from geo.network import RoadNetwork

# who issues a replay's commands: a commander, named so its audit rows say so
CREW_OVERRIDE = "replay: the depot's crew stands for its vehicles"
REPLAY_ACTOR = Actor(user_id=None, username="replay", role=Role.COMMANDER)
# agenda classes: at one moment, vehicles arrive first, then tasks end, then the
# scenario's events in file order, then the planner runs on the result
ARRIVAL, TASK_END, EVENT, REPLAN, STAFF = 0, 1, 2, 3, 4
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


@dataclass
class Options:
    policy: str | None = None  # overrides the file's planner
    speed: float | None = None  # live: simulated seconds per wall second; None: no waiting
    keep: bool = False  # keep the sandbox afterwards
    kind: ExerciseKind = ExerciseKind.REPLAY
    exercise_id: int | None = None  # play into this existing exercise instead of a new one
    name: str | None = None


def _minutes(delta: timedelta) -> float:
    return round(delta.total_seconds() / 60, 2)


class Replay:
    """One run of one scenario."""

    def __init__(
        self,
        scenario: sc.Scenario,
        options: Options | None = None,
        on_progress: Progress | None = None,
    ) -> None:
        self.scenario = scenario
        self.options = options or Options()
        self.planner = self.options.policy or scenario.policy.planner
        self.on_progress = on_progress
        self.clock = FixedClock(scenario.start)
        self.exercise_id: int | None = None
        self.schema: str | None = None
        self.ctx: Context | None = None
        self.history: list[list[Any]] = []
        self.agenda: list[tuple[datetime, int, int, str, Any]] = []
        self._seq = 0
        self.incidents: dict[str, int] = {}  # key -> id
        self.incident_order: list[str] = []
        self.world_incident: int | None = None
        self.requests: dict[int, int] = {}  # request id -> number in order of arrival
        self.request_incident: dict[int, str] = {}
        self.deliveries: dict[int, Delivery] = {}  # task id -> delivery
        self.tasks: dict[int, PeopleTask] = {}
        self.unstaffed: list[int] = []  # people tasks waiting for people
        self.closures: list[tuple[sc.Closure, int]] = []  # open closures made by the replay
        self.outages: dict[str, int] = {}  # depot -> outage id
        self.crews: dict[str, list[int]] = {}  # depot -> crew person ids
        self.on_duty: dict[str, list[tuple[str, int]]] = {}  # community -> [(code, id)]
        self.codes: dict[int, str] = {}  # person id -> replay code
        self._people = 0
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
        self._stood_down: set[str] = set()
        # what plans read (requests, stock, roads, depots) changes only with these commands;
        # a periodic re-plan of an incident whose inputs did not change would repeat itself
        self.version = 0
        self.planned_version: dict[str, int] = {}
        self._staffing_day: Any = None

    # --- bookkeeping ----------------------------------------------------------------------

    @property
    def now(self) -> datetime:
        return self.clock.now()

    def offset(self, moment: datetime | None = None) -> float:
        return _minutes((moment or self.now) - self.scenario.start)

    def record(self, kind: str, *data: Any) -> None:
        self.history.append([self.offset(), kind, *data])

    def push(self, at: datetime, order: int, kind: str, payload: Any = None) -> None:
        self._seq += 1
        heapq.heappush(self.agenda, (at, order, self._seq, kind, payload))

    def _context(self) -> Context:
        assert self.ctx is not None
        return self.ctx

    # --- the run ----------------------------------------------------------------------------

    async def run(self) -> dict[str, Any]:
        started = time.perf_counter()
        await self._open_sandbox()
        try:
            await self._prepare_world()
            await self._loop()
            report = await self._report()
        except BaseException:
            if not self.options.keep and self.options.exercise_id is None:
                await self._close_sandbox()
            raise
        self.wall_seconds = round(time.perf_counter() - started, 2)
        report["wall_seconds"] = self.wall_seconds
        report["plan_seconds"] = round(self.plan_seconds, 2)
        report["expect"] = check_expect(self.scenario, report)
        if not self.options.keep and self.options.exercise_id is None:
            await self._close_sandbox()
        return report

    async def _open_sandbox(self) -> None:
        from dispatch.exercises.service import create_exercise, get_exercise

        manager = Context(REPLAY_ACTOR, WallClock())
        if self.options.exercise_id is not None:
            view = await get_exercise(manager, self.options.exercise_id)
            if view.status != "active":
                raise Conflict(f"exercise {view.id} is {view.status}", field="id")
        else:
            name = self.options.name or f"回放 {self.scenario.name}"[:100]
            view = await create_exercise(
                manager,
                ExerciseCreate(
                    name=name,
                    kind=self.options.kind,
                    scenario=Path(self.scenario.source).name[:200],
                    seed=self.scenario.seed,
                ),
            )
        self.exercise_id = view.id
        self.schema = view.schema_name
        self.ctx = Context(REPLAY_ACTOR, self.clock, view.schema_name)

    async def _close_sandbox(self) -> None:
        from dispatch.exercises.service import delete_exercise

        if self.exercise_id is None:
            return
        with contextlib.suppress(DomainError):  # already deleted (by a trainer, while it ran)
            await delete_exercise(Context(REPLAY_ACTOR, WallClock()), self.exercise_id)

    async def _loop(self) -> None:
        scenario = self.scenario
        for event in sorted(scenario.events, key=lambda e: (e.at, e.index)):
            self.push(scenario.start + event.at, EVENT, "event", event)
        every = scenario.policy.replan_every
        tick = scenario.start
        while tick <= scenario.end:
            self.push(tick, REPLAN, "tick")
            tick += every
        total = scenario.duration.total_seconds() or 1.0
        while self.agenda:
            at, _, _, kind, payload = heapq.heappop(self.agenda)
            if at > scenario.end:
                break
            await self._wait_until(at)
            self.clock.set(at)
            self.steps += 1
            await self._step(kind, payload)
            if self.on_progress is not None:
                self.on_progress((at - scenario.start).total_seconds() / total, self.steps)
        if self.clock.now() < scenario.end:
            await self._wait_until(scenario.end)
            self.clock.set(scenario.end)

    async def _wait_until(self, at: datetime) -> None:
        speed = self.options.speed
        if speed is None or at <= self.now:
            return
        await asyncio.sleep((at - self.now).total_seconds() / speed)

    async def _step(self, kind: str, payload: Any) -> None:
        if kind == "event":
            await self._event(payload)
            self.events_done += 1
        elif kind == "arrival":
            await self._arrive(payload)
        elif kind == "task_end":
            await self._task_end(payload)
        elif kind == "tick":
            self.replan_due = False
            await self._replan()
            await self._staff_waiting(new_day_only=True)
        elif kind == "replan_now":
            if self.replan_due:
                self.replan_due = False
                await self._replan()
        elif kind == "staff":
            await self._staff_waiting()

    def _changed(self) -> None:
        self.version += 1

    def _replan_soon(self) -> None:
        self._changed()
        if not self.replan_due:
            self.replan_due = True
            self.push(self.now, REPLAN, "replan_now")

    def _refused(self, what: str, exc: DomainError, index: int | None = None) -> None:
        self.refused.append({"at": self.offset(), "what": what, "detail": exc.detail})
        # the detail may name database ids; the history keeps what and why in kind only
        self.record("refused", what, index, type(exc).__name__, getattr(exc, "field", None))

    # --- the world before the clock starts ----------------------------------------------------

    async def _prepare_world(self) -> None:
        policy = self.scenario.policy
        self.record(
            "scenario",
            self.scenario.name,
            self.scenario.seed,
            self.planner,
            _minutes(policy.replan_every),
            policy.auto_approve,
            policy.assign_people,
            policy.vehicle_speed_kmh,
            policy.handling_minutes,
        )
        await self._lift_copied_state()
        await self._reference_stock()
        await self._crews()
        world = self.scenario.world
        for k, duty in enumerate(world.on_duty):
            await self._arrive_on_duty(duty.community, duty.people, duty.skills, f"W{k}")
        for team in world.teams:
            await self._team(team)
        for depot in world.depots_out:
            await self._depot_out(depot)
        for closure in world.closed_roads:
            try:
                await self._close(closure, None)
            except DomainError as exc:  # e.g. an edge that is no road of this network
                self._refused("close_road", exc)
        self.record("world", len(world.stock), list(world.depots_out), len(world.closed_roads))

    async def _lift_copied_state(self) -> None:
        """The copy's duty roster stands down (setup, in the sandbox only: the scenario says
        who is on duty); closures and outages copied from the real world are lifted."""
        from dispatch.incidents.service import depot_back, reopen_road

        ctx = self._context()
        async with command(ctx) as cmd:
            stood_down = await cmd.connection.execute(
                "UPDATE check_in SET checked_out_at = greatest(checked_in_at, $1) "
                "WHERE checked_out_at IS NULL",
                self.now,
            )
            await cmd.audit(
                "replay.roster_stood_down", "check_in", None, None, {"rows": stood_down}
            )
            closures = await cmd.connection.fetch(
                "SELECT id FROM road_closure WHERE opened_at IS NULL ORDER BY id"
            )
            outages = await cmd.connection.fetch(
                "SELECT id FROM depot_outage WHERE back_at IS NULL ORDER BY id"
            )
        for row in closures:
            await reopen_road(ctx, row["id"])
        for row in outages:
            await depot_back(ctx, row["id"])

    async def _reference_stock(self) -> None:
        """Every depot holds its reserve standard, in one lot per item, except the lines
        `world.stock` sets: counted through a stocktake, filled through a receipt."""
        from dispatch.stock.schemas import ReceiptCreate, ReceiptLine, StocktakeCreate
        from dispatch.stock.schemas import StocktakeLine as CountLine
        from dispatch.stock.service import receive, stocktake

        ctx = self._context()
        async with query(ctx) as conn:
            standards = await conn.fetch(
                "SELECT depot, item, minimum FROM reserve_standard ORDER BY depot, item"
            )
            lots = await conn.fetch(
                "SELECT b.depot, b.item, l.lot_number FROM stock_balance b "
                "JOIN lot l ON l.id = b.lot WHERE b.qty > 0 ORDER BY b.depot, b.item, l.lot_number"
            )
            shelf = {
                r["code"]: r["shelf_life_days"]
                for r in await conn.fetch("SELECT code, shelf_life_days FROM item")
            }
            depots = [r["code"] for r in await conn.fetch("SELECT code FROM depot ORDER BY code")]
        start_day = self.scenario.start.date()

        def expiry(item: str) -> Any:
            days = shelf.get(item)
            return None if not days else start_day + timedelta(days=int(days))

        target: dict[tuple[str, str], tuple[int, Any, str]] = {
            (r["depot"], r["item"]): (int(r["minimum"]), expiry(r["item"]), "REF")
            for r in standards
        }
        for line in self.scenario.world.stock:
            expires = line.expires or expiry(line.item)
            tag = "REF" if line.expires is None else f"S{line.expires:%Y%m%d}"
            target[(line.depot, line.item)] = (line.quantity, expires, tag)
        for depot in depots:
            counted = [CountLine(item=r["item"], lot=r["lot_number"], counted=0) for r in lots]
            counted = [c for c, r in zip(counted, lots, strict=True) if r["depot"] == depot]
            if counted:
                await stocktake(ctx, StocktakeCreate(depot=depot, lines=counted))
            lines = [
                ReceiptLine(
                    item=item,
                    lot=f"REPLAY-{tag}-{item}",
                    qty=qty,
                    expires_on=expires,
                )
                for (d, item), (qty, expires, tag) in sorted(target.items())
                if d == depot and qty > 0
            ]
            if lines:
                await receive(ctx, ReceiptCreate(depot=depot, lines=lines, note="replay world"))
        self.record("stock", sum(q for q, _, _ in target.values()), len([t for t in target if t]))

    async def _new_people(
        self,
        community: str | None,
        street: str | None,
        count: int,
        skills: tuple[str, ...],
        kind: str,
        unit_code: str = "",
    ) -> list[tuple[str, int]]:
        """People made for the scenario (one import, one command), with replay codes."""
        from dispatch.people.schemas import ImportKind
        from dispatch.people.service import import_table

        rows = ["code,name,kind,community,street,unit_code,skills,party_branch"]
        branch = "演练党支部" if kind == "party_member" else ""
        codes = []
        for _ in range(count):
            self._people += 1
            code = f"RP{self._people:06d}"
            codes.append(code)
            rows.append(
                f"{code},演练人员R{self._people:04d},{kind},{community or ''},{street or ''},"
                f"{unit_code},{';'.join(skills)},{branch}"
            )
        await import_table(
            self._context(), ImportKind.PEOPLE, ("\n".join(rows) + "\n").encode(), "people.csv"
        )
        async with query(self._context()) as conn:
            found = await conn.fetch(
                "SELECT code, id FROM person WHERE code = ANY($1::varchar[])", codes
            )
        ids = {r["code"]: r["id"] for r in found}
        made = [(code, ids[code]) for code in codes]
        for code, person in made:
            self.codes[person] = code
        return made

    async def _crews(self) -> None:
        """Two vehicle crew per depot (street squad members, not on duty for other tasks):
        deliveries are staffed by the depot that sends them."""
        async with query(self._context()) as conn:
            depots = await conn.fetch(
                "SELECT d.code, coalesce(d.street, (SELECT min(code) FROM street)) AS street "
                "FROM depot d ORDER BY d.code"
            )
        for row in depots:
            made = await self._new_people(
                None, row["street"], CREW_PER_DEPOT, ("driving",), "squad_member"
            )
            self.crews[row["code"]] = [person for _, person in made]

    async def _arrive_on_duty(
        self, community: str, people: int, skills: tuple[str, ...], key: str
    ) -> None:
        from dispatch.people.schemas import CheckInRequest
        from dispatch.people.service import check_in

        made = await self._new_people(community, None, people, skills, "party_member")
        for code, person in made:
            await check_in(self._context(), CheckInRequest(person_id=person, community=community))
            self.on_duty.setdefault(community, []).append((code, person))
        self.record("check_in", key, community, people, sorted(skills))

    async def _team(self, team: sc.TeamOnCall) -> None:
        from dispatch.people.schemas import (
            CheckInRequest,
            TeamCreate,
            TeamKind,
            UnitCreate,
            UnitKind,
        )
        from dispatch.people.service import check_in, create_team, create_unit

        ctx = self._context()
        code = f"RT{team.id}"[:20]
        unit = await create_unit(
            ctx, UnitCreate(code=code, name=team.unit[:120], kind=UnitKind.MUNICIPAL)
        )
        made = await self._new_people(
            team.community, None, team.size, team.skills, "unit_member", code
        )
        ids = [person for _, person in made]
        await create_team(
            ctx,
            TeamCreate(
                name=f"{team.unit}·{team.id}"[:80],
                kind=TeamKind.UNIT_TEAM,
                community=team.community,
                unit_id=unit.id,
                leader_id=ids[0],
                member_ids=ids,
            ),
        )
        for code_, person in made:
            await check_in(ctx, CheckInRequest(person_id=person, community=team.community))
            self.on_duty.setdefault(team.community, []).append((code_, person))
        self.record("team", team.id, team.community, team.size, sorted(team.skills))

    # --- scenario events ---------------------------------------------------------------------

    async def _event(self, event: sc.Event) -> None:
        try:
            await self._apply(event)
        except DomainError as exc:
            self._refused(event.action, exc, event.index)

    async def _apply(self, event: sc.Event) -> None:
        if isinstance(event, sc.Incident):
            await self._incident(event)
        elif isinstance(event, sc.Request):
            await self._request(event)
        elif isinstance(event, sc.Task):
            await self._task(event)
        elif isinstance(event, sc.CloseRoad):
            await self._close(event.closure, event.index)
        elif isinstance(event, sc.OpenRoad):
            await self._open(event.closure, event.index)
        elif isinstance(event, sc.DepotOut):
            await self._depot_out(event.depot)
        elif isinstance(event, sc.DepotBack):
            await self._depot_back(event.depot)
        elif isinstance(event, sc.Receive):
            await self._receive(event)
        elif isinstance(event, sc.CheckIn):
            await self._arrive_on_duty(
                event.community, event.people, event.skills, f"E{event.index}"
            )
            self.push(self.now, STAFF, "staff")
        elif isinstance(event, sc.CheckOut):
            await self._check_out(event)
        elif isinstance(event, sc.Approve):
            await self._approve_latest()
        elif isinstance(event, sc.StandDown):
            await self._stand_down(event)

    async def _incident(self, event: sc.Incident) -> None:
        from dispatch.incidents.schemas import IncidentCreate, IncidentType, Level
        from dispatch.incidents.service import declare_incident

        view = await declare_incident(
            self._context(),
            IncidentCreate(
                type=IncidentType(event.type),
                level=Level(event.level),
                title=event.title[:200],
                communities=list(event.communities),
            ),
        )
        self.incidents[event.key] = view.id
        self.incident_order.append(event.key)
        self.record("incident", event.key, event.type, event.level, sorted(event.communities))

    async def _request(self, event: sc.Request) -> None:
        from dispatch.incidents.schemas import Priority, RequestCreate
        from dispatch.incidents.service import create_request

        need_by = None if event.need_by is None else self.scenario.start + event.need_by
        view = await create_request(
            self._context(),
            self.incidents[event.incident],
            RequestCreate(
                community=event.community,
                item=event.item,
                quantity=event.quantity,
                priority=Priority(event.priority),
                need_by=need_by,
            ),
        )
        self._changed()
        number = len(self.requests) + 1
        self.requests[view.id] = number
        self.request_incident[view.id] = event.incident
        self.record(
            "request",
            number,
            event.incident,
            event.community,
            event.item,
            event.quantity,
            event.priority,
        )

    async def _task(self, event: sc.Task) -> None:
        from dispatch.incidents.schemas import TaskCreate, TaskKind
        from dispatch.incidents.service import create_task

        view = await create_task(
            self._context(),
            self.incidents[event.incident],
            TaskCreate(
                kind=TaskKind(event.kind),
                community=event.community,
                people=event.people,
                minutes=event.minutes,
                skills=list(event.skills),
                note=f"scenario event {event.index}",
            ),
        )
        key = f"T{len(self.tasks) + 1}"
        self.tasks[view.id] = PeopleTask(
            key, view.id, view.version, event.community, event.kind, event.people, event.minutes
        )
        self.record("task", key, event.incident, event.community, event.kind, event.people)
        if self.scenario.policy.assign_people:
            await self._staff(view.id)

    def _active_incident(self) -> int:
        """Closures and outages belong to an incident: the latest one declared, else one
        standing for the scenario's world (declared when first needed)."""
        for key in reversed(self.incident_order):
            if key not in self._stood_down:
                return self.incidents[key]
        if self.world_incident is None:
            raise RuntimeError("no incident")
        return self.world_incident

    async def _incident_for_roads(self) -> int:
        if any(k not in self._stood_down for k in self.incident_order):
            return self._active_incident()
        if self.world_incident is None:
            from dispatch.incidents.schemas import IncidentCreate, IncidentType, Level
            from dispatch.incidents.service import declare_incident

            first = next((e for e in self.scenario.events if isinstance(e, sc.Incident)), None)
            communities = list(first.communities) if first else []
            if not communities:
                async with query(self._context()) as conn:
                    communities = [await conn.fetchval("SELECT min(code) FROM community")]
            view = await declare_incident(
                self._context(),
                IncidentCreate(
                    type=IncidentType(first.type if first else "rainstorm"),
                    level=Level.IV,
                    title="情景背景：道路与储备点 · scenario world",
                    communities=communities,
                ),
            )
            self.world_incident = view.id
        return self.world_incident

    async def _close(self, closure: sc.Closure, index: int | None) -> None:
        from dispatch.incidents.schemas import ClosureCreate
        from dispatch.incidents.service import close_road

        incident = await self._incident_for_roads()
        body = (
            ClosureCreate(near=list(closure.near), radius_m=closure.radius_m)
            if closure.near is not None
            else ClosureCreate(edge=list(closure.edge or ()))
        )
        from dispatch.places.service import active_road_network

        view = await close_road(self._context(), incident, body)
        self.closures.append((closure, view.id))
        network = await active_road_network(self._context())
        self._mark_passed(network)
        rerouted = [t for t in view.rerouted_tasks if t in self.deliveries]
        await self._rerouted(rerouted, network)
        self.record(
            "close_road",
            index,
            _closure_key(closure),
            sorted(self.deliveries[t].number for t in rerouted),
        )
        self._replan_soon()

    def _mark_passed(self, network: RoadNetwork) -> None:
        """Where each vehicle on its way is as a road closes, reckoned as the service
        reckons it when it reroutes."""
        from dispatch.planning.service import position_of

        for delivery in self.deliveries.values():
            if delivery.arrived is not None or delivery.failed is not None:
                continue
            travelled = (self.now - delivery.departed).total_seconds()
            at, _ = position_of(network, delivery.route, travelled)
            delivery.passed = max(delivery.passed, at)

    async def _rerouted(self, task_ids: list[int], network: RoadNetwork) -> None:
        """New route, new ETA: the rest of the trip at the new route's time."""
        from dispatch.incidents.service import get_task

        for task_id in task_ids:
            delivery = self.deliveries[task_id]
            view = await get_task(self._context(), task_id)
            route = view.route or delivery.route
            old = self._route_time(delivery.route, network)
            new = self._route_time(route, network)
            delivery.route = route
            delivery.version = view.version
            delivery.rerouted += 1
            delivery.arrives = max(self.now, delivery.arrives + timedelta(seconds=new - old))
            self.push(delivery.arrives, ARRIVAL, "arrival", (task_id, delivery.rerouted))
            self.record(
                "reroute", delivery.number, round(new - old, 1), self.offset(delivery.arrives)
            )

    def _route_time(self, route: dict[str, Any], network: RoadNetwork) -> float:
        """A route's time at the scenario's vehicle speed (the service stores a rerouted
        one at the default speed), along its nodes as they are driven: the stretch
        already behind the vehicle counts the same in the old route and the new."""
        from geo.network import Vehicle
        from geo.routing import path_seconds

        nodes = [int(n) for n in route.get("nodes", [])]
        if len(nodes) < 2:
            return float(route.get("time_s", 0.0))
        vehicle = Vehicle(speed_kmh=self.scenario.policy.vehicle_speed_kmh)
        return path_seconds(network, nodes, vehicle=vehicle)

    async def _open(self, closure: sc.Closure, index: int | None) -> None:
        from dispatch.incidents.service import reopen_road

        for k, (shape, closure_id) in enumerate(self.closures):
            if shape == closure:
                await reopen_road(self._context(), closure_id)
                del self.closures[k]
                self.record("open_road", index, _closure_key(closure))
                self._replan_soon()
                return
        self.record("open_road", index, _closure_key(closure), "not closed")

    async def _depot_out(self, depot: str) -> None:
        from dispatch.incidents.schemas import DepotOutageCreate
        from dispatch.incidents.service import depot_out

        incident = await self._incident_for_roads()
        view = await depot_out(
            self._context(), incident, DepotOutageCreate(depot=depot, reason="scenario")
        )
        self.outages[depot] = view.id
        self.record("depot_out", depot)
        self._replan_soon()

    async def _depot_back(self, depot: str) -> None:
        from dispatch.incidents.service import depot_back

        outage = self.outages.pop(depot, None)
        if outage is None:
            self.record("depot_back", depot, "not out")
            return
        await depot_back(self._context(), outage)
        self.record("depot_back", depot)
        self._replan_soon()

    async def _receive(self, event: sc.Receive) -> None:
        from dispatch.stock.schemas import ReceiptCreate, ReceiptLine
        from dispatch.stock.service import receive

        expires = event.expires
        if expires is None:
            async with query(self._context()) as conn:
                days = await conn.fetchval(
                    "SELECT shelf_life_days FROM item WHERE code=$1", event.item
                )
            expires = None if not days else self.now.date() + timedelta(days=int(days))
        await receive(
            self._context(),
            ReceiptCreate(
                depot=event.depot,
                lines=[
                    ReceiptLine(
                        item=event.item,
                        lot=f"REPLAY-E{event.index}-{event.item}",
                        qty=event.quantity,
                        expires_on=expires,
                    )
                ],
                note=f"scenario event {event.index}",
            ),
        )
        self.record("receive", event.index, event.depot, event.item, event.quantity)
        self._replan_soon()

    async def _check_out(self, event: sc.CheckOut) -> None:
        from dispatch.people.schemas import CheckOutRequest
        from dispatch.people.service import check_out

        busy = {p for t in self.tasks.values() if not t.done for p in t.assigned}
        here = self.on_duty.get(event.community, [])
        order = sorted(here, key=lambda cp: (cp[1] in busy, cp[0]), reverse=False)
        leaving = [cp for cp in order if cp[1] not in busy][-event.people :]
        if len(leaving) < event.people:
            rest = [cp for cp in order if cp not in leaving]
            leaving += rest[-(event.people - len(leaving)) :]
        for code, person in leaving[: event.people]:
            await check_out(self._context(), CheckOutRequest(person_id=person))
            here.remove((code, person))
        self.record("check_out", event.community, sorted(c for c, _ in leaving[: event.people]))

    async def _stand_down(self, event: sc.StandDown) -> None:
        from dispatch.incidents.schemas import IncidentStatus
        from dispatch.incidents.service import advance_incident

        incident = self.incidents[event.incident]
        if event.incident not in self.responding:
            await advance_incident(self._context(), incident, IncidentStatus.RESPONDING)
            self.responding.add(event.incident)
        await advance_incident(self._context(), incident, IncidentStatus.STOOD_DOWN)
        self._stood_down.add(event.incident)
        self.latest_proposed.pop(event.incident, None)
        self.record("stand_down", event.incident)

    # --- planning and approval -----------------------------------------------------------

    async def _open_demand(self) -> dict[int, int]:
        """Incidents (by id) still running with units neither delivered nor on the way."""
        async with query(self._context()) as conn:
            rows = await conn.fetch(
                "SELECT r.incident, sum(r.quantity - r.planned_qty)::int AS open "
                "FROM supply_request r JOIN incident i ON i.id = r.incident "
                "WHERE i.status IN ('declared', 'responding') "
                "AND r.status IN ('open', 'planned', 'partially_fulfilled') "
                "AND r.quantity > r.planned_qty GROUP BY r.incident ORDER BY r.incident"
            )
        return {r["incident"]: r["open"] for r in rows}

    async def _replan(self) -> None:
        open_demand = await self._open_demand()
        for key in self.incident_order:
            incident = self.incidents[key]
            if key in self._stood_down or incident not in open_demand:
                continue
            if self.planned_version.get(key) == self.version:
                continue  # nothing a plan reads changed since this incident's last plan
            self.planned_version[key] = self.version
            plan = await self._plan(key)
            if plan is None:
                continue
            if self.scenario.policy.auto_approve:
                await self._approve(key, plan)
                self.planned_version[key] = self.version
            else:
                self.latest_proposed[key] = plan

    async def _plan(self, key: str) -> int | None:
        from dispatch.planning.schemas import PlanCreate, Policy
        from dispatch.planning.service import create_plan

        policy = self.scenario.policy
        began = time.perf_counter()
        try:
            view = await create_plan(
                self._context(),
                self.incidents[key],
                PlanCreate(policy=Policy(self.planner)),
                policy.vehicle_speed_kmh,
                policy.handling_minutes,
            )
        except DomainError as exc:
            self._refused("plan", exc)
            return None
        finally:
            self.plan_seconds += time.perf_counter() - began
        self.plans += 1
        for unmet in view.unmet:
            self.last_unmet[int(unmet["request"])] = str(unmet["reason"])
        self.record(
            "plan",
            key,
            self.plans,
            [
                [ln.depot, self.requests.get(ln.request), ln.item, ln.quantity, round(ln.eta_s)]
                for ln in view.lines
            ],
            [
                [self.requests.get(int(u["request"])), u["quantity"], u["reason"]]
                for u in view.unmet
            ],
        )
        if not view.lines:
            return None
        return view.id

    async def _approve_latest(self) -> None:
        for key in self.incident_order:
            plan = self.latest_proposed.pop(key, None)
            if plan is not None:
                await self._approve(key, plan)

    async def _approve(self, key: str, plan_id: int) -> None:
        from dispatch.incidents.schemas import IncidentStatus
        from dispatch.incidents.service import advance_incident
        from dispatch.planning.schemas import PlanApproval
        from dispatch.planning.service import approve_plan

        try:
            view = await approve_plan(self._context(), plan_id, PlanApproval())
        except Conflict as exc:
            self._refused("approve", exc)
            self._replan_soon()
            return
        self._changed()
        self.record("approve", key, self.plans)
        if key not in self.responding:
            await advance_incident(self._context(), self.incidents[key], IncidentStatus.RESPONDING)
            self.responding.add(key)
        lines = {ln.id: ln for ln in view.lines}
        async with query(self._context()) as conn:
            tasks = await conn.fetch(
                "SELECT id, version, plan_line, request_id, route FROM task "
                "WHERE plan_line = ANY($1::int[]) ORDER BY plan_line",
                sorted(lines),
            )
        for row in tasks:
            line = lines[row["plan_line"]]
            await self._depart(row["id"], row["version"], line)

    async def _depart(self, task_id: int, version: int, line: Any) -> None:
        """The depot's crew takes the delivery and leaves at once."""
        from dispatch.incidents.schemas import TaskAssign, TaskStep
        from dispatch.incidents.service import assign_task, step_task

        ctx = self._context()
        # The depot's crew stands for its vehicles and drives every delivery it sends, so
        # it is on several at once, wherever they go: a commander's override, audited.
        body = TaskAssign(
            version=version, people=self.crews[line.depot], override_reason=CREW_OVERRIDE
        )
        view = await assign_task(ctx, task_id, body)
        view = await step_task(ctx, task_id, "accept", TaskStep(version=view.version))
        view = await step_task(ctx, task_id, "start", TaskStep(version=view.version))
        number = len(self.deliveries) + 1
        arrives = self.now + timedelta(seconds=float(line.eta_s))
        self.deliveries[task_id] = Delivery(
            number=number,
            task=task_id,
            version=view.version,
            request=line.request,
            depot=line.depot,
            community=line.community,
            item=line.item,
            quantity=line.quantity,
            departed=self.now,
            arrives=arrives,
            route=dict(line.route),
        )
        self.push(arrives, ARRIVAL, "arrival", (task_id, 0))
        self.record(
            "depart",
            number,
            self.requests.get(line.request),
            line.depot,
            line.community,
            line.item,
            line.quantity,
            self.offset(arrives),
        )

    async def _arrive(self, payload: tuple[int, int]) -> None:
        from dispatch.incidents.schemas import TaskComplete, TaskFail
        from dispatch.incidents.service import complete_task, fail_task
        from dispatch.planning.service import road_state
        from geo.routing import Route, route_uses_closed_edge

        task_id, generation = payload
        delivery = self.deliveries[task_id]
        if generation != delivery.rerouted or delivery.arrived or delivery.failed:
            return  # superseded by a reroute
        ctx = self._context()
        async with query(ctx) as conn:
            state = await road_state(ctx, conn)
        ahead = tuple(int(n) for n in delivery.route.get("nodes", []))[delivery.passed :]
        route = Route(ahead, 0.0, 0.0)
        try:
            if len(ahead) >= 2 and route_uses_closed_edge(state, route):
                reason = "road closed on the route, no way through"
                await fail_task(ctx, task_id, TaskFail(version=delivery.version, reason=reason))
                delivery.failed = reason
                self.record("failed", delivery.number, reason)
                self._replan_soon()
                return
            view = await complete_task(ctx, task_id, TaskComplete(version=delivery.version))
        except DomainError as exc:
            self._refused("deliver", exc)
            return
        delivery.version = view.version
        delivery.delivered = view.delivered_qty
        delivery.arrived = self.now
        self.record("arrive", delivery.number, view.delivered_qty)

    # --- people ----------------------------------------------------------------------------

    async def _staff(self, task_id: int) -> None:
        """Pair people with a task from the suggestions (the same matching as the API)."""
        from dispatch.incidents.schemas import TaskAssign, TaskStep
        from dispatch.incidents.service import assign_task, step_task, suggest_for_task

        task = self.tasks[task_id]
        ctx = self._context()
        try:
            suggested = await suggest_for_task(ctx, task_id)
        except DomainError as exc:
            self._refused("suggest", exc)
            return
        people = [s.person_id for s in suggested.suggestions]
        if not people:
            if task_id not in self.unstaffed:
                self.unstaffed.append(task_id)
                self.record("unstaffed", task.key, [s.reason for s in suggested.short])
            return
        if task_id in self.unstaffed:
            self.unstaffed.remove(task_id)
        view = await assign_task(ctx, task_id, TaskAssign(version=task.version, people=people))
        view = await step_task(ctx, task_id, "accept", TaskStep(version=view.version))
        view = await step_task(ctx, task_id, "start", TaskStep(version=view.version))
        task.version = view.version
        task.assigned = people
        self.push(self.now + timedelta(minutes=task.minutes), TASK_END, "task_end", task_id)
        self.record("staffed", task.key, sorted(self.codes.get(p, "?") for p in people))

    async def _staff_waiting(self, new_day_only: bool = False) -> None:
        """Tasks left short, again: when people arrive or finish, and on a new day (the
        8-hour limit counts per day); in between the matching would say the same."""
        if not self.scenario.policy.assign_people:
            return
        day = self.now.astimezone(SHANGHAI).date()
        if new_day_only and day == self._staffing_day:
            return
        self._staffing_day = day
        for task_id in list(self.unstaffed):
            await self._staff(task_id)

    async def _task_end(self, task_id: int) -> None:
        from dispatch.incidents.schemas import TaskComplete
        from dispatch.incidents.service import complete_task

        task = self.tasks[task_id]
        try:
            view = await complete_task(self._context(), task_id, TaskComplete(version=task.version))
        except DomainError as exc:
            self._refused("task_end", exc)
            return
        task.version = view.version
        task.done = True
        self.record("task_done", task.key)
        self.push(self.now, STAFF, "staff")  # freed people may staff waiting tasks

    # --- the report --------------------------------------------------------------------------

    async def _report(self) -> dict[str, Any]:
        from dispatch.incidents.service import percentile

        ctx = self._context()
        incident_ids = [self.incidents[k] for k in self.incident_order]
        async with query(ctx) as conn:
            requests = await conn.fetch(
                "SELECT * FROM supply_request WHERE incident = ANY($1::bigint[]) "
                "AND status <> 'cancelled' ORDER BY id",
                incident_ids,
            )
            tasks = await conn.fetch(
                "SELECT t.id, t.kind, t.status, t.people_needed, t.accepted_at, t.finished_at, "
                "count(a.person)::int AS people FROM task t "
                "LEFT JOIN task_assignee a ON a.task = t.id "
                "WHERE t.incident = ANY($1::bigint[]) GROUP BY t.id ORDER BY t.id",
                incident_ids,
            )
            names = {
                r["code"]: r["name"] for r in await conn.fetch("SELECT code, name FROM community")
            }
        requested = sum(r["quantity"] for r in requests)
        delivered = sum(r["delivered_qty"] for r in requests)
        by_priority: dict[str, float] = {}
        for priority in sc.PRIORITIES:
            rows = [r for r in requests if r["priority"] == priority]
            asked = sum(r["quantity"] for r in rows)
            if asked:
                by_priority[priority] = round(sum(r["delivered_qty"] for r in rows) / asked, 3)
        created = {r["id"]: r["created_at"] for r in requests}
        done = sorted(
            (d for d in self.deliveries.values() if d.arrived and d.delivered),
            key=lambda d: d.number,
        )
        minutes = [_minutes(d.arrived - created[d.request]) for d in done if d.arrived]
        units = [d.delivered or 0 for d in done]
        first_request = min(created.values(), default=None)
        first_delivery = min((d.arrived for d in done if d.arrived), default=None)
        people_tasks = [t for t in tasks if t["kind"] != "delivery"]
        people_hours = sum(
            t["people"] * (t["finished_at"] - t["accepted_at"]).total_seconds() / 3600
            for t in tasks
            if t["status"] == "done" and t["accepted_at"] and t["finished_at"]
        )
        in_transit: dict[int, int] = {}
        for d in self.deliveries.values():
            if d.arrived is None and d.failed is None:
                in_transit[d.request] = in_transit.get(d.request, 0) + d.quantity
        unmet = []
        for r in requests:
            short = r["quantity"] - r["delivered_qty"]
            if short <= 0:
                continue
            if in_transit.get(r["id"]):
                reason = "still in transit when the scenario ended"
            elif r["id"] in self.last_unmet:  # the planner's reason says more than "stood down"
                reason = self.last_unmet[r["id"]]
            elif r["unmet_reason"]:
                reason = str(r["unmet_reason"])
            elif not self.scenario.policy.auto_approve:
                reason = "plan awaiting approval when the scenario ended"
            else:
                reason = "not planned before the scenario ended"
            unmet.append(
                {
                    "request": self.requests.get(r["id"]),
                    "incident": self.request_incident.get(r["id"]),
                    "community": r["community"],
                    "community_name": names.get(r["community"], ""),
                    "item": r["item"],
                    "priority": r["priority"],
                    "quantity": short,
                    "reason": reason,
                }
            )
        deliveries = [
            {
                "number": d.number,
                "request": self.requests.get(d.request),
                "depot": d.depot,
                "community": d.community,
                "item": d.item,
                "quantity": d.quantity,
                "departed_minutes": self.offset(d.departed),
                "arrived_minutes": None if d.arrived is None else self.offset(d.arrived),
                "delivered": d.delivered,
                "rerouted": d.rerouted,
                "failed": d.failed,
                "coordinates": d.route.get("coordinates", []),
            }
            for d in sorted(self.deliveries.values(), key=lambda d: d.number)
        ]
        history = canonical(self.history)
        return {
            "scenario": self.scenario.name,
            "file": Path(self.scenario.source).name,
            "description": self.scenario.description,
            "seed": self.scenario.seed,
            "policy": self.planner,
            "start": self.scenario.start.isoformat(),
            "duration_minutes": _minutes(self.scenario.duration),
            "history_sha256": hashlib.sha256(history.encode()).hexdigest(),
            "requests": len(requests),
            "requested_units": requested,
            "delivered_units": delivered,
            "fill_rate": round(delivered / requested, 3) if requested else 1.0,
            "fill_rate_by_priority": by_priority,
            "unmet": unmet,
            "first_delivery_minutes": None
            if first_request is None or first_delivery is None
            else _minutes(first_delivery - first_request),
            "delivery_minutes": {
                "p50": percentile(minutes, 0.5),
                "p90": percentile(minutes, 0.9),
                "max": round(max(minutes), 1) if minutes else 0.0,
                # per delivered unit: what the optimal planner minimises
                "mean": round(
                    sum(m * u for m, u in zip(minutes, units, strict=True)) / sum(units), 1
                )
                if sum(units)
                else 0.0,
            },
            "deliveries": len(done),
            "tasks": len(people_tasks),
            "tasks_staffed": sum(1 for t in people_tasks if t["people"] > 0),
            "tasks_fully_staffed": sum(
                1 for t in people_tasks if t["people"] >= t["people_needed"]
            ),
            "people_hours": round(people_hours, 2),
            "plans": self.plans,
            "events": len(self.scenario.events),
            "agenda_steps": self.steps,
            "refused": self.refused,
            "exercise": self.exercise_id,
            "kept": self.options.keep or self.options.exercise_id is not None,
            "timeline": [{"minutes": h[0], "kind": h[1], "data": h[2:]} for h in self.history],
            "routes": deliveries,
        }


def _closure_key(closure: sc.Closure) -> list[Any]:
    if closure.near is not None:
        return ["near", round(closure.near[0], 6), round(closure.near[1], 6), closure.radius_m]
    return ["edge", *(closure.edge or ())]


def canonical(history: list[list[Any]]) -> str:
    """One text for the history: sorted keys, no spaces, floats as written."""
    return json.dumps(history, ensure_ascii=False, sort_keys=True, separators=(",", ":"))


def figure(report: dict[str, Any], name: str) -> float | None:
    """A figure by dotted name (`delivery_minutes.p90`); `unmet` counts its entries."""
    value: Any = report
    for part in name.split("."):
        if not isinstance(value, dict) or part not in value:
            return None
        value = value[part]
    if isinstance(value, list):
        return float(len(value))
    return None if value is None else float(value)


def check_expect(scenario: sc.Scenario, report: dict[str, Any]) -> list[dict[str, Any]]:
    """Each bound with the figure it saw and whether it held."""
    return [
        {
            "bound": str(b),
            "figure": b.figure,
            "actual": figure(report, b.figure),
            "ok": b.holds(figure(report, b.figure)),
        }
        for b in scenario.expect
    ]


def failed_bounds(report: dict[str, Any]) -> list[dict[str, Any]]:
    return [b for b in report.get("expect", []) if not b["ok"]]


async def replay(
    scenario: sc.Scenario, options: Options | None = None, on_progress: Progress | None = None
) -> dict[str, Any]:
    """Run one scenario and return its report."""
    return await Replay(scenario, options, on_progress).run()


# --- entry points for the CLI and the server --------------------------------------------------


def scenarios_dir() -> Path:
    """The scenario files shipped with the service (`scenarios/`), or DISPATCH_SCENARIOS_DIR."""
    from dispatch.settings import get_settings

    return get_settings().scenarios_dir


def reference() -> sc.Reference:
    from dispatch.settings import get_settings

    return sc.load_reference(get_settings().reference_dir)


async def _require_loaded_world() -> None:
    """A replay copies the real world into its sandbox: the database must be migrated and
    hold the district, or the replay says so instead of failing half-way."""
    from dispatch.db import engine
    from dispatch.errors import Conflict

    async with engine().transaction() as txn:
        conn = txn.connection
        migrated = await conn.fetchval("SELECT to_regclass('public.exercise') IS NOT NULL")
        loaded = migrated and await conn.fetchval("SELECT EXISTS (SELECT 1 FROM community)")
    if not loaded:
        raise Conflict(
            "this database is not ready for a replay: run `dispatch migrate` and "
            "`dispatch load-reference` (or `dispatch demo --no-serve`) first",
            field="database",
        )


async def with_pool(coro_factory: Callable[[], Any], live: bool = False) -> Any:
    """Outside the server: a small connection pool (a replay issues thousands of short
    commands) and, for a live drill with REDIS_URL, events published to the shared feed."""
    from dispatch.db import engine, set_publisher
    from dispatch.settings import get_settings

    db = engine()
    await db.start_connection_pool(min_size=1, max_size=4)
    try:
        await _require_loaded_world()
    except BaseException:
        await db.close_connection_pool()
        raise
    feed = None
    settings = get_settings()
    if live and settings.redis_url:
        from dispatch.live import make_feed

        feed = make_feed(settings.redis_url, settings.redis_prefix)
        set_publisher(feed.publish)
    try:
        return await coro_factory()
    finally:
        if feed is not None:
            set_publisher(None)
            await feed.close()
        await db.close_connection_pool()
