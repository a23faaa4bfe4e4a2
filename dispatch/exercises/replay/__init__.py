"""Scenario replay: a `Scenario` played on a simulated clock in an exercise sandbox.

Every change goes through the services the API uses (incidents, planning, stock, people),
as a commander-like actor, in a `Context` whose clock is a `FixedClock` and whose world is
the sandbox schema; the engine only decides *when* each command is issued:

- an agenda ordered by (time, class, sequence): vehicles arriving, people's tasks ending,
  the scenario's events (file order at the same offset), then re-planning. Nothing else
  orders it, so two runs issue the same commands in the same order;
- plans carry runs on the sandbox's fleet (`fleet`: `world.fleet` or the demo's default
  per depot); on approval each vehicle's run leaves with its crew and is completed stop by
  stop at the run's times (`runs`); the vehicle is free again once back at its depot, and a
  load whose depot's vehicles are all out waits for one (`plans`);
- a load no vehicle of its depot carries leaves as a single-line delivery with the depot's
  crew and arrives after the plan line's ETA (route time at the policy's speed plus handling);
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

ARCHITECTURE: `state` (what a run knows: its keys, deliveries, tasks, agenda and history),
`agenda` (the `Replay` run: sandbox, the agenda's order, one step handler per agenda kind),
`world` (the world before the clock starts), `events` (one handler per scenario event kind),
`roads` (closures, outages, reroutes), `plans` (planning, approval, departures, arrivals),
`preparedness` (community plans started by a declaration, their tasks and call-outs'
answers, only with the scenario's `preparedness` on), `shelters` (evacuees' intake),
`fleet` (the sandbox's vehicles and crews), `runs` (vehicle runs on the clock),
`people` (staffing people's tasks), `calls` (12345 calls: tickets played on from receipt
to close, on seeded draws; the hotline's deadline sweep on simulated time), `report` (the
report and its figures), `entry` (the CLI's and the server's entry points). This module
re-exports what callers use.
"""

from __future__ import annotations

from dispatch.exercises.replay.agenda import STEPS, Replay, replay
from dispatch.exercises.replay.entry import reference, scenarios_dir, with_pool
from dispatch.exercises.replay.events import HANDLERS
from dispatch.exercises.replay.report import (
    canonical,
    check_expect,
    failed_bounds,
    figure,
    shown_figures,
)
from dispatch.exercises.replay.state import (
    ARRIVAL,
    CREW_OVERRIDE,
    CREW_PER_DEPOT,
    EVENT,
    REPLAN,
    REPLAY_ACTOR,
    STAFF,
    SWEEP,
    TASK_END,
    TICKET,
    Delivery,
    Options,
    PeopleTask,
    Progress,
    ReplayState,
    TicketRun,
    as_minutes,
    closure_key,
)

__all__ = [
    "ARRIVAL",
    "CREW_OVERRIDE",
    "CREW_PER_DEPOT",
    "EVENT",
    "HANDLERS",
    "REPLAN",
    "REPLAY_ACTOR",
    "STAFF",
    "STEPS",
    "SWEEP",
    "TASK_END",
    "TICKET",
    "Delivery",
    "Options",
    "PeopleTask",
    "Progress",
    "Replay",
    "ReplayState",
    "TicketRun",
    "as_minutes",
    "canonical",
    "check_expect",
    "closure_key",
    "failed_bounds",
    "figure",
    "reference",
    "replay",
    "scenarios_dir",
    "shown_figures",
    "with_pool",
]
