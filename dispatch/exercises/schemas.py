"""Bodies of the exercises API."""

from __future__ import annotations

from datetime import datetime
from enum import StrEnum
from typing import Annotated

import msgspec

EXERCISE_HEADER_NAME = "X-Exercise"


class ExerciseKind(StrEnum):
    DRILL = "drill"
    REPLAY = "replay"


class ExerciseStatus(StrEnum):
    ACTIVE = "active"
    DELETED = "deleted"


class ExerciseCreate(msgspec.Struct, forbid_unknown_fields=True):
    name: Annotated[str, msgspec.Meta(min_length=1, max_length=100)]
    kind: ExerciseKind = ExerciseKind.DRILL
    scenario: Annotated[str, msgspec.Meta(max_length=200)] | None = None
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
