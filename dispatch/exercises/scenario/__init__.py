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

ARCHITECTURE: `model` (constants, figures, problems, the reference, the typed scenario,
durations), `reading` (the validator's base: YAML nodes, scalars, reference lookups),
`world` (world and policy), `events` (events and their timeline), `expect` (bounds),
`parse` (the whole file and the entry points). This module re-exports them.
"""

from __future__ import annotations

from dispatch.exercises.scenario.model import (
    BUILTIN_SKILLS,
    FIGURES,
    FORMAT,
    INCIDENT_TYPES,
    LEVELS,
    PLANNERS,
    PRIORITIES,
    TASK_KINDS,
    Approve,
    Bound,
    CheckIn,
    CheckOut,
    CloseRoad,
    Closure,
    DepotBack,
    DepotOut,
    Event,
    Incident,
    OnDuty,
    OpenRoad,
    Policy,
    Problem,
    Receive,
    Reference,
    Request,
    Scenario,
    ScenarioError,
    StandDown,
    StockLine,
    Task,
    TeamOnCall,
    World,
    format_duration,
    load_reference,
    parse_duration,
)
from dispatch.exercises.scenario.parse import ScenarioChecker, load_scenario, parse_scenario

__all__ = [
    "BUILTIN_SKILLS",
    "FIGURES",
    "FORMAT",
    "INCIDENT_TYPES",
    "LEVELS",
    "PLANNERS",
    "PRIORITIES",
    "TASK_KINDS",
    "Approve",
    "Bound",
    "CheckIn",
    "CheckOut",
    "CloseRoad",
    "Closure",
    "DepotBack",
    "DepotOut",
    "Event",
    "Incident",
    "OnDuty",
    "OpenRoad",
    "Policy",
    "Problem",
    "Receive",
    "Reference",
    "Request",
    "Scenario",
    "ScenarioChecker",
    "ScenarioError",
    "StandDown",
    "StockLine",
    "Task",
    "TeamOnCall",
    "World",
    "format_duration",
    "load_reference",
    "load_scenario",
    "parse_duration",
    "parse_scenario",
]
