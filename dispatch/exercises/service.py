"""Exercises: create, list, reset and delete drill sandboxes.

An exercise's world is the PostgreSQL schema `ex_<id>`: a copy of every operational table
of `public` (accounts and their tokens, login throttling, idempotency keys, the exercises
themselves and Piccolo's migration table stay shared), with its own sequences, foreign keys and
append-only triggers, and with people's names, phone numbers and addresses pseudonymised.
A request naming the exercise (`X-Exercise: <id>`) runs with that schema first on its
transaction's `search_path`, so the same services change the copy and never the real
tables. Managing exercises is itself a real-world command, audited in the real trail.

ARCHITECTURE: `schemas` (bodies, views, the header), `records` (the exercise's row, its
schema, the real-world context), `sandbox` (copy, pseudonymise, drop a world), this
module (the commands and queries, and the hooks plays register), `scenario` (scenario
files), `replay/` (a scenario played on a simulated clock), `plays` (live drills, on top:
it registers its hooks here, so this module never imports it), `demo_drill` (the drill
`dispatch demo` serves with, on top of plays), `report` and `bench`.
"""

from __future__ import annotations

from collections.abc import Awaitable, Callable
from dataclasses import dataclass, field

import asyncpg

from dispatch.accounts.policy import Actor, authorize
from dispatch.db import Context, command, engine, query
from dispatch.errors import Conflict, InvalidInput, NotFound
from dispatch.exercises.records import (
    COLUMNS,
    exercise_of,
    exercise_view,
    locked_active,
    real_world,
    schema_of,
)
from dispatch.exercises.sandbox import (
    COPIED_EMPTY,
    NOT_COPIED,
    PSEUDONYMISE,
    copy_world,
    drop_world,
    one_snapshot,
)
from dispatch.exercises.schemas import (
    EXERCISE_HEADER_NAME,
    SCHEMA_PREFIX,
    ExerciseCreate,
    ExerciseStatus,
    ExerciseView,
    exercise_id_of,
)

__all__ = [
    "COLUMNS",
    "COPIED_EMPTY",
    "NOT_COPIED",
    "PSEUDONYMISE",
    "SCHEMA_PREFIX",
    "PlayingElsewhere",
    "StopPlay",
    "copy_world",
    "create_exercise",
    "delete_exercise",
    "exercise_of",
    "get_exercise",
    "list_exercises",
    "register_play_hooks",
    "reset_exercise",
    "resolve_exercise",
    "schema_of",
]

# --- hooks: what plays the exercise (registered by `plays`, which sits above this module) ---

StopPlay = Callable[[int], Awaitable[object]]
PlayingElsewhere = Callable[[asyncpg.Connection, int, str | None], Awaitable[str | None]]


@dataclass
class _PlayHooks:
    stop: list[StopPlay] = field(default_factory=list)
    playing_elsewhere: list[PlayingElsewhere] = field(default_factory=list)


_PLAY_HOOKS = _PlayHooks()


def register_play_hooks(*, stop: StopPlay, playing_elsewhere: PlayingElsewhere) -> None:
    """Deleting an exercise stops its play first (`stop`, waiting for it), and a reset is
    refused while `playing_elsewhere` names a play: `plays` registers both on import."""
    if stop not in _PLAY_HOOKS.stop:
        _PLAY_HOOKS.stop.append(stop)
    if playing_elsewhere not in _PLAY_HOOKS.playing_elsewhere:
        _PLAY_HOOKS.playing_elsewhere.append(playing_elsewhere)


async def _playing_elsewhere(
    conn: asyncpg.Connection, exercise_id: int, owner: str | None
) -> str | None:
    for hook in _PLAY_HOOKS.playing_elsewhere:
        busy = await hook(conn, exercise_id, owner)
        if busy is not None:
            return busy
    return None


# --- commands and queries ---------------------------------------------------------------------


async def create_exercise(ctx: Context, new: ExerciseCreate) -> ExerciseView:
    """A new drill or replay with a fresh copy of the world."""
    authorize(ctx.actor, "exercises.manage")
    async with command(real_world(ctx)) as cmd:
        await one_snapshot(cmd)
        exercise_id = await cmd.connection.fetchval(
            "SELECT nextval(pg_get_serial_sequence('public.exercise', 'id'))"
        )
        schema = schema_of(exercise_id)
        row = await cmd.connection.fetchrow(
            f"""
            INSERT INTO public.exercise
                (id, name, kind, schema_name, status, created_at, created_by, scenario, seed)
            VALUES ($1, $2, $3, $4, 'active', $5, $6, $7, $8)
            RETURNING {COLUMNS}
            """,
            exercise_id,
            new.name.strip(),
            new.kind.value,
            schema,
            cmd.now,
            ctx.actor.username,
            new.scenario,
            new.seed,
        )
        copied = await copy_world(cmd.connection, schema)
        after = {k: row[k] for k in ("name", "kind", "schema_name", "scenario", "seed")}
        after["tables"] = len(copied)
        await cmd.audit("exercises.create", "exercise", exercise_id, None, after)
        cmd.emit("exercise.created", {"id": exercise_id, "name": row["name"], "schema": schema})
    return exercise_view(row)


async def list_exercises(ctx: Context, status: ExerciseStatus | None = None) -> list[ExerciseView]:
    authorize(ctx.actor, "exercises.read")
    async with query(real_world(ctx)) as conn:
        rows = await conn.fetch(
            f"""
            SELECT {COLUMNS} FROM public.exercise
            WHERE $1::varchar IS NULL OR status = $1 ORDER BY id DESC
            """,
            status.value if status else None,
        )
    return [exercise_view(r) for r in rows]


async def get_exercise(ctx: Context, exercise_id: int) -> ExerciseView:
    authorize(ctx.actor, "exercises.read")
    async with query(real_world(ctx)) as conn:
        row = await conn.fetchrow(
            f"SELECT {COLUMNS} FROM public.exercise WHERE id = $1", exercise_id
        )
    if row is None:
        raise NotFound(f"no exercise {exercise_id}", field="id")
    return exercise_view(row)


async def reset_exercise(
    ctx: Context, exercise_id: int, play_owner: str | None = None
) -> ExerciseView:
    """Throw the exercise's world away and copy the real one again. Refused (409) while a
    play runs into it, anywhere: the world would go from under the play. The play itself
    resets it at each start, naming itself as `play_owner`."""
    authorize(ctx.actor, "exercises.manage")
    # asked before the copy's snapshot: waiting on the play's own reset inside it would
    # end in a serialisation failure rather than in this answer
    async with query(real_world(ctx)) as conn:
        busy = await _playing_elsewhere(conn, exercise_id, play_owner)
    if busy is not None:
        raise Conflict(
            f"exercise {exercise_id} is playing {busy}: stop the play before resetting "
            "it (DELETE /api/exercises/{id}/play)",
            field="id",
        )
    async with command(real_world(ctx)) as cmd:
        await one_snapshot(cmd)
        row = await locked_active(cmd, exercise_id, "reset")
        await drop_world(cmd.connection, row["schema_name"])
        copied = await copy_world(cmd.connection, row["schema_name"])
        updated = await cmd.connection.fetchrow(
            f"UPDATE public.exercise SET reset_at = $2 WHERE id = $1 RETURNING {COLUMNS}",
            exercise_id,
            cmd.now,
        )
        await cmd.audit(
            "exercises.reset",
            "exercise",
            exercise_id,
            {"reset_at": row["reset_at"]},
            {"reset_at": updated["reset_at"], "tables": len(copied)},
        )
        cmd.emit("exercise.reset", {"id": exercise_id, "schema": row["schema_name"]})
    return exercise_view(updated)


async def delete_exercise(ctx: Context, exercise_id: int) -> ExerciseView:
    """Drop the exercise's schema; the row stays, marked deleted, for the record. A play
    running into it (here or in another process) stops first: dropping a schema a play
    writes to would deadlock."""
    authorize(ctx.actor, "exercises.manage")
    for stop in _PLAY_HOOKS.stop:
        await stop(exercise_id)
    async with command(real_world(ctx)) as cmd:
        row = await locked_active(cmd, exercise_id, "delete")
        await drop_world(cmd.connection, row["schema_name"])
        updated = await cmd.connection.fetchrow(
            f"""
            UPDATE public.exercise SET status = 'deleted', deleted_at = $2
            WHERE id = $1 RETURNING {COLUMNS}
            """,
            exercise_id,
            cmd.now,
        )
        await cmd.audit(
            "exercises.delete",
            "exercise",
            exercise_id,
            {"status": row["status"], "schema_name": row["schema_name"]},
            {"status": updated["status"]},
        )
        cmd.emit("exercise.deleted", {"id": exercise_id, "schema": row["schema_name"]})
    return exercise_view(updated)


async def resolve_exercise(actor: Actor, header: str) -> str:
    """The schema an `X-Exercise` header names (`7` or `ex_7`): an active exercise the
    actor may work in; else 422 (malformed) or 404 (no such active exercise)."""
    exercise_id = exercise_id_of(header)
    if exercise_id is None:
        raise InvalidInput(
            f"{EXERCISE_HEADER_NAME} must be an exercise id (e.g. 7), not {header!r}",
            field=EXERCISE_HEADER_NAME,
        )
    authorize(actor, "exercises.join")
    async with engine().transaction() as txn:
        row = await txn.connection.fetchrow(
            "SELECT schema_name, status FROM public.exercise WHERE id = $1", exercise_id
        )
    if row is None:
        raise NotFound(
            f"{EXERCISE_HEADER_NAME}: no exercise {exercise_id}", field=EXERCISE_HEADER_NAME
        )
    if row["status"] != ExerciseStatus.ACTIVE:
        raise NotFound(
            f"{EXERCISE_HEADER_NAME}: exercise {exercise_id} is {row['status']}",
            field=EXERCISE_HEADER_NAME,
        )
    return str(row["schema_name"])
