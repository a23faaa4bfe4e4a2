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
  (`delivery_minutes.p90: "<= 120"`, `hotline.response_rate: ">= 0.7"`) or as a nested map.

The `call` event (a compatible extension of `dispatch-scenario/1`: files without calls
read and replay as before) is a 12345 call that becomes a hotline ticket:

    - at: 40m
      call:
        caller: 王女士                  # required: the caller's name
        phone: "10012345678"           # optional: synthetic only, 100 + 8 digits
        community: 福祥社区             # a 12-digit code or exact name, or instead:
        address: 交道口南大街菊儿胡同12号  #   matched as the hotline matches an address
        category: emergency_supplies   # the hotline's: emergency_supplies,
                                       #   evacuation_safety, utilities, care_household,
                                       #   road, other
        urgency: critical              # critical (特急), urgent (紧急), normal (一般)
        content: 院里积水没过脚踝，需要沙袋
        incident: R1                   # optional; required with `request`
        request: {item: SANDBAG, quantity: 50, priority: critical}  # optional

A call needs `community` or an `address` that names a community or a street (a request
needs a community); a request's `priority` defaults from the urgency (critical →
critical, urgent → high, normal → normal). How the replay plays the ticket on (assigned,
taken up, replied, rated, closed, on seeded draws) is in `dispatch.exercises.replay.calls`.

ARCHITECTURE: `model` (constants, figures, problems, the reference, the typed scenario,
durations), `reading` (the validator's base: YAML nodes, scalars, reference lookups),
`world` (world and policy), `calls` (a call's fields), `events` (events and their
timeline), `expect` (bounds), `variation` (how runs vary, and the run a seed draws: its text
says the `variation` key's shape), `preparedness` (community plans in replay: its text says
the `preparedness` key's shape), `parse` (the whole file and the entry points). This module
re-exports them.
"""

from __future__ import annotations

from dispatch.exercises.scenario.model import (
    BUILTIN_SKILLS,
    CALL_CATEGORIES,
    FIGURES,
    FORMAT,
    INCIDENT_TYPES,
    LEVELS,
    PLANNERS,
    PREPAREDNESS_FIGURES,
    PRIORITIES,
    TASK_KINDS,
    URGENCIES,
    Approve,
    Around,
    Bound,
    Call,
    CheckIn,
    CheckOut,
    CloseRoad,
    Closure,
    DepotBack,
    DepotOut,
    Event,
    FleetLine,
    ImpliedRequest,
    Incident,
    OnDuty,
    OpenRoad,
    Policy,
    Preparedness,
    Problem,
    RaiseLevel,
    Receive,
    Reference,
    Request,
    Scenario,
    ScenarioError,
    Spread,
    StandDown,
    StockLine,
    Task,
    TeamOnCall,
    Variation,
    World,
    format_duration,
    load_reference,
    parse_duration,
)
from dispatch.exercises.scenario.parse import ScenarioChecker, load_scenario, parse_scenario
from dispatch.exercises.scenario.variation import drawn

__all__ = [
    "BUILTIN_SKILLS",
    "CALL_CATEGORIES",
    "FIGURES",
    "FORMAT",
    "INCIDENT_TYPES",
    "LEVELS",
    "PLANNERS",
    "PREPAREDNESS_FIGURES",
    "PRIORITIES",
    "TASK_KINDS",
    "URGENCIES",
    "Approve",
    "Around",
    "Bound",
    "Call",
    "CheckIn",
    "CheckOut",
    "CloseRoad",
    "Closure",
    "DepotBack",
    "DepotOut",
    "Event",
    "FleetLine",
    "ImpliedRequest",
    "Incident",
    "OnDuty",
    "OpenRoad",
    "Policy",
    "Preparedness",
    "Problem",
    "RaiseLevel",
    "Receive",
    "Reference",
    "Request",
    "Scenario",
    "ScenarioChecker",
    "ScenarioError",
    "Spread",
    "StandDown",
    "StockLine",
    "Task",
    "TeamOnCall",
    "Variation",
    "World",
    "drawn",
    "format_duration",
    "load_reference",
    "load_scenario",
    "parse_duration",
    "parse_scenario",
]
