"""The exercise's own row in the real world: its columns, its view, the schema it owns,
and the real-world context every exercise command runs in (whatever header the request
carried). The service and the plays both read exercises through these."""

from __future__ import annotations

import asyncpg

from dispatch.db import Command, Context, view_of
from dispatch.errors import Conflict, NotFound
from dispatch.exercises.schemas import (
    EXERCISE_HEADER_NAME,
    SCHEMA_PREFIX,
    ExerciseStatus,
    ExerciseView,
)

COLUMNS = (
    "id, name, kind, schema_name, status, created_at, created_by, scenario, seed, "
    "reset_at, deleted_at"
)


def schema_of(exercise_id: int) -> str:
    return f"{SCHEMA_PREFIX}{exercise_id}"


def exercise_of(schema: str) -> int:
    """The exercise whose world is this schema (`ex_7` is exercise 7)."""
    return int(schema.removeprefix(SCHEMA_PREFIX))


def exercise_view(row: asyncpg.Record) -> ExerciseView:
    return view_of(ExerciseView, row, header=f"{EXERCISE_HEADER_NAME}: {row['id']}")


def real_world(ctx: Context) -> Context:
    """Exercises are managed in the real world whatever header the request carried."""
    return Context(ctx.actor, ctx.clock, None)


async def locked_active(cmd: Command, exercise_id: int, doing: str) -> asyncpg.Record:
    """The exercise's row, locked for the command, refused unless it is active."""
    row = await cmd.connection.fetchrow(
        f"SELECT {COLUMNS} FROM public.exercise WHERE id = $1 FOR UPDATE", exercise_id
    )
    if row is None:
        raise NotFound(f"no exercise {exercise_id}", field="id")
    if row["status"] != ExerciseStatus.ACTIVE:
        raise Conflict(f"exercise {exercise_id} is {row['status']}: cannot {doing} it")
    return row
