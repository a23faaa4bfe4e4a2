"""The fleet: the façade controllers, the CLI, the planner and tests call as `service.x`.

ARCHITECTURE. Each concern of the fleet lives in one module; this one only re-exports:

- `vehicles`: the register (list, get, create, update with status changes, retire), the
  rules of kind and lane class, the illustrative default capacities, scope as depots.
- `crews`: drivers and crews from the people registry (a driver needs `driving`; one
  vehicle per person; people inside the actor's scope only).
- `available`: what a planner can send now from given depots (`available_at`).
- `sheets`: vehicles imported from CSV or XLSX, all rows or none.
- `demo`: the illustrative fleet `dispatch demo` seeds.
"""

from __future__ import annotations

from dispatch.fleet.available import available_at
from dispatch.fleet.crews import assign_crew, unassign_crew
from dispatch.fleet.demo import DEMO_SEED, seed_demo_fleet
from dispatch.fleet.sheets import IMPORT_COLUMNS, import_vehicles
from dispatch.fleet.vehicles import (
    BUILTIN_KINDS,
    DEFAULTS,
    Capacity,
    FleetFilter,
    create_vehicle,
    get_vehicle,
    list_vehicles,
    retire_vehicle,
    update_vehicle,
)

__all__ = [
    "BUILTIN_KINDS",
    "DEFAULTS",
    "DEMO_SEED",
    "IMPORT_COLUMNS",
    "Capacity",
    "FleetFilter",
    "assign_crew",
    "available_at",
    "create_vehicle",
    "get_vehicle",
    "import_vehicles",
    "list_vehicles",
    "retire_vehicle",
    "seed_demo_fleet",
    "unassign_crew",
    "update_vehicle",
]
