"""The sandbox copy must not depend on the planner's join order: after a long test run (many
exercise schemas) PostgreSQL once evaluated the serial-column filter on every catalogue
table before keeping public's, and an unqualified `information_schema` name then failed
(`relation "sql_features" does not exist`: a 500 on POST /api/exercises)."""

from __future__ import annotations

import os

import asyncpg

from dispatch.exercises.service import SCHEMA_PREFIX, copy_world
from tests.support import run


class _RollBack(Exception):
    """Leaves the database as it was: the copy is only made to see that it can be."""


async def _copy_with_joins_in_written_order() -> dict[str, int]:
    conn = await asyncpg.connect(dsn=os.environ["DATABASE_URL"])
    copied: dict[str, int] = {}
    try:
        async with conn.transaction(isolation="repeatable_read"):
            # joins done as written: the catalogue filter meets every relation of every schema
            await conn.execute("SET LOCAL join_collapse_limit = 1")
            copied = await copy_world(conn, f"{SCHEMA_PREFIX}join_order_check")
            raise _RollBack
    except _RollBack:
        pass
    finally:
        await conn.close()
    return copied


def test_the_copy_holds_whatever_the_join_order() -> None:
    copied = run(_copy_with_joins_in_written_order())
    assert "community" in copied and copied["community"] > 0
