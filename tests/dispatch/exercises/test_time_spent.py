"""The bench replay's statement clock: every statement of the pool's connections is
counted under its kind, and its seconds summed."""

from __future__ import annotations

import pytest

from dispatch.db import engine, start_pool
from dispatch.exercises.time_spent import StatementClock, kind_of
from tests.support import run


@pytest.mark.parametrize(
    ("query", "kind"),
    [
        ("COMMIT;", "commit"),
        ("BEGIN;", "transaction"),
        ("SET TRANSACTION READ ONLY; SET LOCAL search_path TO ex_1, public", "transaction"),
        ("SAVEPOINT request", "transaction"),
        ("ROLLBACK TO SAVEPOINT request", "transaction"),
        ("  select * from task where id=$1", "read"),
        ("WITH hours AS (SELECT 1) SELECT * FROM hours", "read"),
        ("WITH taken AS (UPDATE stock_balance SET qty = qty - 1 RETURNING lot) SELECT 1", "write"),
        ("INSERT INTO audit_entry (at) VALUES (now())", "write"),
        ("delete from task_assignee where task=$1", "write"),
        ("", "read"),
    ],
)
def test_statements_are_told_apart_by_their_first_word(query: str, kind: str) -> None:
    assert kind_of(query) == kind


async def _three_transactions(clock: StatementClock) -> None:
    db = engine()
    await start_pool(min_size=1, max_size=2, init=clock.attach)
    try:
        for n in range(3):
            async with db.transaction() as txn:
                assert await txn.connection.fetchval("SELECT $1::int + 1", n) == n + 1
                await txn.connection.execute("SET LOCAL search_path TO public")
    finally:
        await db.close_connection_pool()


def test_the_clock_counts_each_statement_of_the_pool_once() -> None:
    clock = StatementClock()
    run(_three_transactions(clock))
    assert clock.count["commit"] == 3
    assert clock.count["read"] == 3
    assert clock.count["transaction"] == 6  # BEGIN and SET LOCAL in each
    assert clock.total_seconds > 0
    assert clock.line().startswith("statements 12 in ")
