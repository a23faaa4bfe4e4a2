"""A sandbox copied before migrations 0012 (the fleet), 0014 (plan runs) and 0015 (run
tasks) is brought to public's shape: the same tables, columns, keys, indexes and triggers a
fresh copy has, its new tables its own (not the real fleet through the search_path), and a
second catch-up, or one of a fresh copy, changes nothing."""

from __future__ import annotations

import os
from typing import Any

import asyncpg

from dispatch.exercises.catch_up import (
    COLUMNS_SQL,
    CONSTRAINTS_SQL,
    INDEXES_SQL,
    TRIGGERS_SQL,
    catch_up_world,
    index_key,
)
from dispatch.exercises.service import SCHEMA_PREFIX, copy_world
from tests.support import run

OLD = f"{SCHEMA_PREFIX}catch_up_old"
FRESH = f"{SCHEMA_PREFIX}catch_up_fresh"
# what those three migrations added, taken away again: the sandbox as it was before them
BEFORE_0012 = f"""
DROP TABLE {OLD}.task_stop, {OLD}.vehicle_crew, {OLD}.vehicle CASCADE;
ALTER TABLE {OLD}.plan DROP COLUMN runs;
ALTER TABLE {OLD}.task DROP COLUMN vehicle_id, DROP COLUMN depot;
ALTER TABLE {OLD}.stock_transfer DROP COLUMN stop_id;
"""


class _RollBack(Exception):
    """Leaves the database as it was."""


async def _shape(conn: asyncpg.Connection, schema: str) -> dict[str, Any]:
    """Everything the copy makes, with the schema's name taken out (and public's left in:
    a key into the real world would show)."""
    await conn.execute("SET LOCAL search_path TO pg_catalog")

    def plain(text: str) -> str:
        return text.replace(f"{schema}.", "")

    return {
        "columns": sorted(
            (r["tbl"], r["col"], r["type"], r["not_null"], plain(r["default_expr"] or ""))
            for r in await conn.fetch(COLUMNS_SQL, schema)
        ),
        "constraints": sorted(
            (r["tbl"], r["kind"], plain(r["definition"]))
            for r in await conn.fetch(CONSTRAINTS_SQL, schema)
        ),
        "indexes": sorted(
            index_key(r["tbl"], plain(r["definition"]))
            for r in await conn.fetch(INDEXES_SQL, schema)
        ),
        "triggers": sorted((r["tbl"], r["name"]) for r in await conn.fetch(TRIGGERS_SQL, schema)),
    }


async def _check() -> dict[str, Any]:
    conn = await asyncpg.connect(dsn=os.environ["DATABASE_URL"])
    seen: dict[str, Any] = {}
    try:
        async with conn.transaction(isolation="repeatable_read"):
            await copy_world(conn, FRESH)
            await copy_world(conn, OLD)
            await conn.execute(BEFORE_0012)
            seen["added"] = await catch_up_world(conn, OLD)
            seen["old"] = await _shape(conn, OLD)
            seen["fresh"] = await _shape(conn, FRESH)
            seen["again"] = await catch_up_world(conn, OLD)
            seen["old_again"] = await _shape(conn, OLD)
            seen["fresh_added"] = await catch_up_world(conn, FRESH)
            seen["fresh_again"] = await _shape(conn, FRESH)
            seen["real_vehicles"] = await conn.fetchval("SELECT count(*) FROM public.vehicle")
            await conn.execute(f"SET LOCAL search_path TO {OLD}, public")
            depot = await conn.fetchval("SELECT code FROM depot ORDER BY code LIMIT 1")
            seen["id"] = await conn.fetchval(
                "INSERT INTO vehicle (code, depot, kind, lane_class, payload_kg, volume_m3, "
                "crew_needed, source, created_at) "
                "VALUES ('VCATCHUP', $1, 'van', 'van', 800, 6, 2, 'entered', now()) RETURNING id",
                depot,
            )
            seen["sandbox_vehicles"] = await conn.fetchval(f"SELECT count(*) FROM {OLD}.vehicle")
            seen["real_after"] = await conn.fetchval("SELECT count(*) FROM public.vehicle")
            try:
                async with conn.transaction():
                    await conn.execute("UPDATE task SET vehicle_id = -1 WHERE false")
                    await conn.execute(
                        "INSERT INTO task_stop (task, seq, trip, community, street, eta_at, "
                        "depart_at, kg, m3) SELECT -1, 1, 1, code, street, now(), now(), 0, 0 "
                        "FROM community LIMIT 1"
                    )
                seen["orphan_stop"] = "accepted"
            except asyncpg.ForeignKeyViolationError:
                seen["orphan_stop"] = "refused"
            raise _RollBack
    except _RollBack:
        pass
    finally:
        await conn.close()
    return seen


def test_an_old_sandbox_gets_what_the_later_migrations_added() -> None:
    seen = run(_check())
    assert sorted(seen["added"]) == ["task_stop", "vehicle", "vehicle_crew"]
    for part in seen["fresh"]:
        old, fresh = set(seen["old"][part]), set(seen["fresh"][part])
        assert old == fresh, (part, sorted(old - fresh), sorted(fresh - old))
    # its new fleet is its own: written there, the real one untouched
    assert seen["id"] == 1
    assert seen["sandbox_vehicles"] == 1
    assert seen["real_after"] == seen["real_vehicles"]
    # the new table's keys point into the sandbox (no task -1 there)
    assert seen["orphan_stop"] == "refused"


def test_catching_up_twice_or_a_fresh_copy_changes_nothing() -> None:
    seen = run(_check())
    assert seen["again"] == []
    assert seen["old_again"] == seen["old"]
    assert seen["fresh_added"] == []
    assert seen["fresh_again"] == seen["fresh"]
