"""Planning's records: inputs (depots, stock, floors, demands, options) and the plan's
output records (transfers, unmet and late lines), with the texts they explain
themselves with and the small helpers that build them in bulk.
"""

from __future__ import annotations

import math
from collections.abc import Callable, Iterable, Mapping, Sequence
from dataclasses import dataclass, field
from datetime import date
from operator import itemgetter
from typing import Any, Literal, NamedTuple, TypeVar

from geo.network import Vehicle

__all__ = [
    "PRIORITIES",
    "PRIORITY_RANK",
    "REASONS",
    "Demand",
    "DemandColumns",
    "DepotRecord",
    "LateLine",
    "Plan",
    "PlanInputs",
    "PlanOptions",
    "Policy",
    "Priority",
    "Reason",
    "ReserveFloor",
    "StockLine",
    "Transfer",
    "UnmetLine",
    "cost_of",
    "minutes",
    "new_tuple",
    "pick_at",
]

Priority = Literal["critical", "high", "normal"]
Policy = Literal["optimal", "nearest"]
Reason = Literal["no_stock", "unreachable", "held_by_reserve_floor", "late"]
PRIORITIES: tuple[Priority, ...] = ("critical", "high", "normal")
REASONS: tuple[Reason, ...] = ("no_stock", "unreachable", "held_by_reserve_floor", "late")
PRIORITY_RANK: dict[str, int] = {p: i for i, p in enumerate(PRIORITIES)}
T = TypeVar("T")


# ---------------------------------------------------------------------------
# Input and output records
# ---------------------------------------------------------------------------


@dataclass(frozen=True)
class DepotRecord:
    """A depot; give its road ``node`` or its ``lat``/``lon`` (snapped to the network)."""

    code: str
    node: int | None = None
    lat: float | None = None
    lon: float | None = None
    is_district_reserve: bool = False
    out: bool = False


class StockLine(NamedTuple):
    """On-hand quantity of one lot of one item at one depot.

    Input records are named tuples, like the plan's records: a plan reads
    every field of hundreds or thousands of them, and tuples unpack or
    transpose (``zip(*lines)``) in one C-level step.
    """

    depot: str
    item: str
    lot: str
    quantity: int
    expires: date | None = None


@dataclass(frozen=True)
class ReserveFloor:
    """The reserve standard: the minimum a (street) depot must keep of an item."""

    depot: str
    item: str
    minimum: int


class Demand(NamedTuple):
    """A community's request; ``need_by_s`` is seconds from the planning moment.

    A named tuple (see :class:`StockLine`): the planner takes the demands'
    fields as columns, all in one transpose.
    """

    id: str
    community: str
    item: str
    quantity: int
    priority: Priority = "normal"
    need_by_s: float | None = None
    node: int | None = None
    lat: float | None = None
    lon: float | None = None


class DemandColumns(NamedTuple):
    """The demands' fields as columns, in input order."""

    ids: Sequence[str]
    communities: Sequence[str]
    items: Sequence[str]
    quantities: Sequence[int]
    priorities: Sequence[str]
    need_by: Sequence[float | None]
    nodes: Sequence[int | None]
    lats: Sequence[float | None]
    lons: Sequence[float | None]

    @classmethod
    def of(cls, demands: Sequence[Demand]) -> DemandColumns:
        if not demands:
            return cls((), (), (), (), (), (), (), (), ())
        return cls(*zip(*demands, strict=True))


@dataclass(frozen=True)
class PlanInputs:
    """What a plan is made of: the depots, their stock, the reserve floors, the demands."""

    depots: Sequence[DepotRecord]
    stock: Sequence[StockLine]
    floors: Sequence[ReserveFloor]
    demands: Sequence[Demand]


@dataclass(frozen=True)
class PlanOptions:
    """How to plan; defaults follow the scenario format's defaults."""

    policy: Policy = "optimal"
    vehicle_speed_kmh: float = 25.0
    handling_minutes: float = 10.0
    emergency: bool = False
    deliver_late: bool = True
    now: date | None = None
    vehicle_kind: str = "van"
    max_travel_s: float | None = None  # search horizon; farther depots count as unreachable

    @property
    def handling_s(self) -> float:
        return self.handling_minutes * 60.0

    @property
    def vehicle(self) -> Vehicle:
        return Vehicle(self.vehicle_kind, self.vehicle_speed_kmh)


class Transfer(NamedTuple):
    """Send ``quantity`` of ``item`` from ``depot`` for ``demand_id``.

    Plan records are named tuples: immutable and hashable like frozen
    dataclasses, but a plan builds thousands of them and a tuple costs a
    third of an object with its own ``__dict__`` (and leaves the garbage
    collector less to walk).
    """

    depot: str
    demand_id: str
    community: str
    item: str
    priority: Priority
    quantity: int
    lots: tuple[tuple[str, int], ...]
    travel_s: float
    eta_s: float
    late: bool
    next_best_depot: str | None  # the fastest other depot that held the item, if any
    next_best_s: float | None  # its travel time
    route: tuple[int, ...] = ()
    route_length_m: float = 0.0

    @property
    def explanation(self) -> str:
        """This depot's time against the next best one's (built on demand: plans are big)."""
        text = f"{self.depot} is {minutes(self.travel_s)} away"
        code, _ = self.coded
        if code == "plan.transfer.only":
            return text + "; no other depot with stock can reach it"
        t2 = float(self.next_best_s or 0.0)
        if code == "plan.transfer.next_best":
            gap = minutes(t2 - self.travel_s)
            return text + f"; next best {self.next_best_depot} {minutes(t2)} (+{gap})"
        return (
            text + f"; faster {self.next_best_depot} ({minutes(t2)}) had its available stock "
            "assigned to higher-priority demands or to demands where it saves more time"
        )

    @property
    def coded(self) -> tuple[str, dict[str, Any]]:
        """The explanation as a message code and its figures, for a reader to say in their
        language with the depots' names: the arrival in whole minutes as the ETA is shown
        (travel plus handling, from `eta_s`), and its driving and handling parts with one
        decimal (the depots are compared on driving time; handling is the same for each)."""
        handling = self.eta_s - self.travel_s
        params: dict[str, Any] = {
            "depot": self.depot,
            "minutes": round(self.travel_s / 60, 1),
            "eta_minutes": round(self.eta_s / 60),  # the one ETA a reader sees: as eta_s
            "handling_minutes": round(handling / 60, 1),
        }
        if self.next_best_depot is None or self.next_best_s is None:
            return "plan.transfer.only", params
        t2 = self.next_best_s
        params.update(next_best=self.next_best_depot, next_minutes=round(t2 / 60, 1))
        params["next_eta_minutes"] = round((t2 + handling) / 60)
        if t2 >= self.travel_s:
            params["gap_minutes"] = round((t2 - self.travel_s) / 60, 1)
            return "plan.transfer.next_best", params
        return "plan.transfer.faster_taken", params


class UnmetLine(NamedTuple):
    """Units of a demand the plan could not send, and why."""

    demand_id: str
    community: str
    item: str
    priority: Priority
    quantity: int
    reason: Reason
    # The figures behind the reason, a tag first (see _unmet_text): the texts
    # are built on demand, since a replay or a drill reads only the reasons.
    detail: tuple[Any, ...]

    @property
    def needed(self) -> str:
        """What would have been needed to send these units."""
        return _unmet_text(self)[0]

    @property
    def explanation(self) -> str:
        """Why they could not be sent."""
        return _unmet_text(self)[1]

    @property
    def coded(self) -> tuple[str, dict[str, Any]]:
        """Why, as a message code (``plan.unmet.<tag>``) and its figures: depot codes, for
        the reader to name, and minutes with one decimal."""
        tag, *figures = self.detail
        params: dict[str, Any] = {"n": self.quantity, "item": self.item}
        params["community"] = self.community
        if tag == "none_held":
            params["out"] = list(figures[0])
        elif tag == "unreachable":
            params.update(count=figures[0], depots=list(figures[1]))
        elif tag == "late":
            fastest, eta, need_by = figures
            params.update(depot=fastest, eta_minutes=round(eta / 60, 1))
            params["need_by_minutes"] = round(need_by / 60, 1)
        elif tag == "floor":
            depot, travel_s, kept, release = figures
            params.update(depot=depot, minutes=round(travel_s / 60, 1), kept=kept)
            params["release"] = release
        else:
            params["count"] = figures[0]
        return f"plan.unmet.{tag}", params


def _unmet_text(line: UnmetLine) -> tuple[str, str]:
    """(needed, explanation) of an unmet line, from its reason's figures."""
    n, item, community = line.quantity, line.item, line.community
    tag, *figures = line.detail
    if tag == "none_held":
        (out_codes,) = figures
        needed = f"{n} {item} at a depot that can reach {community}"
        why = f"no usable depot holds {item}"
        if out_codes:
            why += f" ({', '.join(out_codes)} out of service)"
    elif tag == "unreachable":
        n_stocked, names = figures
        needed = f"an open route from a depot holding {item} (e.g. {names[0]})"
        why = (
            f"{n_stocked} depots hold {item} ({', '.join(names)}) but none can "
            f"reach {community}: roads closed or beyond the planning horizon"
        )
    elif tag == "late":
        fastest, eta, need_by = figures
        needed = f"need_by of at least {minutes(eta)}"
        why = (
            f"the fastest depot {fastest} would arrive in "
            f"{minutes(eta)}, after need_by {minutes(need_by)}"
        )
    elif tag == "floor":
        depot, travel_s, kept, release = figures
        needed = f"an emergency release of {release} {item} from {depot} (or nearby depots)"
        why = (
            f"nearest depot with stock {depot} ({minutes(travel_s)}) is held by its "
            f"reserve floor ({kept} kept)"
        )
    else:
        (n_candidates,) = figures
        needed = f"{n} more {item} within reach of {community}"
        why = (
            f"all {item} within reach ({n_candidates} depots) is assigned to other "
            "demands of equal or higher priority"
        )
    return needed, f"needs {n} more {item}; " + why


class LateLine(NamedTuple):
    """Units that are sent but arrive after the demand's ``need_by``."""

    demand_id: str
    community: str
    item: str
    quantity: int
    eta_s: float
    need_by_s: float
    reason: Reason
    explanation: str


@dataclass(frozen=True)
class Plan:
    """The result: transfers, what is unmet or late, the objective and timings."""

    policy: Policy
    transfers: tuple[Transfer, ...]
    unmet: tuple[UnmetLine, ...]
    late: tuple[LateLine, ...]
    objective_s: float  # sum over sent units of travel seconds
    objective_cost: int  # the same with the solver's integer costs (see cost_of)
    runtime_s: float
    timings: Mapping[str, float] = field(default_factory=dict)
    # (item, priority) -> (units sent, integer cost) of each lexicographic level
    level_costs: Mapping[tuple[str, str], tuple[int, int]] = field(default_factory=dict)

    @property
    def delivered_units(self) -> int:
        return sum(t.quantity for t in self.transfers)

    @property
    def unmet_units(self) -> int:
        return sum(u.quantity for u in self.unmet)


# Plan records are built in bulk from their columns by tuple.__new__, exactly
# as their constructor builds them but without a Python call per record.
new_tuple: Callable[[type[Any], Iterable[Any]], Any] = tuple.__new__


def pick_at(values: Sequence[T], at: list[int]) -> list[T]:
    """``[values[k] for k in at]``, in one C-level call."""
    if len(at) < 2:
        return [values[k] for k in at]
    return list(itemgetter(*at)(values))


def cost_of(seconds: float) -> int:
    """The integer arc cost of a travel time: seconds rounded half up (deterministic)."""
    return math.floor(seconds + 0.5)


def minutes(seconds: float) -> str:
    return f"{seconds / 60:.1f} min"
