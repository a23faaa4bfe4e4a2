"""12345 tickets against a real server: a call received and placed from its address, the
lifecycle to the caller's rating and close, every illegal step refused (409), stale
versions 412, scope (403 naming the rule), the phone masked in every answer (the run-wide
scan in tests/conftest.py reads every response these clients get) and revealed, audited."""

from __future__ import annotations

import uuid
from datetime import UTC, datetime, timedelta
from typing import Any

import pytest

from dispatch.accounts.policy import Role
from dispatch.db import Event, set_publisher
from dispatch.hotline import service
from tests.dispatch.hotline.helpers import HOME, HOME_COMMUNITY, OTHER, URL, make, phone, step
from tests.dispatch.incidents.helpers import incident, request
from tests.support import client, create_user, run, sql, system_context

# the tickets of this run's last hours (the lists' other tests are far off in time)
RECENT = {"received_from": (datetime.now(UTC) - timedelta(hours=4)).isoformat(), "limit": 1000}


@pytest.fixture(scope="module")
def commander() -> str:
    return create_user(Role.COMMANDER)


@pytest.fixture(scope="module")
def leader() -> str:
    return create_user(Role.STREET_LEADER, street=HOME)


@pytest.fixture(scope="module")
def other_leader() -> str:
    return create_user(Role.STREET_LEADER, street=OTHER)


@pytest.fixture(scope="module")
def worker() -> str:
    return create_user(Role.COMMUNITY_WORKER, community=HOME_COMMUNITY)


def _audits(ticket: int) -> list[str]:
    rows = sql(
        "SELECT action FROM audit_entry WHERE entity='hotline_ticket' AND entity_id=$1 ORDER BY id",
        str(ticket),
    )
    return [r["action"] for r in rows]


def test_create_assign_start_reply_rate_close(server: str, commander: str, leader: str) -> None:
    caller = phone()
    with client(server, commander) as district, client(server, leader) as street:
        made = make(district, caller_phone=caller, number="12345-2026-0001")
        assert made["number"] == "12345-2026-0001" and made["status"] == "received"
        assert made["caller_phone"] == f"{caller[:3]}****{caller[-4:]}"
        assert (made["community_name"], made["street_name"]) == ("多福巷社区", "东华门街道")
        assert made["place_source"] == "address"
        assigned = step(district, made, "assign", street=HOME)
        assert assigned["status"] == "assigned" and assigned["community"] is None
        started = step(street, assigned, "start", note="已电话联系来电人")
        assert started["response"]["state"] == "met" and started["responded_at"]
        replied = step(
            street, started, "reply", channel="phone", content="已送去饮用水两箱，来电人已收到"
        )
        assert replied["replied_by"] == leader and replied["reply_channel"] == "phone"
        assert replied["resolution"]["state"] == "met"
        step(street, replied, "rate", 403, rating="satisfied", solved=True)  # not the street's
        rated = step(district, replied, "rate", rating="basically_satisfied", solved=True)
        assert (rated["rating"], rated["solved"], rated["status"]) == (
            "basically_satisfied",
            True,
            "replied",
        )
        closed = step(district, rated, "close")
        assert closed["status"] == "closed" and closed["version"] == 6
        trail = street.get(f"{URL}/{made['id']}/steps").json()
        assert [s["step"] for s in trail] == ["create", "assign", "start", "reply", "rate", "close"]
    assert _audits(made["id"]) == [
        "hotline.create",
        "hotline.assign",
        "hotline.start",
        "hotline.reply",
        "hotline.rate",
        "hotline.close",
    ]
    kept = sql(
        "SELECT after FROM audit_entry WHERE entity='hotline_ticket' AND entity_id=$1",
        str(made["id"]),
    )
    assert all(caller not in str(r["after"]) for r in kept)  # the audit keeps it masked


def test_every_illegal_step_is_refused(server: str, commander: str) -> None:
    with client(server, commander) as http:
        made = make(http)
        for name, body in [
            ("start", {}),
            ("reply", {"channel": "sms", "content": "x"}),
            ("rate", {"rating": "satisfied", "solved": True}),
            ("close", {}),
            ("return", {"reason": "不属本区"}),
        ]:
            refused = step(http, made, name, 409, **body)
            assert refused["code"] == "hotline.illegal_step", refused
            assert refused["params"]["status"] == "received"
        assigned = step(http, made, "assign", community=HOME_COMMUNITY)
        started = step(http, assigned, "start")
        replied = step(http, started, "reply", channel="visit", content="已上门处理")
        refused = step(http, replied, "close", 409)
        assert refused["code"] == "hotline.not_rated"
        rated = step(http, replied, "rate", rating="dissatisfied", solved=False)
        again = step(http, rated, "rate", 409, rating="satisfied", solved=True)
        assert again["code"] == "hotline.rated_already"
        closed = step(http, rated, "close")
        for name, body in [
            ("assign", {"street": HOME}),
            ("start", {}),
            ("return", {"reason": "x"}),
        ]:
            assert step(http, closed, name, 409, **body)["code"] == "hotline.illegal_step"


def test_stale_version_is_412(server: str, commander: str) -> None:
    with client(server, commander) as http:
        made = make(http)
        step(http, made, "assign", street=HOME)
        stale = step(http, made, "assign", 412, street=OTHER)  # built on version 1
        assert stale["code"] == "stale_version" and stale["current_version"] == 2
        edit = http.patch(f"{URL}/{made['id']}", json={"version": 1, "content": "x"})
        assert edit.status_code == 412, edit.text
        assert http.get(f"{URL}/{made['id']}").json()["street"] == HOME


def test_returned_goes_back_to_the_district(
    server: str, commander: str, leader: str, other_leader: str
) -> None:
    with client(server, commander) as district, client(server, leader) as street:
        made = make(district)
        assigned = step(district, made, "assign", street=HOME)
        refused = step(street, assigned, "return", 400)  # the reason is needed
        assert refused["field"] == "reason"
        back = step(street, assigned, "return", reason="地址属朝阳区，非本街道管辖")
        assert back["status"] == "returned" and back["street"] is None
        assert back["return_reason"] == "地址属朝阳区，非本街道管辖"
        assert street.get(f"{URL}/{made['id']}").status_code == 403  # left the street's list
        ids = [t["id"] for t in street.get(URL, params=RECENT).json()]
        assert made["id"] not in ids
        again = step(district, back, "assign", street=OTHER)
        assert again["status"] == "assigned" and again["street_name"] == "景山街道"
    with client(server, other_leader) as other:
        assert other.get(f"{URL}/{made['id']}").status_code == 200


def test_scope_refusals_name_the_rule(
    server: str, commander: str, leader: str, other_leader: str, worker: str
) -> None:
    with client(server, commander) as district:
        ours = step(district, make(district), "assign", street=HOME)
        theirs = step(district, make(district, address="景山街道 某胡同"), "assign", street=OTHER)
        in_worker = step(district, make(district), "assign", community=HOME_COMMUNITY)
    with client(server, leader) as street:
        refused = street.get(f"{URL}/{theirs['id']}")
        assert refused.status_code == 403
        body = refused.json()
        assert body["code"] == "hotline.out_of_scope"
        assert body["params"]["place"] == "景山街道" and body["params"]["action"] == "hotline.read"
        refused = street.post(f"{URL}/{theirs['id']}/start", json={"version": theirs["version"]})
        assert refused.status_code == 403 and refused.json()["code"] == "hotline.out_of_scope"
        passed_on = step(street, ours, "assign", 403, street=OTHER)  # out of their street
        assert passed_on["code"] == "hotline.out_of_scope"
        listed = street.get(URL, params={"street": OTHER})
        assert listed.status_code == 403 and listed.json()["code"] == "hotline.out_of_scope"
        rules = street.put(
            "/api/hotline/deadlines/urgent/road",
            json={"response_minutes": 1, "resolution_minutes": 2},
        )
        assert rules.status_code == 403 and rules.json()["code"] == "hotline.role"
        mine = {t["id"] for t in street.get(URL, params=RECENT).json()}
        assert ours["id"] in mine and theirs["id"] not in mine
        assert {t["street"] for t in street.get(URL, params=RECENT).json()} == {HOME}
    with client(server, worker) as community:
        assert community.get(f"{URL}/{ours['id']}").status_code == 403  # the street's, not ours
        started = step(community, in_worker, "start")
        assert started["status"] == "in_progress"
        assert (
            step(community, started, "rate", 403, rating="satisfied", solved=True)["code"]
            == "hotline.role"
        )


def test_community_from_the_address_or_chosen_by_a_person(server: str, commander: str) -> None:
    with client(server, commander) as http:
        lane = make(http, address="东城区南锣鼓巷58号")
        assert (lane["street_name"], lane["community_name"]) == ("交道口街道", "南锣鼓巷社区")
        street_only = make(http, address="前门街道 某胡同 3号")
        assert (street_only["street_name"], street_only["community"]) == ("前门街道", None)
        nowhere = make(http, address="东城区某小区")
        assert nowhere["street"] is None and nowhere["place_source"] is None
        unplaced = {t["id"] for t in http.get(URL, params={**RECENT, "unplaced": True}).json()}
        assert nowhere["id"] in unplaced and lane["id"] not in unplaced
        chosen = http.patch(
            f"{URL}/{nowhere['id']}", json={"version": 1, "community": HOME_COMMUNITY}
        )
        assert chosen.status_code == 200, chosen.text
        assert chosen.json()["place_source"] == "person"
        assert chosen.json()["street"] == HOME
        given = make(http, address="南锣鼓巷58号", community=HOME_COMMUNITY)
        assert (given["community"], given["place_source"]) == (HOME_COMMUNITY, "given")


def test_phone_masked_everywhere_and_revealed_audited(
    server: str, commander: str, leader: str, other_leader: str
) -> None:
    caller = phone()
    with client(server, commander) as district:
        made = make(district, caller_phone=f"{caller[:3]}-{caller[3:7]}-{caller[7:]}")
        assert made["caller_phone"] == f"{caller[:3]}****{caller[-4:]}"
        step(district, made, "assign", street=HOME)
        assert caller not in district.get(URL, params=RECENT).text
        assert caller not in district.get(f"{URL}/{made['id']}/steps").text
    with client(server, other_leader) as other:
        assert other.post(f"{URL}/{made['id']}/reveal").status_code == 403
    with client(server, leader) as street:
        revealed = street.post(f"{URL}/{made['id']}/reveal")
        assert revealed.status_code == 200 and revealed.json()["caller_phone"] == caller
        assert revealed.headers["cache-control"] == "no-store"
    assert "hotline.reveal" in _audits(made["id"])
    stored = sql("SELECT caller_phone FROM hotline_ticket WHERE id=$1", made["id"])
    assert stored == [{"caller_phone": caller}]  # kept whole for the call back


def test_deadlines_on_the_view(server: str, commander: str) -> None:
    now = datetime.now(UTC)
    with client(server, commander) as http:
        late = make(http, urgency="urgent", category="other", received_at=_iso(now, hours=-3))
        near = make(http, urgency="urgent", category="other", received_at=_iso(now, minutes=-100))
        fresh = make(http, urgency="urgent", category="other")
        assert late["response"]["state"] == "overdue" and late["overdue"]
        assert late["response"]["minutes_left"] < 0
        assert late["resolution"]["state"] == "on_time"  # 24 h for an urgent 'other'
        assert near["response"]["state"] == "nearly_due" and near["nearly_due"]
        assert fresh["response"]["state"] == "on_time" and not fresh["overdue"]
        overdue = {t["id"] for t in http.get(URL, params={**RECENT, "overdue": True}).json()}
        assert late["id"] in overdue and near["id"] not in overdue
        future = http.post(
            URL, json={"category": "road", "content": "x", "received_at": _iso(now, hours=1)}
        )
        assert future.status_code == 422 and future.json()["code"] == "hotline.received_in_future"


def test_links_to_requests_and_tasks(server: str, commander: str) -> None:
    community = HOME_COMMUNITY
    event = incident([community])
    asked = request(event, community)
    with client(server, commander) as http:
        made = make(http)
        linked = http.post(f"{URL}/{made['id']}/links", json={"kind": "request", "id": asked})
        assert linked.status_code == 200, linked.text
        assert linked.json()["links"] == [
            {"kind": "request", "id": asked, "status": "open", "finished": False}
        ]
        assert linked.json()["incident"] == event  # the ticket takes the request's incident
        twice = http.post(f"{URL}/{made['id']}/links", json={"kind": "request", "id": asked})
        assert twice.json()["version"] == linked.json()["version"]  # nothing changed
        other = incident([community])
        wrong = http.post(
            f"{URL}/{made['id']}/links", json={"kind": "request", "id": request(other, community)}
        )
        assert wrong.status_code == 422 and wrong.json()["code"] == "hotline.other_incident"
        missing = http.post(f"{URL}/{made['id']}/links", json={"kind": "task", "id": 10**12})
        assert missing.status_code == 422 and missing.json()["code"] == "hotline.no_task"


def test_commanders_set_deadlines_for_new_tickets(server: str, commander: str) -> None:
    with client(server, commander) as http:
        rules = http.get("/api/hotline/deadlines").json()
        assert len(rules) == 18
        road = next(r for r in rules if (r["urgency"], r["category"]) == ("critical", "road"))
        assert road["illustrative"] is True
        before = make(http, urgency="critical", category="road")
        bad = http.put(
            "/api/hotline/deadlines/critical/road",
            json={"response_minutes": 60, "resolution_minutes": 30},
        )
        assert bad.status_code == 422 and bad.json()["field"] == "resolution_minutes"
        put = http.put(
            "/api/hotline/deadlines/critical/road",
            json={"response_minutes": 45, "resolution_minutes": 300},
        )
        assert put.status_code == 200, put.text
        assert put.json()["illustrative"] is False and put.json()["updated_by"] == commander
        after = make(http, urgency="critical", category="road")
        assert _minutes(after, "response") == 45 and _minutes(after, "resolution") == 300
        assert _minutes(before, "response") == 30  # a running deadline keeps its rule
        restored = {"response_minutes": 30, "resolution_minutes": 240}
        assert http.put("/api/hotline/deadlines/critical/road", json=restored).status_code == 200


def _iso(now: datetime, **delta: Any) -> str:
    return (now + timedelta(**delta)).isoformat()


def _minutes(ticket: dict[str, Any], deadline: str) -> int:
    due = datetime.fromisoformat(ticket[deadline]["due"])
    return round((due - datetime.fromisoformat(ticket["received_at"])).total_seconds() / 60)


def test_repeated_calls_are_offered_and_merged_on_confirmation(
    server: str, commander: str, other_leader: str
) -> None:
    caller = phone()
    door = f"东华门街道多福巷社区 {uuid.uuid4().hex[:6]}号"
    with client(server, commander) as http:
        first = make(http, caller_phone=caller, address=door, category="utilities")
        assert first["duplicates"] == []
        again = make(http, caller_phone=caller, address="东城区某处", category="road")
        assert [(d["number"], d["reason"]) for d in again["duplicates"]] == [
            (first["number"], "phone")
        ]
        neighbour = make(http, address=door, category="utilities")
        assert [d["reason"] for d in neighbour["duplicates"]] == ["address"]
        other_kind = make(http, address=door, category="road")  # same door, another matter
        assert other_kind["duplicates"] == []
        with client(server, other_leader) as other:  # not theirs: not offered to them
            refused = other.post(
                f"{URL}/{again['id']}/merge", json={"version": 1, "into": first["id"]}
            )
            assert refused.status_code == 403, refused.text
        merged = http.post(f"{URL}/{again['id']}/merge", json={"version": 1, "into": first["id"]})
        assert merged.status_code == 200, merged.text
        assert merged.json()["status"] == "merged" and merged.json()["merged_into"] == first["id"]
        kept = http.get(f"{URL}/{first['id']}").json()
        assert kept["merged_numbers"] == [again["number"]] and kept["version"] == 2
        assert again["number"] not in [d["number"] for d in kept["duplicates"]]
        twice = http.post(f"{URL}/{again['id']}/merge", json={"version": 2, "into": first["id"]})
        assert twice.status_code == 409 and twice.json()["code"] == "hotline.illegal_step"
        self_merge = http.post(
            f"{URL}/{neighbour['id']}/merge", json={"version": 1, "into": neighbour["id"]}
        )
        assert self_merge.status_code == 422 and self_merge.json()["code"] == "hotline.merge_self"
        into_merged = http.post(
            f"{URL}/{neighbour['id']}/merge", json={"version": 1, "into": again["id"]}
        )
        assert into_merged.status_code == 409
        assert into_merged.json()["code"] == "hotline.merge_into_open"
    assert _audits(again["id"])[-1] == "hotline.merge"
    assert _audits(first["id"])[-1] == "hotline.absorb"


def test_from_call_to_action_and_the_reminder_to_reply(server: str, commander: str) -> None:
    event = incident([HOME_COMMUNITY])
    with client(server, commander) as http:
        made = make(http, incident=event)
        ticket = step(http, made, "assign", community=HOME_COMMUNITY)
        no_incident = make(http)
        refused = http.post(
            f"{URL}/{no_incident['id']}/requests", json={"item": "WATER", "quantity": 2}
        )
        assert refused.status_code == 422 and refused.json()["code"] == "hotline.incident_needed"
        asked = http.post(
            f"{URL}/{ticket['id']}/requests",
            json={"item": "WATER", "quantity": 2, "priority": "high"},
        )
        assert asked.status_code == 201, asked.text
        request = asked.json()["links"][0]
        assert (request["kind"], request["status"]) == ("request", "open")
        made_request = http.get(f"/api/requests/{request['id']}").json()
        assert (made_request["source"], made_request["community"]) == ("hotline", HOME_COMMUNITY)
        assert made_request["note"].startswith(f"12345 工单 {made['number']}")
        door = http.post(f"{URL}/{ticket['id']}/tasks", json={"kind": "door_check", "people": 2})
        assert door.status_code == 201, door.text
        task = next(link for link in door.json()["links"] if link["kind"] == "task")
        assert not door.json()["reply_reminder"]
        cancel = http.post(f"/api/requests/{request['id']}/cancel", json={"reason": "已自行解决"})
        assert cancel.status_code == 200, cancel.text
        assert not http.get(f"{URL}/{ticket['id']}").json()["reply_reminder"]  # the task is open
        version = http.get(f"/api/tasks/{task['id']}").json()["version"]
        done = http.post(
            f"/api/tasks/{task['id']}/cancel", json={"version": version, "reason": "已上门"}
        )
        assert done.status_code == 200, done.text
        assert http.get(f"{URL}/{ticket['id']}").json()["reply_reminder"]
    heard: list[Event] = []

    async def publish(events: list[Event]) -> None:
        heard.extend(events)

    set_publisher(publish)
    try:
        run(service.sweep_overdue(system_context()))
        run(service.sweep_overdue(system_context()))  # once only
    finally:
        set_publisher(None)
    reminded = [e for e in heard if e.kind == "hotline.reply_reminder"]
    assert [e.data["id"] for e in reminded if e.data["id"] == ticket["id"]] == [ticket["id"]]


def test_a_new_address_moves_an_unplaced_call_within_scope_only(
    server: str, commander: str, leader: str
) -> None:
    with client(server, commander) as district:
        made = make(district, address="东华门街道 某胡同")  # the street only, from the address
    assert (made["street"], made["place_source"]) == (HOME, "address")
    with client(server, leader) as street:
        moved = street.patch(f"{URL}/{made['id']}", json={"version": 1, "address": "南锣鼓巷58号"})
        assert moved.status_code == 403 and moved.json()["params"]["place"] == "南锣鼓巷社区"
        placed = street.patch(
            f"{URL}/{made['id']}", json={"version": 1, "address": "多福巷社区 3号"}
        )
        assert placed.status_code == 200, placed.text
        assert placed.json()["community"] == HOME_COMMUNITY
