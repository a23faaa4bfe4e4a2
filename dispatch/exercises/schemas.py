"""Bodies of the exercises API."""

from __future__ import annotations

import re
from datetime import datetime
from enum import StrEnum
from typing import Annotated, Any

import msgspec

EXERCISE_HEADER_NAME = "X-Exercise"
SCHEMA_PREFIX = "ex_"
_HEADER_VALUE = re.compile(r"^(?:ex_)?([0-9]{1,9})$")


def exercise_id_of(header: str) -> int | None:
    """The exercise an `X-Exercise` header names (`7`, `ex_7`, `007`), or None if malformed."""
    found = _HEADER_VALUE.match(header.strip())
    return int(found.group(1)) if found else None


def exercise_schema(header: str) -> str | None:
    """The one spelling of the world a header names: its schema (`ex_7`), or None."""
    exercise_id = exercise_id_of(header)
    return None if exercise_id is None else f"{SCHEMA_PREFIX}{exercise_id}"


class ExerciseKind(StrEnum):
    DRILL = "drill"
    REPLAY = "replay"


class ExerciseStatus(StrEnum):
    ACTIVE = "active"
    DELETED = "deleted"


SCENARIO_FILE = r"^[A-Za-z0-9_.\-]+\.ya?ml$"  # a file name of scenarios/, nothing with a path


class ExerciseCreate(msgspec.Struct, forbid_unknown_fields=True):
    name: Annotated[str, msgspec.Meta(min_length=1, max_length=100)]
    kind: ExerciseKind = ExerciseKind.DRILL
    # through the API, a file of scenarios/ (checked like a play's); a replay from the CLI
    # records the name of the file it replays
    scenario: Annotated[str, msgspec.Meta(max_length=200, pattern=SCENARIO_FILE)] | None = None
    seed: Annotated[int, msgspec.Meta(ge=0, le=2**31 - 1)] | None = None


class ExerciseView(msgspec.Struct):
    id: int
    name: str
    kind: ExerciseKind
    schema_name: str
    status: ExerciseStatus
    created_at: datetime
    created_by: str
    scenario: str | None
    seed: int | None
    reset_at: datetime | None
    deleted_at: datetime | None
    header: str  # what to send to act inside it, e.g. "X-Exercise: 7"


class Planner(StrEnum):
    OPTIMAL = "optimal"
    NEAREST = "nearest"


class PlayStatus(StrEnum):
    IDLE = "idle"
    RUNNING = "running"
    FINISHED = "finished"
    FAILED = "failed"
    STOPPED = "stopped"


class PlayRequest(msgspec.Struct, forbid_unknown_fields=True):
    """Play a file of `scenarios/` into the exercise, live, at `speed` x wall time."""

    scenario: Annotated[str, msgspec.Meta(min_length=1, max_length=200, pattern=SCENARIO_FILE)]
    speed: Annotated[float, msgspec.Meta(gt=0, le=1_000_000)] = 60.0
    policy: Planner | None = None  # default: the file's planner
    loop: bool = False  # start again (after a reset of the exercise) when it ends


class PlayView(msgspec.Struct):
    exercise: int
    status: PlayStatus
    scenario: str | None = None  # file name
    title: str | None = None  # the scenario's name
    speed: float | None = None
    policy: str | None = None
    loop: bool = False
    loops: int = 0
    started_at: datetime | None = None
    finished_at: datetime | None = None
    sim_time: datetime | None = None  # the drill's simulated clock
    offset_minutes: float = 0.0
    duration_minutes: float = 0.0
    progress: float = 0.0  # 0..1 of the scenario's time
    events_done: int = 0
    events_total: int = 0
    steps: int = 0
    deliveries: int = 0
    plans: int = 0
    report: dict[str, Any] | None = None  # the figures, once finished (no timeline)
    error: str | None = None


class ScenarioInfo(msgspec.Struct):
    name: str  # file name in scenarios/, what `POST .../play` takes
    title: str
    description: str
    duration: str  # e.g. "12h"
    duration_minutes: float
    events: int
    start: datetime
    planner: str
    expect: list[str]


class BatchStatus(StrEnum):
    RUNNING = "running"
    DONE = "done"
    FAILED = "failed"
    STOPPED = "stopped"


class BatchRequest(msgspec.Struct, forbid_unknown_fields=True):
    """Replay a file of `scenarios/` `runs` times per policy, run i of each policy on the
    scenario's draw for seed `seed + i` (paired), `jobs` replays at once."""

    scenario: Annotated[str, msgspec.Meta(min_length=1, max_length=200, pattern=SCENARIO_FILE)]
    runs: Annotated[int, msgspec.Meta(ge=1, le=100)] = 10
    policies: Annotated[list[Planner], msgspec.Meta(min_length=1, max_length=2)] = msgspec.field(
        default_factory=lambda: [Planner.OPTIMAL, Planner.NEAREST]
    )
    seed: Annotated[int, msgspec.Meta(ge=0, le=2_000_000_000)] = 1
    jobs: Annotated[int, msgspec.Meta(ge=1, le=2)] = 2


class BatchView(msgspec.Struct):
    id: int
    scenario: str  # file name
    title: str  # the scenario's name
    runs: int
    policies: list[str]
    seed: int  # the first seed
    jobs: int
    status: BatchStatus
    done: int  # replays finished
    total: int  # replays in all (runs x policies)
    created_by: str
    created_at: datetime
    updated_at: datetime
    finished_at: datetime | None = None
    stop_requested: bool = False
    summary: dict[str, Any] | None = None  # `batch.summary`, once done
    error: str | None = None
