"""Escalation on a fixed service clock: a call-out nobody acknowledges goes to the role's
deputy at 10:00, to the street squad leader at 20:00, and ends with nobody left at 30:00;
an acknowledgement at 9:59 stops it; a decline escalates at once; a role's own limit is
kept; sweeping twice, or twice at once, escalates once. Each escalation is audited and
announced on the live feed."""

from __future__ import annotations

import asyncio
from collections.abc import Iterator
from datetime import datetime, timedelta
from typing import Any

import pytest

from dispatch.accounts.policy import SYSTEM
from dispatch.clock import SHANGHAI, FixedClock
from dispatch.db import Context, Event, set_publisher
from dispatch.incidents.schemas import IncidentCreate, IncidentType, Level
from dispatch.incidents.service import declare_incident
from dispatch.preparedness.schemas import (
    CalloutState,
    HazardSpec,
    Holder,
    HolderKind,
    PlanCreate,
    RoleSpec,
)
from dispatch.preparedness.service import (
    answer_callout,
    approve_plan,
    create_plan,
    list_callouts,
    sweep,
)
from tests.dispatch.people.seed import ensure_district
from tests.dispatch.preparedness.helpers import (
    community_of,
    no_paired_units_called,
    people_of,
    plans_made_here,
    squad_leader,
)
from tests.support import run, sql

STREET = "110101005"
# a moment before this run's wall clock, so the call-outs other tests make are never due
T0 = datetime(2026, 6, 1, 10, 0, tzinfo=SHANGHAI)
MINUTE = timedelta(minutes=1)


@pytest.fixture(scope="module", autouse=True)
def _plans_superseded_after() -> Iterator[None]:
    yield from plans_made_here()


@pytest.fixture(scope="module", autouse=True)
def _roles_only() -> Iterator[None]:
    yield from no_paired_units_called(STREET)


@pytest.fixture(scope="module")
def staff() -> dict[str, int]:
    ensure_district()
    holder, deputy = people_of(STREET, 2)
    return {"holder": holder, "deputy": deputy, "leader": squad_leader(STREET)}


def _plan(community: str, staff: dict[str, int], ack_minutes: int | None = None) -> None:
    ctx = Context(SYSTEM, FixedClock(T0 - timedelta(days=1)))
    role = RoleSpec(
        "现场总指挥",
        Holder(HolderKind.PERSON, staff["holder"]),
        Holder(HolderKind.PERSON, staff["deputy"]),
        ack_minutes=ack_minutes,
    )
    body = PlanCreate(
        community, "升级测试预案", [HazardSpec(IncidentType.RAINSTORM, Level.IV)], [role]
    )
    run(approve_plan(ctx, run(create_plan(ctx, body)).id))


def _declare(community: str, at: datetime = T0) -> int:
    body = IncidentCreate(IncidentType.RAINSTORM, Level.III, "暴雨积水（升级测试）", [community])
    return run(declare_incident(Context(SYSTEM, FixedClock(at)), body)).id


def _steps(incident: int) -> list[dict[str, Any]]:
    return sql(
        "SELECT id, step, state, recipient_kind, recipient_id, person_id, escalated_from, "
        "origin_id, sent_at, due_at, answered_via FROM plan_callout WHERE incident=$1 "
        "ORDER BY id",
        incident,
    )


def _sweep(at: datetime) -> Any:
    return run(sweep(Context(SYSTEM, FixedClock(at))))


@pytest.fixture
def events() -> Iterator[list[Event]]:
    """The events published after each commit in this process (the live feed's input)."""
    seen: list[Event] = []

    async def keep(published: list[Event]) -> None:
        seen.extend(published)

    set_publisher(keep)
    yield seen
    set_publisher(None)


def test_unanswered_escalates_to_the_deputy_at_ten_then_the_squad_leader_at_twenty(
    staff: dict[str, int], events: list[Event]
) -> None:
    community = community_of(STREET, 0)
    _plan(community, staff)
    incident = _declare(community)
    [first] = _steps(incident)
    assert (first["step"], first["state"], first["person_id"]) == (0, "sent", staff["holder"])
    assert first["due_at"] == T0 + 10 * MINUTE

    _sweep(T0 + 10 * MINUTE - timedelta(seconds=1))
    assert len(_steps(incident)) == 1
    _sweep(T0 + 10 * MINUTE)
    holder, deputy = _steps(incident)
    assert (holder["state"], holder["answered_via"]) == ("no_answer", "sweep")
    assert (deputy["step"], deputy["recipient_kind"], deputy["recipient_id"]) == (
        1,
        "person",
        staff["deputy"],
    )
    assert deputy["escalated_from"] == deputy["origin_id"] == first["id"]
    assert (deputy["sent_at"], deputy["due_at"]) == (T0 + 10 * MINUTE, T0 + 20 * MINUTE)

    _sweep(T0 + 20 * MINUTE - timedelta(seconds=1))
    assert len(_steps(incident)) == 2
    _sweep(T0 + 20 * MINUTE)
    *_, leader = _steps(incident)
    assert (leader["step"], leader["person_id"], leader["escalated_from"]) == (
        2,
        staff["leader"],
        deputy["id"],
    )
    assert leader["origin_id"] == first["id"]

    report = _sweep(T0 + 30 * MINUTE)
    assert report.exhausted == [first["id"]] and not report.escalated
    assert [s["state"] for s in _steps(incident)] == ["no_answer"] * 3

    audits = sql(
        "SELECT action, entity_id FROM audit_entry WHERE entity='plan_callout' "
        "AND entity_id = ANY($1::text[]) AND action LIKE 'callouts.%' ORDER BY id",
        [str(s["id"]) for s in _steps(incident)],
    )
    assert [(a["action"], int(a["entity_id"])) for a in audits] == [
        ("callouts.escalate", first["id"]),
        ("callouts.escalate", deputy["id"]),
        ("callouts.exhausted", leader["id"]),
    ]
    mine = [e for e in events if e.data.get("incident") == incident and "callout." in e.kind]
    kinds = [e.kind for e in mine]
    assert kinds.count("callout.sent") == 3
    assert kinds.count("callout.escalated") == 2
    assert kinds.count("callout.exhausted") == 1
    assert [e.data["state"] for e in mine if e.kind == "callout.answered"] == ["no_answer"] * 3
    sent = [e for e in mine if e.kind == "callout.sent"]
    assert [e.person for e in sent] == [staff["holder"], staff["deputy"], staff["leader"]]
    assert all(e.street == STREET and e.community == community for e in mine)


def test_an_acknowledgement_at_nine_fifty_nine_stops_it(staff: dict[str, int]) -> None:
    community = community_of(STREET, 1)
    _plan(community, staff)
    incident = _declare(community)
    [first] = _steps(incident)
    at = Context(SYSTEM, FixedClock(T0 + 10 * MINUTE - MINUTE // 60))  # 9:59
    done = run(answer_callout(at, first["id"], CalloutState.ACKNOWLEDGED, eta_minutes=12))
    assert done.state is CalloutState.ACKNOWLEDGED and done.answered_by == "system"
    for minutes in (10, 20, 30, 60):
        _sweep(T0 + minutes * MINUTE)
    assert [(s["step"], s["state"]) for s in _steps(incident)] == [(0, "acknowledged")]


def test_a_decline_escalates_at_once_and_the_deputy_can_still_come(
    staff: dict[str, int],
) -> None:
    community = community_of(STREET, 2)
    _plan(community, staff)
    incident = _declare(community)
    [first] = _steps(incident)
    at = Context(SYSTEM, FixedClock(T0 + 2 * MINUTE))
    view = run(answer_callout(at, first["id"], CalloutState.DECLINED, reason="在外地出差"))
    assert view.state is CalloutState.DECLINED and view.escalated_at is not None
    _, deputy = _steps(incident)
    assert (deputy["step"], deputy["person_id"], deputy["sent_at"]) == (
        1,
        staff["deputy"],
        T0 + 2 * MINUTE,
    )
    later = Context(SYSTEM, FixedClock(T0 + 5 * MINUTE))
    run(answer_callout(later, deputy["id"], CalloutState.ACKNOWLEDGED, eta_minutes=20))
    _sweep(T0 + 60 * MINUTE)
    assert [s["state"] for s in _steps(incident)] == ["declined", "acknowledged"]
    board = [c for c in run(list_callouts(Context(SYSTEM, FixedClock(T0)), incident))]
    assert [(c.step, c.origin_id) for c in board] == [(0, first["id"]), (1, first["id"])]


def test_a_role_keeps_its_own_limit(staff: dict[str, int]) -> None:
    community = community_of(STREET, 3)
    _plan(community, staff, ack_minutes=3)
    incident = _declare(community)
    [first] = _steps(incident)
    assert first["due_at"] == T0 + 3 * MINUTE
    _sweep(T0 + 3 * MINUTE)
    steps = _steps(incident)
    assert [s["step"] for s in steps] == [0, 1]
    assert steps[1]["due_at"] == T0 + 6 * MINUTE


def test_sweeping_twice_or_concurrently_escalates_once(staff: dict[str, int]) -> None:
    community = community_of(STREET, 4)
    _plan(community, staff)
    incidents = [_declare(community) for _ in range(3)]
    at = T0 + 10 * MINUTE

    async def together() -> list[Any]:
        ctx = Context(SYSTEM, FixedClock(at))
        return list(await asyncio.gather(*(sweep(ctx) for _ in range(4))))

    reports = run(together())
    _sweep(at)
    _sweep(at + timedelta(seconds=30))
    made = [i for r in reports for i in r.escalated]
    assert len(made) == len(set(made))
    for incident in incidents:
        assert [(s["step"], s["state"]) for s in _steps(incident)] == [
            (0, "no_answer"),
            (1, "sent"),
        ]
    assert {s["id"] for incident in incidents for s in _steps(incident) if s["step"] == 1} <= set(
        made
    )


def test_a_stood_down_incident_escalates_no_more(staff: dict[str, int]) -> None:
    community = community_of(STREET, 5)
    _plan(community, staff)
    incident = _declare(community)
    sql("UPDATE incident SET status='stood_down' WHERE id=$1", incident)
    _sweep(T0 + 60 * MINUTE)
    assert [(s["step"], s["state"]) for s in _steps(incident)] == [(0, "sent")]
