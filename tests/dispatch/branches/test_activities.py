"""Community activities against a real server: capacity holds under concurrent sign-ups,
a person signs up once, attendance hours appear in the person's, branch's and street's
totals, and who may act is checked (another street's leader, a volunteer who is not the
organiser). The hours rule itself is checked against a model (Hypothesis) and on a fixed
clock (a person never checked out counts to the end, once the activity is over)."""

from __future__ import annotations

import threading
import uuid
from concurrent.futures import ThreadPoolExecutor
from datetime import UTC, date, datetime, timedelta
from pathlib import Path
from typing import Any

import httpx
import pytest
import yaml
from hypothesis import given, settings
from hypothesis import strategies as st

from dispatch.accounts.policy import SYSTEM, Role
from dispatch.branches import service
from dispatch.branches.activities import ATTENDED_HOURS
from dispatch.branches.schemas import (
    ActivityCreate,
    ActivityKind,
    AttendanceMark,
    ReportBy,
    SignupCreate,
)
from dispatch.clock import SHANGHAI, FixedClock
from dispatch.db import Context
from tests.dispatch.branches.helpers import HOME, OTHER, community_of, free_members, make_branch
from tests.support import client, create_user, run, sql

INPUT_ERRORS = {
    "activities.out_before_in",
    "activities.future",
    "activities.outside_time",
    "activities.times",
    "activities.organiser_needed",
    "activities.no_person_linked",
}
ERRORS = Path(__file__).resolve().parents[3] / "dispatch" / "web" / "messages" / "errors.yaml"
MESSAGES = yaml.safe_load(ERRORS.read_text(encoding="utf-8"))


def resident(community: str, name: str = "测试居民") -> int:
    """An active person living in the community, with a synthetic phone (which no answer
    may show whole: the run's leak scan reads every response)."""
    from dispatch.people.schemas import PersonCreate, PersonKind
    from dispatch.people.service import create_person
    from tests.support import system_context

    body = PersonCreate(
        code=f"P{uuid.uuid4().hex[:10]}",
        name=name,
        kind=PersonKind.SQUAD_MEMBER,
        phone="100" + str(uuid.uuid4().int)[:8],
        community=community,
    )
    return run(create_person(system_context(), body)).id


def iso(moment: datetime) -> str:
    return moment.astimezone(SHANGHAI).isoformat()


def activity_body(community: str, **extra: Any) -> dict[str, Any]:
    now = datetime.now(UTC)
    return {
        "community": community,
        "title": "周末卫生大扫除",
        "kind": "clean_up",
        "starts_at": iso(now + timedelta(hours=1)),
        "ends_at": iso(now + timedelta(hours=3)),
        "place": "居委会门前",
        "capacity": 10,
        **extra,
    }


def make_activity(http: httpx.Client, community: str, **extra: Any) -> dict[str, Any]:
    """An activity organised by a new resident unless told."""
    extra.setdefault("organiser_id", resident(community, "组织人"))
    made = http.post("/api/activities", json=activity_body(community, **extra))
    assert made.status_code == 201, made.text
    body: dict[str, Any] = made.json()
    return body


def in_force(activity: int) -> int:
    rows = sql(
        "SELECT count(*) AS n FROM activity_signup WHERE activity_id=$1 AND cancelled_at IS NULL",
        activity,
    )
    return int(rows[0]["n"])


def counted(activity: int) -> int:
    return int(sql("SELECT signed_up FROM activity WHERE id=$1", activity)[0]["signed_up"])


def test_capacity_holds_under_concurrent_signups(server: str, commander: str) -> None:
    """Twelve people race for five places, each from their own client at the same moment:
    five get one, seven are told it is full, and the count says five."""
    community = community_of(HOME)
    people = [resident(community) for _ in range(12)]
    with client(server, commander) as http:
        activity = make_activity(http, community, capacity=5)
    clients = [client(server, commander) for _ in people]
    start = threading.Barrier(len(people))

    def sign(pair: tuple[httpx.Client, int]) -> httpx.Response:
        http, person = pair
        start.wait()
        return http.post(f"/api/activities/{activity['id']}/signups", json={"person_id": person})

    try:
        with ThreadPoolExecutor(len(people)) as pool:
            answers = list(pool.map(sign, zip(clients, people, strict=True)))
    finally:
        for http in clients:
            http.close()
    statuses = sorted(a.status_code for a in answers)
    assert statuses == [201] * 5 + [409] * 7, [a.text for a in answers]
    assert {a.json()["code"] for a in answers if a.status_code == 409} == {"activities.full"}
    assert in_force(activity["id"]) == counted(activity["id"]) == 5


def test_a_person_signs_up_once(server: str, commander: str) -> None:
    community = community_of(HOME)
    person = resident(community, "报名一次")
    volunteer = create_user(Role.VOLUNTEER, community=community, person=person)
    with client(server, commander) as http:
        activity = make_activity(http, community)
    path = f"/api/activities/{activity['id']}/signups"
    with client(server, volunteer) as http:
        listed = http.get("/api/activities", params={"community": community}).json()
        assert activity["id"] in [a["id"] for a in listed]
        first = http.post(path, json={}, headers={"Idempotency-Key": "once-" + uuid.uuid4().hex})
        assert first.status_code == 201, first.text
        assert first.json()["status"] == "signed_up" and first.json()["person_id"] == person
        again = http.post(path, json={})
        resent = http.post(
            path, json={}, headers={"Idempotency-Key": first.request.headers["Idempotency-Key"]}
        )
        mine = http.get(f"/api/activities/{activity['id']}").json()
    assert again.status_code == 409 and again.json()["code"] == "activities.signed_up"
    assert again.json()["params"]["person"] == "报名一次"
    assert resent.status_code == 201 and resent.json() == first.json()  # the stored answer
    assert mine["mine"] == "signed_up" and mine["signed_up"] == 1
    assert in_force(activity["id"]) == counted(activity["id"]) == 1
    # two sign-ups of the same person at the same moment: one place taken
    other = resident(community)
    together = threading.Barrier(2)

    def sign(_: int) -> int:
        with client(server, commander) as http:
            together.wait()
            return http.post(path, json={"person_id": other}).status_code

    with ThreadPoolExecutor(2) as pool:
        assert sorted(pool.map(sign, range(2))) == [201, 409]
    assert in_force(activity["id"]) == counted(activity["id"]) == 2
    # cancelled, the place is free again, and the person may sign up anew
    with client(server, volunteer) as http:
        cancelled = http.post(f"{path}/{person}/cancel")
        assert cancelled.status_code == 200 and cancelled.json()["status"] == "cancelled"
        twice = http.post(f"{path}/{person}/cancel")
        assert twice.status_code == 409 and twice.json()["code"] == "activities.not_signed_up"
        assert counted(activity["id"]) == 1
        assert http.post(path, json={}).status_code == 201
    assert in_force(activity["id"]) == counted(activity["id"]) == 2
    audits = sql(
        "SELECT action FROM audit_entry WHERE entity='activity_signup' AND actor=$1",
        volunteer,
    )
    assert sorted(a["action"] for a in audits) == [
        "activity.cancel_signup",
        "activity.signup",
        "activity.signup",
    ]


def _report(http: httpx.Client, by: str, days: tuple[str, str]) -> dict[str | None, Any]:
    answer = http.get(
        "/api/branches/reports", params={"by": by, "date_from": days[0], "date_to": days[1]}
    )
    assert answer.status_code == 200, answer.text
    body = answer.json()
    return {r["key"]: r for r in body["rows"]} | {"*": body["total"]}


def _activity_hours(rows: dict[str | None, Any], key: str | None) -> float:
    return float(rows[key]["activity_hours"]) if key in rows else 0.0


def test_attendance_hours_appear_in_the_persons_branchs_and_streets_totals(
    server: str, commander: str
) -> None:
    """Two members of a branch attend a clean-up its organiser (a volunteer) checks them in
    and out of: 1.5 and 0.5 hours, in the person's, branch's, street's and community's
    totals, beside the hours from tasks and visits."""
    members = free_members(HOME, 2)
    codes = [sql("SELECT code FROM person WHERE id=$1", m)[0]["code"] for m in members]
    community = community_of(HOME)
    organiser = resident(community, "活动组织人")
    volunteer = create_user(Role.VOLUNTEER, community=community, person=organiser)
    now = datetime.now(UTC).replace(microsecond=0)
    starts = now - timedelta(hours=3)
    today = now.astimezone(SHANGHAI).date()
    days = ((today - timedelta(days=1)).isoformat(), today.isoformat())
    with client(server, commander) as http:
        branch = make_branch(http, members)
        activity = make_activity(
            http,
            community,
            starts_at=iso(starts),
            ends_at=iso(now + timedelta(hours=1)),
            organiser_id=organiser,
        )
        assert activity["organiser_name"] == "活动组织人"
        before = {by: _report(http, by, days) for by in ("person", "branch", "street")}
        path = f"/api/activities/{activity['id']}/signups"
        for member in members:
            assert http.post(path, json={"person_id": member}).status_code == 201
    with client(server, volunteer) as http:
        listed = http.get(path).json()
        assert [p["person_id"] for p in listed] == members
        view = http.get(f"/api/activities/{activity['id']}").json()
        assert view["takes_attendance"] is True and view["mine"] is None
        marks = [(members[0], 0, 90), (members[1], 30, 60)]  # minutes after the start
        for member, came, left in marks:
            came_at = {"at": iso(starts + timedelta(minutes=came))}
            left_at = {"at": iso(starts + timedelta(minutes=left))}
            came_in = http.post(f"{path}/{member}/check-in", json=came_at)
            assert came_in.status_code == 200, came_in.text
            assert came_in.json()["status"] == "checked_in"
            gone = http.post(f"{path}/{member}/check-out", json=left_at)
            assert gone.status_code == 200, gone.text
            assert gone.json()["status"] == "checked_out"
        assert [p["hours"] for p in http.get(path).json()] == [1.5, 0.5]
    with client(server, commander) as http:
        after = {by: _report(http, by, days) for by in ("person", "branch", "street")}
    for code, hours in zip(codes, (1.5, 0.5), strict=True):
        gained = _activity_hours(after["person"], code) - _activity_hours(before["person"], code)
        assert gained == hours
    row = after["branch"][branch["code"]]
    assert row["activity_hours"] == 2.0 and row["activities"] == 1 and row["people"] == 2
    assert row["hours"] == row["task_hours"] + row["visit_hours"] + row["activity_hours"]
    street = _activity_hours(after["street"], HOME) - _activity_hours(before["street"], HOME)
    assert street == 2.0
    total = after["street"][HOME]["hours"] - before["street"].get(HOME, {"hours": 0})["hours"]
    assert total == 2.0


def test_refusals_name_the_reason(server: str, commander: str) -> None:
    community = community_of(HOME)
    person = resident(community, "拒绝原因")
    now = datetime.now(UTC)
    running = {"starts_at": iso(now - timedelta(hours=1)), "ends_at": iso(now + timedelta(hours=1))}
    with client(server, commander) as http:
        activity = make_activity(http, community, capacity=1, **running)
        path = f"/api/activities/{activity['id']}/signups"
        refused = {
            "activities.not_signed_up": http.post(f"{path}/{person}/check-in", json={}),
        }
        assert http.post(path, json={"person_id": person}).status_code == 201
        refused["activities.not_checked_in"] = http.post(f"{path}/{person}/check-out", json={})
        refused["activities.full"] = http.post(path, json={"person_id": resident(community)})
        assert http.post(f"{path}/{person}/check-in", json={}).status_code == 200
        refused["activities.checked_in"] = http.post(f"{path}/{person}/check-in", json={})
        refused["activities.attended"] = http.post(f"{path}/{person}/cancel")
        refused["activities.out_before_in"] = http.post(
            f"{path}/{person}/check-out", json={"at": iso(now - timedelta(minutes=10))}
        )
        refused["activities.future"] = http.post(
            f"{path}/{person}/check-out", json={"at": iso(now + timedelta(hours=1))}
        )
        later = make_activity(
            http,
            community,
            starts_at=iso(now + timedelta(hours=3)),
            ends_at=iso(now + timedelta(hours=5)),
        )
        assert (
            http.post(
                f"/api/activities/{later['id']}/signups", json={"person_id": person}
            ).status_code
            == 201
        )
        refused["activities.outside_time"] = http.post(
            f"/api/activities/{later['id']}/signups/{person}/check-in", json={}
        )
        refused["activities.times"] = http.post(
            "/api/activities",
            json=activity_body(community, organiser_id=person, ends_at=activity["starts_at"]),
        )
        refused["activities.organiser_needed"] = http.post(
            "/api/activities", json=activity_body(community)
        )
        refused["activities.no_person_linked"] = http.post(path, json={})
        unknown = http.post(
            "/api/activities", json=activity_body(community, organiser_id=person, kind="party")
        )
    for code, answer in refused.items():
        assert answer.json().get("code") == code, answer.text
        assert answer.status_code == (422 if code in INPUT_ERRORS else 409), answer.text
        assert f"error.{code}" in MESSAGES
    assert refused["activities.full"].json()["params"] == {
        "field": "activity_id",
        "activity": "周末卫生大扫除",
        "capacity": 1,
    }
    assert refused["activities.times"].json()["field"] == "ends_at"
    assert unknown.status_code == 400 and "kind" in unknown.text


def test_scope_another_streets_leader_and_a_volunteer_who_is_not_the_organiser(
    server: str, commander: str, leader: str, other_leader: str
) -> None:
    community = community_of(HOME)
    person = resident(community)
    volunteer = create_user(Role.VOLUNTEER, community=community, person=resident(community))
    with client(server, leader) as http:
        activity = make_activity(http, community, organiser_id=person)
        path = f"/api/activities/{activity['id']}/signups"
        assert http.post(path, json={"person_id": person}).status_code == 201
    audit_before = sql("SELECT count(*) AS n FROM audit_entry")[0]["n"]
    with client(server, other_leader) as http:
        refused = [
            http.post("/api/activities", json=activity_body(community, organiser_id=person)),
            http.post(path, json={"person_id": person}),
            http.post(f"{path}/{person}/cancel"),
            http.post(f"{path}/{person}/check-in", json={}),
            http.post(f"{path}/{person}/check-out", json={}),
            http.get(path),
            http.get(f"/api/activities/{activity['id']}"),
            http.get("/api/activities", params={"street": HOME}),
        ]
        own = http.get("/api/activities").json()
    assert [r.status_code for r in refused] == [403] * len(refused), [r.text for r in refused]
    assert {r.json()["code"] for r in refused} == {"forbidden.scope"}
    assert {a["street"] for a in own} <= {OTHER}
    with client(server, volunteer) as http:  # a neighbour, not the organiser
        listed = http.get("/api/activities").json()
        seen = next(a for a in listed if a["id"] == activity["id"])
        assert seen["takes_attendance"] is False
        assert http.post(f"{path}/{person}/check-in", json={}).status_code == 403
        assert http.get(path).status_code == 403
        assert http.post(path, json={"person_id": person}).status_code == 403
        assert http.post(f"{path}/{person}/cancel").status_code == 403
    assert sql("SELECT count(*) AS n FROM audit_entry")[0]["n"] == audit_before


# --- the hours rule -------------------------------------------------------------------

HOURS_SQL = f"""
    SELECT ({ATTENDED_HOURS.format(now="$5")})::float8 AS hours
    FROM (SELECT $1::timestamptz AS starts_at, $2::timestamptz AS ends_at) a,
         (SELECT $3::timestamptz AS checked_in_at, $4::timestamptz AS checked_out_at) x
"""
BASE = datetime(2026, 6, 6, 9, 0, tzinfo=SHANGHAI)
minutes = st.integers(min_value=-120, max_value=600)


@settings(max_examples=40, deadline=None)
@given(length=st.integers(1, 24 * 60), came=minutes, stayed=st.integers(0, 600), now=minutes)
def test_hours_are_the_attended_time_inside_the_activity(
    length: int, came: int, stayed: int, now: int
) -> None:
    """Check-in to check-out, both clipped to the activity's time; never negative, never
    more than the activity lasts."""
    starts, ends = BASE, BASE + timedelta(minutes=length)
    came_in = BASE + timedelta(minutes=came)
    left = came_in + timedelta(minutes=stayed)
    at = BASE + timedelta(minutes=now)
    hours = sql(HOURS_SQL, starts, ends, came_in, left, at)[0]["hours"]
    overlap = (min(left, ends) - max(came_in, starts)).total_seconds() / 3600
    assert hours == pytest.approx(max(0.0, overlap))
    assert 0.0 <= hours <= length / 60 + 1e-9
    open_ended = sql(HOURS_SQL, starts, ends, came_in, None, at)[0]["hours"]
    if at < ends:
        assert open_ended == 0.0  # still under way: nothing counted yet
    else:
        assert open_ended == pytest.approx(
            max(0.0, (ends - max(came_in, starts)).total_seconds() / 3600)
        )


def test_someone_never_checked_out_counts_to_the_end_once_it_is_over() -> None:
    """On a fixed clock: checked in at the start and never out, a person counts nothing
    while the activity runs and its whole length once it has ended."""
    community = community_of(OTHER)
    person = resident(community)
    clock = FixedClock(datetime(2024, 7, 6, 8, 0, tzinfo=SHANGHAI))
    ctx = Context(SYSTEM, clock)
    new = ActivityCreate(
        community=community,
        title="夜间治安巡逻",
        kind=ActivityKind.PATROL,
        starts_at=datetime(2024, 7, 6, 20, 0, tzinfo=SHANGHAI),
        ends_at=datetime(2024, 7, 6, 22, 0, tzinfo=SHANGHAI),
        place="警务室门前",
        capacity=4,
        organiser_id=person,
    )
    activity = run(service.create_activity(ctx, new))
    run(service.sign_up(ctx, activity.id, SignupCreate(person_id=person)))
    clock.set(datetime(2024, 7, 6, 20, 5, tzinfo=SHANGHAI))
    run(service.check_in(ctx, activity.id, person, AttendanceMark()))
    day = date(2024, 7, 6)

    def hours() -> float:
        report = run(service.service_report(ctx, ReportBy.STREET, day, day))
        row = next((r for r in report.rows if r.key == OTHER), None)
        return row.activity_hours if row else 0.0

    running = hours()
    clock.set(datetime(2024, 7, 6, 23, 0, tzinfo=SHANGHAI))
    assert hours() == pytest.approx(running + 115 / 60, abs=0.01)
    listed = run(service.list_signups(ctx, activity.id))
    assert [(s.person_id, s.status.value, s.hours) for s in listed] == [
        (person, "checked_in", round(115 / 60, 2))
    ]
