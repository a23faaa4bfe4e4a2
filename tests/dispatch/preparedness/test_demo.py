"""`dispatch demo` seeds an approved plan for each of the 169 communities and one or two
shelters per street, from the synthetic people, squads, teams and pairings: run as a user
runs it, on a database of its own (its plans would start on other tests' incidents)."""

from __future__ import annotations

import asyncio
import os
import re
import subprocess
import sys
from collections.abc import Iterator
from typing import Any

import asyncpg
import pytest

from dispatch.db import create_database, drop_database

NAME = f"{os.environ.get('DISPATCH_TEST_DB', 'dispatch_test')}_demo"


@pytest.fixture(scope="module")
def demo_db() -> Iterator[str]:
    server = os.environ["DISPATCH_TEST_SERVER_URL"]
    url = asyncio.run(create_database(server, NAME, drop_first=True))
    try:
        yield url
    finally:
        asyncio.run(drop_database(server, NAME))


async def _fetch(url: str, statement: str) -> list[dict[str, Any]]:
    conn = await asyncpg.connect(dsn=url)
    try:
        return [dict(r) for r in await conn.fetch(statement)]
    finally:
        await conn.close()


def test_demo_prints_and_seeds_plans_for_every_community(demo_db: str) -> None:
    env = {**os.environ, "DATABASE_URL": demo_db, "DISPATCH_DEMO_DRILL": ""}
    done = subprocess.run(
        [sys.executable, "-m", "dispatch.cli", "demo", "--no-serve"],
        env=env,
        capture_output=True,
        text=True,
        timeout=600,
        check=False,
    )
    assert done.returncode == 0, done.stdout[-2000:] + done.stderr[-2000:]
    found = re.search(
        r"preparedness \(illustrative\): plans (\d+)/(\d+) communities, shelters (\d+)", done.stdout
    )
    assert found, done.stdout[-2000:]
    assert found.group(1) == found.group(2) == "169"
    assert 17 <= int(found.group(3)) <= 34
    plans = asyncio.run(
        _fetch(
            demo_db,
            "SELECT p.id, p.street, p.status, "
            "(SELECT count(*) FROM plan_role r WHERE r.plan_id=p.id) AS roles, "
            "(SELECT count(*) FROM plan_task t WHERE t.plan_id=p.id) AS tasks, "
            "(SELECT array_agg(s.street) FROM plan_shelter ps JOIN shelter s "
            " ON s.id=ps.shelter_id WHERE ps.plan_id=p.id) AS shelter_streets, "
            "(SELECT array_agg(h.type) FROM plan_hazard h WHERE h.plan_id=p.id) AS hazards "
            "FROM community_plan p",
        )
    )
    assert len(plans) == 169 and {p["status"] for p in plans} == {"approved"}
    for plan in plans:
        assert plan["roles"] >= 1 and plan["tasks"] == 3
        assert plan["shelter_streets"] == [plan["street"]]  # its own street's shelter
        assert "rainstorm" in plan["hazards"]
    again = subprocess.run(
        [sys.executable, "-m", "dispatch.cli", "demo", "--no-serve"],
        env=env,
        capture_output=True,
        text=True,
        timeout=600,
        check=False,
    )
    said = " ".join(again.stdout.split())  # the console may wrap a long line
    assert "plans 169/169 communities" in said and "held data already" in said
