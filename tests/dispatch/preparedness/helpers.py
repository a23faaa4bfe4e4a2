"""Seeding shelters and plans for preparedness tests, through the API or the services."""

from __future__ import annotations

import uuid
from collections.abc import Iterator
from typing import Any

import httpx

from tests.dispatch.people.seed import ensure_district
from tests.support import sql


def community_of(street: str, offset: int = 0) -> str:
    rows = sql("SELECT code FROM community WHERE street=$1 ORDER BY code", street)
    return str(rows[offset % len(rows)]["code"])


def shelter(
    http: httpx.Client,
    community: str,
    lat: float,
    lon: float,
    capacity: int = 10,
    status: str = "ready",
) -> dict[str, Any]:
    body = {
        "code": f"T{uuid.uuid4().hex[:12]}",
        "name": f"测试安置点{uuid.uuid4().int % 10**4:04d}",
        "community": community,
        "lat": lat,
        "lon": lon,
        "capacity": capacity,
        "status": status,
    }
    made = http.post("/api/shelters", json=body)
    assert made.status_code == 201, made.text
    return dict(made.json())


def plans_made_here() -> Iterator[None]:
    """Around a module: the plans it approved are superseded at its end, so incidents other
    tests declare in the same communities start no plan of ours."""
    start = sql("SELECT coalesce(max(id), 0) AS i FROM community_plan")[0]["i"]
    yield
    sql(
        "UPDATE community_plan SET status='superseded', superseded_at=now() "
        "WHERE id > $1 AND status='approved'",
        start,
    )


def squad_leader(street: str) -> int:
    """The person the last step of a call-out goes to: the leader of the street's squad."""
    rows = sql(
        "SELECT t.leader_id FROM team t JOIN person p ON p.id = t.leader_id AND p.active "
        "WHERE t.kind = 'street_squad' AND t.street = $1 ORDER BY t.id LIMIT 1",
        street,
    )
    assert rows and rows[0]["leader_id"], f"street {street} has no squad leader"
    return int(rows[0]["leader_id"])


def people_of(street: str, n: int) -> list[int]:
    """`n` active people of the street, none of them its squad leader, with a phone."""
    rows = sql(
        "SELECT id FROM person WHERE active AND street=$1 AND phone IS NOT NULL AND id <> $2 "
        "ORDER BY id LIMIT $3",
        street,
        squad_leader(street),
        n,
    )
    assert len(rows) == n
    return [int(r["id"]) for r in rows]


def no_paired_units_called(street: str) -> Iterator[None]:
    """Around a module about one role's call-out: the street's pairings pledge no people
    while it runs, so activation calls out the plan's roles only (a paired unit pledging
    people is called out beside them: `test_plan_parts`); restored afterwards."""
    ensure_district()
    saved = sql("SELECT id, pledged_people FROM pairing WHERE street=$1", street)
    sql("UPDATE pairing SET pledged_people = 0 WHERE street=$1", street)
    try:
        yield
    finally:
        for row in saved:
            sql(
                "UPDATE pairing SET pledged_people=$2 WHERE id=$1", row["id"], row["pledged_people"]
            )
