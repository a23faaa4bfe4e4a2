"""Supply-transfer planning: which depot sends how much of what to whom.

Two policies over the same inputs:

``optimal``
    Per item, priorities strictly first and lexicographically: the critical
    demands are served as fully as possible (maximum flow) at the minimum total
    delivery time (sum over units of travel seconds); then the high demands
    with the supply that is left, then the normal ones. Each level is one exact
    min-cost max-flow (OR-Tools ``SimpleMinCostFlow``) with integer costs
    (travel seconds rounded half up, :func:`cost_of`). Within a level, among
    equal-cost plans the solver's choice is deterministic (inputs are sorted)
    but not tuned for the later levels.
``nearest``
    Each demand in priority order (then input order) takes what it can from
    its nearest reachable depot with stock above the floor, then the next
    nearest, and so on: the usual manual practice, kept as a baseline.

Rules shared by both:

* a depot that is out (record flag or ``RoadState.depots_out``) sends nothing;
* a street depot keeps its reserve floor unless ``emergency``; the district
  reserve may always be emptied;
* lots are issued first-expiry-first-out; lots that expired before ``now``
  are never sent (nor counted as stock); lots without expiry go last;
* ``need_by``: when ``deliver_late`` (the default) late deliveries are still
  made, since in an emergency late supplies beat none, and every late unit is
  reported in ``Plan.late`` with reason ``late``; with ``deliver_late=False`` a
  depot that can't arrive by ``need_by`` is not used for that demand, and
  units that only such depots could have sent are unmet with reason ``late``.

Every unmet unit gets a reason (``no_stock``, ``unreachable``,
``held_by_reserve_floor``, ``late``), what would have been needed, and an
explanation; every transfer says how its depot compares with the next best.

ARCHITECTURE: this module is the façade; the planner lives in modules of one
concern each, re-exported here:

* :mod:`geo.planning_model`: the input and output records and their texts;
* :mod:`geo.planning_supply`: stock as arrays (FEFO lots, floors, what is sent)
  and the exact min-cost-flow call with its per-router cache;
* :mod:`geo.planning_solver`: the two policies, level by level;
* :mod:`geo.planning_explain`: lots, next-best depots, unmet and late lines;
* :mod:`geo.planning_routes`: the entry points (:func:`solve_transfers`,
  :func:`plan_transfers`), routes per transfer and :func:`plan_features`.
"""

from __future__ import annotations

from geo import planning_model
from geo.planning_explain import Routes

# the records and their texts, as the model module lists them (so the list is kept once)
from geo.planning_model import *  # noqa: F403
from geo.planning_routes import RouteFor, plan_features, plan_transfers, solve_transfers
from geo.planning_solver import Allocation
from geo.planning_supply import SolveCache, cache_for

__all__ = [
    "Allocation",
    "RouteFor",
    "Routes",
    "SolveCache",
    "cache_for",
    "plan_features",
    "plan_transfers",
    "solve_transfers",
]
__all__ += planning_model.__all__
