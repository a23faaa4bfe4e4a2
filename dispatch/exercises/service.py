"""Exercises: create, list, reset and delete drill sandboxes.

An exercise's world is the PostgreSQL schema `ex_<id>`: a copy of every operational table
of `public` (accounts and their tokens, login throttling, idempotency keys, the exercises
themselves and Piccolo's migration table stay shared), with its own sequences, foreign keys and
append-only triggers, and with people's names, phone numbers and addresses pseudonymised.
A request naming the exercise (`X-Exercise: <id>`) runs with that schema first on its
transaction's `search_path`, so the same services change the copy and never the real
tables. Managing exercises is itself a real-world command, audited in the real trail.
"""

from __future__ import annotations

import re

import asyncpg

from dispatch.accounts.policy import Actor, authorize
from dispatch.clock import local
from dispatch.db import Command, Context, command, engine, query
from dispatch.errors import Conflict, InvalidInput, NotFound
from dispatch.exercises.schemas import (
    EXERCISE_HEADER_NAME,
    SCHEMA_PREFIX,
    ExerciseCreate,
    ExerciseStatus,
    ExerciseView,
    exercise_id_of,
)

# shared by every world: who may log in (and their refresh tokens), throttling, idempotency
# keys, exercises and their plays, migrations
NOT_COPIED = frozenset(
    {
        "app_user",
        "login_failure",
        "refresh_token",
        "idempotency_record",
        "exercise",
        "exercise_play",
        "migration",
    }
)
# copied empty: a drill's audit trail and vehicle tracks are its own (the real ones name
# real people's actions and where real crews drove)
COPIED_EMPTY = frozenset({"audit_entry", "task_position"})
_IDENT = re.compile(r"^[a-z_][a-z0-9_]{0,62}$")

# people data in the copy: deterministic stand-ins (phones start with 100: no real number does)
PSEUDONYMISE = {
    "person": """
        UPDATE person SET name = '演练人员' || lpad(id::text, 4, '0'),
            phone = CASE WHEN phone IS NULL THEN NULL ELSE '1000' || lpad(id::text, 7, '0') END,
            address = NULL
    """,
    "care_household": """
        UPDATE care_household SET head_name = '演练住户' || lpad(id::text, 4, '0'),
            phone = CASE WHEN phone IS NULL THEN NULL ELSE '1001' || lpad(id::text, 7, '0') END,
            address = NULL
    """,
    "partner_unit": """
        UPDATE partner_unit SET
            contact_name = CASE WHEN contact_name IS NULL THEN NULL
                                ELSE '联系人' || lpad(id::text, 4, '0') END,
            contact_phone = CASE WHEN contact_phone IS NULL THEN NULL
                                 ELSE '1002' || lpad(id::text, 7, '0') END
    """,
}

COLUMNS = (
    "id, name, kind, schema_name, status, created_at, created_by, scenario, seed, "
    "reset_at, deleted_at"
)


def schema_of(exercise_id: int) -> str:
    return f"{SCHEMA_PREFIX}{exercise_id}"


def exercise_of(schema: str) -> int:
    """The exercise whose world is this schema (`ex_7` is exercise 7)."""
    return int(schema.removeprefix(SCHEMA_PREFIX))


def _q(name: str) -> str:
    """An identifier from the catalogue, quoted unless plainly safe."""
    if _IDENT.match(name):
        return name
    return '"' + name.replace('"', '""') + '"'


def _view(row: asyncpg.Record) -> ExerciseView:
    data = dict(row)
    for key in ("created_at", "reset_at", "deleted_at"):
        data[key] = local(data[key])
    return ExerciseView(**data, header=f"{EXERCISE_HEADER_NAME}: {row['id']}")


def _real(ctx: Context) -> Context:
    """Exercises are managed in the real world whatever header the request carried."""
    return Context(ctx.actor, ctx.clock, None)


# --- the sandbox copy ----------------------------------------------------------------------


async def copy_world(conn: asyncpg.Connection, schema: str) -> dict[str, int]:
    """Create `schema` holding a copy of the operational tables; returns rows per table.

    Runs on the caller's transaction, which should be REPEATABLE READ so that every table
    is copied from one snapshot (the copied foreign keys then hold without re-checking).
    """
    if not _IDENT.match(schema) or not schema.startswith(SCHEMA_PREFIX):
        raise ValueError(f"bad exercise schema {schema!r}")
    saved = await conn.fetchval("SELECT current_setting('search_path')")
    # read definitions while only public is visible: their names come out unqualified
    await conn.execute("SET LOCAL search_path TO public")
    tables = [
        r["tablename"]
        for r in await conn.fetch(
            "SELECT tablename FROM pg_tables WHERE schemaname = 'public' ORDER BY tablename"
        )
        if r["tablename"] not in NOT_COPIED
    ]
    serials = await conn.fetch(
        """
        SELECT r.relname AS tbl, a.attname AS col, a.attidentity::text <> '' AS identity
        FROM pg_attribute a
        JOIN pg_class r ON r.oid = a.attrelid
        JOIN pg_namespace n ON n.oid = r.relnamespace
        WHERE n.nspname = 'public' AND r.relkind = 'r' AND a.attnum > 0
          AND NOT a.attisdropped
          AND pg_get_serial_sequence(r.oid::regclass::text, a.attname) IS NOT NULL
        ORDER BY 1, 2
        """
    )
    foreign_keys = await conn.fetch(
        """
        SELECT r.relname AS tbl, c.conname AS name, pg_get_constraintdef(c.oid) AS definition
        FROM pg_constraint c
        JOIN pg_class r ON r.oid = c.conrelid
        JOIN pg_namespace n ON n.oid = r.relnamespace
        WHERE n.nspname = 'public' AND c.contype = 'f'
        ORDER BY 1, 2
        """
    )
    triggers = await conn.fetch(
        """
        SELECT r.relname AS tbl, pg_get_triggerdef(t.oid) AS definition
        FROM pg_trigger t
        JOIN pg_class r ON r.oid = t.tgrelid
        JOIN pg_namespace n ON n.oid = r.relnamespace
        WHERE n.nspname = 'public' AND NOT t.tgisinternal
        ORDER BY 1, t.tgname
        """
    )
    views = await conn.fetch(
        """
        SELECT c.relname AS name, c.relkind AS kind, pg_get_viewdef(c.oid) AS definition
        FROM pg_class c JOIN pg_namespace n ON n.oid = c.relnamespace
        WHERE n.nspname = 'public' AND c.relkind IN ('v', 'm')
        ORDER BY c.oid
        """
    )
    copied = set(tables)
    s = _q(schema)
    await conn.execute(f"CREATE SCHEMA {s}")
    rows: dict[str, int] = {}
    for table in tables:
        t = _q(table)
        await conn.execute(f"CREATE TABLE {s}.{t} (LIKE public.{t} INCLUDING ALL)")
        if table in COPIED_EMPTY:
            rows[table] = 0
            continue
        status = await conn.execute(
            f"INSERT INTO {s}.{t} OVERRIDING SYSTEM VALUE SELECT * FROM public.{t}"
        )
        rows[table] = int(status.split()[-1])
    for row in serials:
        if row["tbl"] not in copied:
            continue
        t, c = _q(row["tbl"]), _q(row["col"])
        if not row["identity"]:
            # serial: the copied default still names public's sequence; give the copy its own
            sequence = _q(f"{row['tbl']}_{row['col']}_seq"[:63])
            await conn.execute(f"CREATE SEQUENCE {s}.{sequence} OWNED BY {s}.{t}.{c}")
            await conn.execute(
                f"ALTER TABLE {s}.{t} ALTER COLUMN {c} "
                f"SET DEFAULT nextval('{s}.{sequence}'::regclass)"
            )
        own = await conn.fetchval("SELECT pg_get_serial_sequence($1, $2)", f"{s}.{t}", row["col"])
        await conn.execute(
            f"SELECT setval($1::regclass, coalesce((SELECT max({c}) FROM {s}.{t}), 0) + 1, false)",
            own,
        )
    await conn.execute(f"SET LOCAL search_path TO {s}, public")
    for row in foreign_keys:
        if row["tbl"] in copied:
            await conn.execute(
                f"ALTER TABLE {_q(row['tbl'])} ADD CONSTRAINT {_q(row['name'])} "
                f"{row['definition']} NOT VALID"
            )
    for row in triggers:
        if row["tbl"] in copied:
            # pg_get_triggerdef names its table with the schema whatever the search_path
            on = f" ON public.{_q(row['tbl'])} "
            if row["definition"].count(on) != 1:
                raise RuntimeError(f"cannot copy trigger: {row['definition']}")
            await conn.execute(row["definition"].replace(on, f" ON {s}.{_q(row['tbl'])} "))
    for row in views:  # a view left in public would read the real tables
        kind = "MATERIALIZED VIEW" if row["kind"] in (b"m", "m") else "VIEW"
        await conn.execute(f"CREATE {kind} {s}.{_q(row['name'])} AS {row['definition']}")
    for table, statement in PSEUDONYMISE.items():
        if table in copied:
            await conn.execute(statement)
    await conn.execute("SELECT set_config('search_path', $1, true)", saved)
    return rows


async def _drop_world(conn: asyncpg.Connection, schema: str) -> None:
    if not _IDENT.match(schema) or not schema.startswith(SCHEMA_PREFIX):
        raise ValueError(f"bad exercise schema {schema!r}")
    await conn.execute(f"DROP SCHEMA IF EXISTS {_q(schema)} CASCADE")


async def _one_snapshot(cmd: Command) -> None:
    """The copy reads every table at one moment: the transaction's first statement, unless
    the request's unit of work began as one snapshot already (the route's `snapshot` opt)."""
    if cmd.unit is not None:
        isolation = await cmd.connection.fetchval("SELECT current_setting('transaction_isolation')")
        if isolation != "repeatable read":
            raise RuntimeError("a keyed request copying the world needs opt={'snapshot': True}")
        return
    await cmd.connection.execute("SET TRANSACTION ISOLATION LEVEL REPEATABLE READ")


# --- commands and queries ---------------------------------------------------------------------


async def create_exercise(ctx: Context, new: ExerciseCreate) -> ExerciseView:
    """A new drill or replay with a fresh copy of the world."""
    authorize(ctx.actor, "exercises.manage")
    async with command(_real(ctx)) as cmd:
        await _one_snapshot(cmd)
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
    return _view(row)


async def list_exercises(ctx: Context, status: ExerciseStatus | None = None) -> list[ExerciseView]:
    authorize(ctx.actor, "exercises.read")
    async with query(_real(ctx)) as conn:
        rows = await conn.fetch(
            f"""
            SELECT {COLUMNS} FROM public.exercise
            WHERE $1::varchar IS NULL OR status = $1 ORDER BY id DESC
            """,
            status.value if status else None,
        )
    return [_view(r) for r in rows]


async def get_exercise(ctx: Context, exercise_id: int) -> ExerciseView:
    authorize(ctx.actor, "exercises.read")
    async with query(_real(ctx)) as conn:
        row = await conn.fetchrow(
            f"SELECT {COLUMNS} FROM public.exercise WHERE id = $1", exercise_id
        )
    if row is None:
        raise NotFound(f"no exercise {exercise_id}", field="id")
    return _view(row)


async def _locked_active(cmd: Command, exercise_id: int, doing: str) -> asyncpg.Record:
    row = await cmd.connection.fetchrow(
        f"SELECT {COLUMNS} FROM public.exercise WHERE id = $1 FOR UPDATE", exercise_id
    )
    if row is None:
        raise NotFound(f"no exercise {exercise_id}", field="id")
    if row["status"] != ExerciseStatus.ACTIVE:
        raise Conflict(f"exercise {exercise_id} is {row['status']}: cannot {doing} it")
    return row


async def reset_exercise(
    ctx: Context, exercise_id: int, play_owner: str | None = None
) -> ExerciseView:
    """Throw the exercise's world away and copy the real one again. Refused (409) while a
    play runs into it, anywhere: the world would go from under the play. The play itself
    resets it at each start, naming itself as `play_owner`."""
    from dispatch.exercises.plays import playing_elsewhere

    authorize(ctx.actor, "exercises.manage")
    # asked before the copy's snapshot: waiting on the play's own reset inside it would
    # end in a serialisation failure rather than in this answer
    async with query(_real(ctx)) as conn:
        busy = await playing_elsewhere(conn, exercise_id, play_owner)
    if busy is not None:
        raise Conflict(
            f"exercise {exercise_id} is playing {busy}: stop the play before resetting "
            "it (DELETE /api/exercises/{id}/play)",
            field="id",
        )
    async with command(_real(ctx)) as cmd:
        await _one_snapshot(cmd)
        row = await _locked_active(cmd, exercise_id, "reset")
        await _drop_world(cmd.connection, row["schema_name"])
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
    return _view(updated)


async def delete_exercise(ctx: Context, exercise_id: int) -> ExerciseView:
    """Drop the exercise's schema; the row stays, marked deleted, for the record. A play
    running into it (here or in another process) stops first: dropping a schema a play
    writes to would deadlock."""
    from dispatch.exercises.plays import stop_play

    authorize(ctx.actor, "exercises.manage")
    await stop_play(exercise_id)
    async with command(_real(ctx)) as cmd:
        row = await _locked_active(cmd, exercise_id, "delete")
        await _drop_world(cmd.connection, row["schema_name"])
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
    return _view(updated)


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
