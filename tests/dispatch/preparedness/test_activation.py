"""Activation: declaring an incident where an approved plan answers it creates the plan's
tasks, opens its shelters and writes one activation per community, audited once, all in
the declaring command's transaction (a failure leaves nothing)."""

from __future__ import annotations

import uuid
from collections.abc import Iterator
from typing import Any

import pytest
from hypothesis import given
from hypothesis import strategies as st

from dispatch.errors import Conflict
from dispatch.incidents.schemas import IncidentCreate, IncidentType, Level
from dispatch.incidents.service import declare_incident
from dispatch.preparedness import activation
from dispatch.preparedness.callouts import PAIRED_ROLE
from dispatch.preparedness.demo import TASKS
from dispatch.preparedness.schemas import (
    CalloutState,
    HazardSpec,
    Holder,
    HolderKind,
    PlanCreate,
    RoleSpec,
    ShelterCreate,
)
from dispatch.preparedness.service import (
    answer_callout,
    answers,
    approve_plan,
    create_plan,
    create_shelter,
    list_callouts,
)
from tests.dispatch.incidents.helpers import incident
from tests.dispatch.people.seed import ensure_district
from tests.dispatch.preparedness.helpers import community_of, plans_made_here
from tests.support import run, sql, system_context

STREET = "110101010"
RANK = {Level.IV: 1, Level.III: 2, Level.II: 3, Level.I: 4}


@given(st.sampled_from(list(Level)), st.sampled_from(list(Level)))
def test_a_plan_answers_its_level_and_graver(min_level: Level, level: Level) -> None:
    assert answers(min_level, level) == (RANK[level] >= RANK[min_level])


def _demo_like_plan(community: str, hazards: list[HazardSpec]) -> tuple[int, int]:
    """A shelter (ready) and an approved plan like the demo's: (plan id, shelter id)."""
    ctx = system_context()
    place = sql("SELECT lat, lon FROM community WHERE code=$1", community)[0]
    body = ShelterCreate(
        code=f"T{uuid.uuid4().hex[:12]}",
        name="测试安置点",
        community=community,
        lat=place["lat"],
        lon=place["lon"],
        capacity=100,
    )
    shelter = run(create_shelter(ctx, body))
    squad = sql("SELECT min(id) AS i FROM team WHERE kind='street_squad' AND street=$1", STREET)
    person = sql("SELECT min(id) AS i FROM person WHERE active AND street=$1", STREET)
    roles = [
        RoleSpec(
            "抢险救援组",
            Holder(HolderKind.STREET_SQUAD, squad[0]["i"]),
            Holder(HolderKind.PERSON, person[0]["i"]),
        )
    ]
    plan = PlanCreate(community, "测试预案", hazards, roles, [shelter.id], list(TASKS))
    made = run(create_plan(ctx, plan))
    run(approve_plan(ctx, made.id))
    return made.id, shelter.id


@pytest.fixture(scope="module", autouse=True)
def _plans_superseded_after() -> Iterator[None]:
    yield from plans_made_here()


@pytest.fixture(scope="module")
def planned() -> dict[str, tuple[int, int]]:
    """Three communities with rainstorm plans, a fourth whose plan is for fires only."""
    ensure_district()
    rain = [HazardSpec(IncidentType.RAINSTORM, Level.IV), HazardSpec(IncidentType.FIRE, Level.III)]
    made = {
        community_of(STREET, i): _demo_like_plan(community_of(STREET, i), rain) for i in range(3)
    }
    fire_only = community_of(STREET, 3)
    made[fire_only] = _demo_like_plan(fire_only, [HazardSpec(IncidentType.FIRE, Level.III)])
    return made


def _counts() -> dict[str, Any]:
    row = sql(
        "SELECT (SELECT count(*) FROM incident) AS incidents, (SELECT count(*) FROM task) AS tasks,"
        " (SELECT count(*) FROM plan_activation) AS activations, "
        "(SELECT count(*) FROM audit_entry WHERE action='preparedness.activate') AS audits, "
        "(SELECT count(*) FROM plan_callout) AS callouts"
    )[0]
    return dict(row)


def test_a_rainstorm_at_level_three_starts_the_three_communities_plans(
    planned: dict[str, tuple[int, int]],
) -> None:
    communities = sorted(planned)
    incident_id = incident(communities, level="III", kind="rainstorm")
    tasks = sql("SELECT id, community, kind FROM task WHERE incident=$1 ORDER BY id", incident_id)
    activations = sql(
        "SELECT * FROM plan_activation WHERE incident=$1 ORDER BY community", incident_id
    )
    rain = [c for c in communities if c != community_of(STREET, 3)]
    assert [a["community"] for a in activations] == rain
    for row in activations:
        plan_id, shelter_id = planned[row["community"]]
        assert row["plan_id"] == plan_id and list(row["shelters"]) == [shelter_id]
        own = [t for t in tasks if t["community"] == row["community"]]
        assert sorted(t["id"] for t in own) == sorted(row["tasks"])
        assert sorted(t["kind"] for t in own) == sorted(t.kind.value for t in TASKS)
        status = sql("SELECT status FROM shelter WHERE id=$1", shelter_id)[0]["status"]
        assert status == "open"
    assert not [t for t in tasks if t["community"] == community_of(STREET, 3)]
    fire_shelter = planned[community_of(STREET, 3)][1]
    assert sql("SELECT status FROM shelter WHERE id=$1", fire_shelter)[0]["status"] == "ready"
    audits = sql(
        "SELECT after FROM audit_entry WHERE action='preparedness.activate' AND entity='incident' "
        "AND entity_id=$1",
        str(incident_id),
    )
    assert len(audits) == 1


def test_a_plan_for_graver_incidents_is_not_started_by_a_lesser_one(
    planned: dict[str, tuple[int, int]],
) -> None:
    fire_only = community_of(STREET, 3)
    incident_id = incident([fire_only], level="IV", kind="fire")
    assert not sql("SELECT 1 FROM plan_activation WHERE incident=$1", incident_id)
    assert not sql("SELECT 1 FROM task WHERE incident=$1", incident_id)


def test_a_failure_in_activation_leaves_no_incident_task_or_activation(
    planned: dict[str, tuple[int, int]], monkeypatch: pytest.MonkeyPatch
) -> None:
    communities = sorted(planned)
    for _, shelter_id in planned.values():  # back to ready, to see nothing opens
        sql("UPDATE shelter SET status='ready' WHERE id=$1 AND occupancy=0", shelter_id)
    before = _counts()
    calls: list[int] = []

    async def broken(*args: Any, **kwargs: Any) -> int:
        calls.append(1)
        if len(calls) == 2:  # the first community's activation is already written
            raise RuntimeError("forced failure in activation")
        return await original(*args, **kwargs)

    original = activation.record_activation
    monkeypatch.setattr(activation, "record_activation", broken)
    title = f"强降雨 {uuid.uuid4().hex[:8]}"
    body = IncidentCreate(IncidentType.RAINSTORM, Level.III, title, communities)
    with pytest.raises(RuntimeError, match="forced failure"):
        run(declare_incident(system_context(), body))
    assert len(calls) == 2
    assert not sql("SELECT 1 FROM incident WHERE title=$1", title)
    assert _counts() == before
    for _, shelter_id in planned.values():
        assert sql("SELECT status FROM shelter WHERE id=$1", shelter_id)[0]["status"] == "ready"


def test_activation_calls_out_each_role_and_an_answer_is_recorded_once(
    planned: dict[str, tuple[int, int]],
) -> None:
    communities = sorted(c for c in planned if c != community_of(STREET, 3))
    incident_id = incident(communities, level="II", kind="rainstorm")
    ctx = system_context()
    board = run(list_callouts(ctx, incident_id))
    roles = sql(
        "SELECT p.community, count(*) AS n FROM plan_role r JOIN community_plan p "
        "ON p.id = r.plan_id WHERE p.id = ANY($1::int[]) GROUP BY p.community",
        [planned[c][0] for c in communities],
    )
    paired = sql(
        "SELECT DISTINCT community, unit_id FROM pairing WHERE community = ANY($1::varchar[]) "
        "AND status='active' AND pledged_people > 0 AND valid_from <= current_date "
        "AND valid_until >= current_date",
        communities,
    )
    # each role's holder, and each unit whose pairing pledges people (no role names one)
    assert sorted((c.community, c.role) for c in board) == sorted(
        [(r["community"], "抢险救援组") for r in roles for _ in range(r["n"])]
        + [(r["community"], PAIRED_ROLE) for r in paired]
    )
    assert {c.state for c in board} == {CalloutState.SENT}
    assert {c.recipient.kind.value for c in board if c.role != PAIRED_ROLE} == {"street_squad"}
    assert {c.recipient.kind.value for c in board if c.role == PAIRED_ROLE} <= {"unit"}
    first = board[0]
    done = run(answer_callout(ctx, first.id, CalloutState.ACKNOWLEDGED, eta_minutes=15))
    assert done.state is CalloutState.ACKNOWLEDGED and done.eta_minutes == 15
    with pytest.raises(Conflict) as refused:
        run(answer_callout(ctx, first.id, CalloutState.DECLINED, reason="不能到场"))
    assert refused.value.code == "callout.answered"
    row = sql("SELECT state, eta_minutes FROM plan_callout WHERE id=$1", first.id)[0]
    assert (row["state"], row["eta_minutes"]) == ("acknowledged", 15)
