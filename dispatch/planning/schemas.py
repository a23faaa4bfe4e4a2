"""Bodies of the planning API."""

from __future__ import annotations

from datetime import datetime
from enum import StrEnum
from typing import Annotated, Any

import msgspec

from dispatch.incidents.schemas import ShelterRef


class Policy(StrEnum):
    OPTIMAL = "optimal"  # minimum total delivery time, priorities strictly first
    NEAREST = "nearest"  # each demand from its nearest depot with stock (for comparison)


class PlanCreate(msgspec.Struct, forbid_unknown_fields=True):
    policy: Policy = Policy.OPTIMAL
    emergency: bool | None = None  # default: true for level I and II incidents


class LineEdit(msgspec.Struct, forbid_unknown_fields=True):
    line: Annotated[int, msgspec.Meta(ge=1)]
    quantity: Annotated[int, msgspec.Meta(ge=0, le=1_000_000)]  # 0 drops the line


class PlanApproval(msgspec.Struct, forbid_unknown_fields=True):
    lines: Annotated[list[LineEdit], msgspec.Meta(max_length=5000)] = []
    note: Annotated[str, msgspec.Meta(max_length=500)] | None = None


class PlanDecision(msgspec.Struct, forbid_unknown_fields=True):
    note: Annotated[str, msgspec.Meta(max_length=500)] | None = None


class PlanLineView(msgspec.Struct):
    id: int
    request: int
    depot: str
    community: str
    item: str
    quantity: int
    lots: list[tuple[str, int]]
    route: dict[str, Any]
    length_m: float
    travel_s: float
    eta_s: float
    explanation: str
    # the explanation as a message: {"code": "plan.transfer.…", "params": {… names …}}
    explained: dict[str, Any] | None = None
    shelter: ShelterRef | None = None  # delivered at this shelter, not the committee


class PlanView(msgspec.Struct):
    id: int
    incident: int
    policy: str
    emergency: bool
    status: str
    fingerprint: str
    objective_s: float
    runtime_ms: float
    unmet: list[dict[str, Any]]
    created_at: datetime
    created_by: str
    decided_at: datetime | None
    decided_by: str | None
    lines: list[PlanLineView]
    # per sending depot: its vehicles' runs (trips, stops in order, ETA minutes, loads) and
    # the stops left unserved with why; None for a plan made without runs (replay)
    runs: list[dict[str, Any]] | None = None
