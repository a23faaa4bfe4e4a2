"""Seeding incidents, requests, stock and people through the services, for incident tests."""

from __future__ import annotations

import uuid
from typing import Any

from dispatch.incidents.schemas import (
    IncidentCreate,
    IncidentType,
    Level,
    RequestCreate,
    TaskCreate,
    TaskKind,
)
from dispatch.incidents.service import create_request, create_task, declare_incident
from tests.support import run, sql, system_context


def community_of(street: str, offset: int = 0) -> str:
    rows = sql("SELECT code FROM community WHERE street=$1 ORDER BY code", street)
    return str(rows[offset % len(rows)]["code"])


def incident(communities: list[str], level: str = "III", kind: str = "rainstorm") -> int:
    body = IncidentCreate(
        type=IncidentType(kind),
        level=Level(level),
        title=f"测试事件 {uuid.uuid4().int % 10**6:06d}",
        communities=communities,
    )
    return run(declare_incident(system_context(), body)).id


def request(incident_id: int, community: str, item: str = "WATER", qty: int = 5) -> int:
    body = RequestCreate(community=community, item=item, quantity=qty)
    return run(create_request(system_context(), incident_id, body)).id


def task(incident_id: int, community: str, kind: str = "guard", people: int = 1) -> dict[str, Any]:
    body = TaskCreate(kind=TaskKind(kind), community=community, people=people, minutes=30)
    view = run(create_task(system_context(), incident_id, body))
    return {"id": view.id, "version": view.version}


def stock(depot: str, item: str, qty: int, expires: str | None = "2099-12-31") -> None:
    from datetime import date

    from dispatch.stock.schemas import ReceiptCreate, ReceiptLine
    from dispatch.stock.service import receive

    line = ReceiptLine(
        item=item,
        lot=f"T{uuid.uuid4().hex[:8]}",
        qty=qty,
        expires_on=date.fromisoformat(expires) if expires else None,
    )
    run(receive(system_context(), ReceiptCreate(depot=depot, lines=[line])))


def person(street: str, skills: list[str] | None = None) -> int:
    from dispatch.people.schemas import PersonCreate, PersonKind
    from dispatch.people.service import create_person

    body = PersonCreate(
        code=f"P{uuid.uuid4().hex[:10]}",
        name="测试队员",
        kind=PersonKind.SQUAD_MEMBER,
        street=street,
        skills=skills or ["driving"],
    )
    return run(create_person(system_context(), body)).id


def planned_request(
    boss: Any, community: str, item: str, qty: int, kind: str, level: str, title: str
) -> tuple[dict[str, Any], dict[str, Any], dict[str, Any]]:
    """Through the API (``boss``, a commander's client): an incident for ``community``,
    one request of ``qty`` ``item`` there, and the plan computed for it, as answered."""
    incident = boss.post(
        "/api/incidents",
        json={"type": kind, "level": level, "title": title, "communities": [community]},
    ).json()
    request = boss.post(
        f"/api/incidents/{incident['id']}/requests",
        json={"community": community, "item": item, "quantity": qty},
    ).json()
    plan = boss.post(f"/api/incidents/{incident['id']}/plans", json={}).json()
    return incident, request, plan


def crewed_van(http: Any, street: str) -> dict[str, Any]:
    """Through the API (``http``, a commander's client): a van of the street's depot crewed
    by a driver and a second person of the street. Retire it (``retire_van``) when done, so
    later tests planning from that depot do not find it."""
    from tests.support import unique

    driver, mate = person(street, ["driving"]), person(street, ["first_aid"])
    made = http.post(
        "/api/fleet/vehicles",
        json={"code": unique("VAN")[:20], "depot": f"D{street}", "kind": "van", "crew_needed": 2},
    )
    assert made.status_code == 201, made.text
    for who, role in ((driver, "driver"), (mate, "crew")):
        crewed = http.post(
            f"/api/fleet/vehicles/{made.json()['id']}/crew", json={"person_id": who, "role": role}
        )
        assert crewed.status_code == 200, crewed.text
    return {"id": made.json()["id"], "code": made.json()["code"], "crew": [driver, mate]}


def retire_van(http: Any, van: dict[str, Any]) -> None:
    """Retire the van; a run it is still on (a test that stopped half-way) is failed first,
    which returns its stock and frees it, since a vehicle on a run is not retired."""
    retired = http.delete(f"/api/fleet/vehicles/{van['id']}")
    if retired.status_code == 409 and retired.json()["code"] == "fleet.on_run":
        task = http.get(f"/api/tasks/{retired.json()['params']['task']}").json()
        failed = http.post(
            f"/api/tasks/{task['id']}/fail",
            json={"version": task["version"], "reason": "测试结束"},
        )
        assert failed.status_code == 200, failed.text
        retired = http.delete(f"/api/fleet/vehicles/{van['id']}")
    assert retired.status_code == 200, retired.text
