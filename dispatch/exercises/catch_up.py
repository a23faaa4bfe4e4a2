"""Bringing an exercise sandbox made before a migration up to `public`'s shape.

A sandbox is a copy of `public` as it was when the exercise was created (or last reset).
A later migration that adds a table or a column to `public` does not reach it, and the
sandbox then reads past its own schema on the `search_path`: a drill made before the fleet
(migration 0012) found `public.vehicle` — the real fleet — when it asked for `vehicle`, and
one made before the runs (0014, 0015) failed on `plan.runs` or `task.vehicle_id`. Here the
missing parts are added to the sandbox as the copy would have made them:

- a table `public` has and the sandbox lacks is created like public's (columns, defaults,
  checks, indexes), **empty** — the drill was made without it, so it holds none of the real
  world's rows (a reset copies them) — with its own sequences, foreign keys into the
  sandbox, and triggers;
- a column it lacks on a table it has is added with public's type and default (NOT NULL
  where the default fills it or the table is empty), with public's checks, indexes and
  foreign keys that are missing by name.

Only additions: a sandbox is never narrowed, and nothing it holds is changed. Runs on the
caller's transaction (a migration's, or a test's).
"""

from __future__ import annotations

import asyncpg
from piccolo.apps.migrations.auto.migration_manager import MigrationManager

from dispatch.db import engine, execute_script
from dispatch.exercises.sandbox import (
    NOT_COPIED,
    _own_sequences,
    _read_catalogue,
    quote_ident,
)
from dispatch.exercises.schemas import SCHEMA_PREFIX

__all__ = [
    "COLUMNS_SQL",
    "CONSTRAINTS_SQL",
    "INDEXES_SQL",
    "TRIGGERS_SQL",
    "catch_up_all",
    "catch_up_in_migration",
    "catch_up_world",
    "index_key",
]

COLUMNS_SQL = """
    SELECT c.relname AS tbl, a.attname AS col, format_type(a.atttypid, a.atttypmod) AS type,
           a.attnotnull AS not_null, pg_get_expr(d.adbin, d.adrelid) AS default_expr
    FROM pg_attribute a
    JOIN pg_class c ON c.oid = a.attrelid
    JOIN pg_namespace n ON n.oid = c.relnamespace
    LEFT JOIN pg_attrdef d ON d.adrelid = a.attrelid AND d.adnum = a.attnum
    WHERE n.nspname = $1 AND c.relkind = 'r' AND a.attnum > 0 AND NOT a.attisdropped
    ORDER BY c.relname, a.attnum
"""
CONSTRAINTS_SQL = """
    SELECT c.relname AS tbl, k.conname AS name, k.contype::text AS kind,
           pg_get_constraintdef(k.oid) AS definition
    FROM pg_constraint k
    JOIN pg_class c ON c.oid = k.conrelid
    JOIN pg_namespace n ON n.oid = c.relnamespace
    WHERE n.nspname = $1 AND k.contype IN ('c', 'u', 'f')
    ORDER BY c.relname, k.contype, k.conname
"""
INDEXES_SQL = """
    SELECT tablename AS tbl, indexname AS name, indexdef AS definition
    FROM pg_indexes WHERE schemaname = $1 ORDER BY tablename, indexname
"""
TRIGGERS_SQL = """
    SELECT c.relname AS tbl, t.tgname AS name, pg_get_triggerdef(t.oid) AS definition
    FROM pg_trigger t
    JOIN pg_class c ON c.oid = t.tgrelid
    JOIN pg_namespace n ON n.oid = c.relnamespace
    WHERE n.nspname = $1 AND NOT t.tgisinternal
    ORDER BY c.relname, t.tgname
"""


async def _tables(conn: asyncpg.Connection, schema: str) -> set[str]:
    rows = await conn.fetch("SELECT tablename FROM pg_tables WHERE schemaname = $1", schema)
    return {r["tablename"] for r in rows}


async def _names(conn: asyncpg.Connection, statement: str, schema: str) -> set[tuple[str, str]]:
    """(table, name) of the sandbox's constraints, indexes or triggers."""
    return {(r["tbl"], r["name"]) for r in await conn.fetch(statement, schema)}


async def _add_tables(conn: asyncpg.Connection, s: str, missing: list[str]) -> None:
    """The tables the sandbox lacks, like public's, empty."""
    for table in missing:
        t = quote_ident(table)
        await conn.execute(f"CREATE TABLE {s}.{t} (LIKE public.{t} INCLUDING ALL)")


async def _add_columns(conn: asyncpg.Connection, schema: str, s: str, shared: set[str]) -> None:
    """Public's columns the sandbox's tables lack, with their type and default."""
    have = {(r["tbl"], r["col"]) for r in await conn.fetch(COLUMNS_SQL, schema)}
    for row in await conn.fetch(COLUMNS_SQL, "public"):
        if row["tbl"] not in shared or (row["tbl"], row["col"]) in have:
            continue
        t, c = quote_ident(row["tbl"]), quote_ident(row["col"])
        default = f" DEFAULT {row['default_expr']}" if row["default_expr"] else ""
        await conn.execute(f"ALTER TABLE {s}.{t} ADD COLUMN {c} {row['type']}{default}")
        empty = not await conn.fetchval(f"SELECT EXISTS (SELECT 1 FROM {s}.{t})")
        if row["not_null"] and (default or empty):
            await conn.execute(f"ALTER TABLE {s}.{t} ALTER COLUMN {c} SET NOT NULL")


def index_key(table: str, definition: str) -> tuple[str, str]:
    """An index by what it indexes: LIKE names a copied index anew (`vehicle_depot_idx`
    for public's `vehicle_depot`), so names do not match between the worlds."""
    return table, ("UNIQUE " if definition.startswith("CREATE UNIQUE") else "") + (
        definition.split(" USING ", 1)[-1]
    )


async def _add_constraints(
    conn: asyncpg.Connection,
    schema: str,
    shared: set[str],
    public: list[asyncpg.Record],
    kinds: tuple[str, ...],
) -> None:
    """Public's constraints of `kinds` the sandbox's tables lack: checks and foreign keys
    by name (the copy keeps their names), unique ones by definition (LIKE renames them).
    `public` was read while only public was visible, so its references are unqualified;
    the search_path now puts the sandbox first, so a reference names the sandbox's table."""
    have = await conn.fetch(CONSTRAINTS_SQL, schema)
    names = {(r["tbl"], r["name"]) for r in have}
    uniques = {(r["tbl"], r["definition"]) for r in have if r["kind"] == "u"}
    for row in public:
        if row["kind"] not in kinds or row["tbl"] not in shared:
            continue
        if row["kind"] == "u" and (row["tbl"], row["definition"]) in uniques:
            continue
        if row["kind"] != "u" and (row["tbl"], row["name"]) in names:
            continue
        valid = " NOT VALID" if row["kind"] == "f" else ""
        await conn.execute(
            f"ALTER TABLE {quote_ident(row['tbl'])} ADD CONSTRAINT {quote_ident(row['name'])} "
            f"{row['definition']}{valid}"
        )


async def _add_indexes(conn: asyncpg.Connection, schema: str, s: str, shared: set[str]) -> None:
    """Public's indexes the sandbox's older tables lack (compared by what they index)."""
    have = {index_key(r["tbl"], r["definition"]) for r in await conn.fetch(INDEXES_SQL, schema)}
    for row in await conn.fetch(INDEXES_SQL, "public"):
        key = index_key(row["tbl"], row["definition"])
        if row["tbl"] not in shared or key in have:
            continue
        on = f" ON public.{quote_ident(row['tbl'])} "
        if row["definition"].count(on) == 1:
            await conn.execute(row["definition"].replace(on, f" ON {s}.{quote_ident(row['tbl'])} "))
            have.add(key)


async def _add_triggers(conn: asyncpg.Connection, schema: str, s: str, tables: set[str]) -> None:
    """Public's triggers (append-only guards among them) the sandbox lacks by name."""
    have = await _names(conn, TRIGGERS_SQL, schema)
    for row in await conn.fetch(TRIGGERS_SQL, "public"):
        if row["tbl"] not in tables or (row["tbl"], row["name"]) in have:
            continue
        on = f" ON public.{quote_ident(row['tbl'])} "
        if row["definition"].count(on) != 1:
            raise RuntimeError(f"cannot copy trigger: {row['definition']}")
        await conn.execute(row["definition"].replace(on, f" ON {s}.{quote_ident(row['tbl'])} "))


async def catch_up_world(conn: asyncpg.Connection, schema: str) -> list[str]:
    """Add to `schema` what public gained since it was copied; returns the tables added."""
    if not schema.startswith(SCHEMA_PREFIX):
        raise ValueError(f"bad exercise schema {schema!r}")
    saved = await conn.fetchval("SELECT current_setting('search_path')")
    catalogue = await _read_catalogue(conn)  # sets search_path to public (locally)
    constraints = list(await conn.fetch(CONSTRAINTS_SQL, "public"))
    s = quote_ident(schema)
    existing = await _tables(conn, schema)
    missing = [t for t in catalogue.tables if t not in existing]
    shared = {t for t in catalogue.tables if t in existing}
    await _add_tables(conn, s, missing)
    await _own_sequences(conn, s, catalogue.serials, set(missing))
    await _add_columns(conn, schema, s, shared)
    await conn.execute(f"SET LOCAL search_path TO {s}, public")
    await _add_constraints(conn, schema, shared, constraints, ("c", "u"))
    await _add_indexes(conn, schema, s, shared)
    await _add_constraints(conn, schema, set(catalogue.tables), constraints, ("f",))
    await _add_triggers(conn, schema, s, set(catalogue.tables) - set(NOT_COPIED))
    await conn.execute("SELECT set_config('search_path', $1, true)", saved)
    return missing


async def catch_up_all(conn: asyncpg.Connection) -> dict[str, list[str]]:
    """Every exercise schema brought up to public's shape (a migration's step)."""
    schemas = await conn.fetch(
        "SELECT nspname FROM pg_namespace WHERE nspname LIKE $1 ORDER BY nspname",
        SCHEMA_PREFIX.replace("_", "\\_") + "%",
    )
    return {r["nspname"]: await catch_up_world(conn, r["nspname"]) for r in schemas}


async def catch_up_in_migration() -> None:
    """`catch_up_all` as a migration's raw step: in the migration's transaction when it
    runs in one (so a failure leaves the sandboxes as they were), else in its own."""
    db = engine()
    current = db.current_transaction.get()
    if current is not None:
        await catch_up_all(current.connection)
        return
    async with db.transaction() as txn:
        await catch_up_all(txn.connection)


def catching_up_migration(migration_id: str, description: str, sql: str) -> MigrationManager:
    """A migration that runs `sql` on public, then brings every exercise sandbox up to the
    new shape in the same step (new tables empty there; a reset copies them)."""

    async def apply() -> None:
        await execute_script(sql)
        await catch_up_in_migration()

    manager = MigrationManager(
        migration_id=migration_id, app_name="dispatch", description=description
    )
    manager.add_raw(apply)
    return manager
