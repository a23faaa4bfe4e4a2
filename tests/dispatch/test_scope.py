"""A street leader cannot change another street's data: one case per mutating route.

`SCOPE_CASES` must name every mutating route of the app; a new route without a case
fails `test_every_mutating_route_has_a_scope_case`, so scope is never forgotten.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

import pytest

from dispatch.accounts.policy import Role
from tests.support import client, create_user, sql

HOME = "110101001"  # 东华门街道: the leader's own street
OTHER = "110101002"  # 景山街道

# routes that need no token (anyone may try to log in)
PUBLIC_MUTATIONS = {("POST", "/api/auth/login"), ("POST", "/api/auth/refresh")}

Case = Callable[[], tuple[str, dict[str, Any]]]


def _other_community() -> str:
    return str(sql("SELECT min(code) AS c FROM community WHERE street=$1", OTHER)[0]["c"])


def _other_user() -> str:
    user = create_user(Role.STREET_LEADER, street=OTHER)
    return str(sql("SELECT id FROM app_user WHERE username=$1", user)[0]["id"])


SCOPE_CASES: dict[tuple[str, str], Case] = {
    ("POST", "/api/users"): lambda: (
        "/api/users",
        {
            "username": "intruder1",
            "password": "long-enough-pw",
            "role": "street_leader",
            "street": OTHER,
        },
    ),
    ("POST", "/api/users/{user_id:int}/disable"): lambda: (
        f"/api/users/{_other_user()}/disable",
        {},
    ),
    ("PUT", "/api/communities/{code:str}/coordinates"): lambda: (
        f"/api/communities/{_other_community()}/coordinates",
        {"lat": 39.93, "lon": 116.41},
    ),
}


# --- stock: the other street's depot (D110101002) ------------------------------------
OTHER_DEPOT = "D110101002"


def _other_movement() -> int:
    from tests.dispatch.stock.helpers import receive

    return receive(OTHER_DEPOT, "SANDBAG", "SCOPE-1", 5)[0]


def _other_transfer(dest: str = "D110101001", source: str = OTHER_DEPOT) -> int:
    from dispatch.stock.schemas import PickLine, TransferCreate
    from dispatch.stock.service import create_transfer
    from tests.support import run, system_context

    body = TransferCreate(source=source, dest_depot=dest, lines=[PickLine("SANDBAG", 1)])
    return run(create_transfer(system_context(), body)).id


SCOPE_CASES.update(
    {
        ("POST", "/api/stock/receipts"): lambda: (
            "/api/stock/receipts",
            {"depot": OTHER_DEPOT, "lines": [{"item": "SANDBAG", "lot": "S1", "qty": 1}]},
        ),
        ("POST", "/api/stock/issues"): lambda: (
            "/api/stock/issues",
            {
                "depot": OTHER_DEPOT,
                "community": _other_community(),
                "purpose": "越权测试",
                "lines": [{"item": "SANDBAG", "qty": 1}],
            },
        ),
        ("POST", "/api/stock/adjustments"): lambda: (
            "/api/stock/adjustments",
            {"depot": OTHER_DEPOT, "item": "SANDBAG", "lot": "S1", "qty": 1, "reason": "found"},
        ),
        ("POST", "/api/stock/movements/{movement_id:int}/reversal"): lambda: (
            f"/api/stock/movements/{_other_movement()}/reversal",
            {},
        ),
        ("POST", "/api/stock/stocktakes"): lambda: (
            "/api/stock/stocktakes",
            {"depot": OTHER_DEPOT, "lines": [{"item": "SANDBAG", "lot": "S1", "counted": 0}]},
        ),
        ("PUT", "/api/stock/standards/{depot:str}/{item:str}"): lambda: (
            f"/api/stock/standards/{OTHER_DEPOT}/SANDBAG",
            {"minimum": 1},
        ),
        ("POST", "/api/stock/imports/receipts"): lambda: (
            "/api/stock/imports/receipts",
            {"__files__": {"data": ("d.csv", f"depot,item,lot,qty\n{OTHER_DEPOT},CONE,A,1\n")}},
        ),
        ("POST", "/api/stock/transfers"): lambda: (
            "/api/stock/transfers",
            {
                "source": OTHER_DEPOT,
                "dest_depot": "D110101003",
                "lines": [{"item": "CONE", "qty": 1}],
            },
        ),
        ("POST", "/api/stock/transfers/{transfer_id:int}/dispatch"): lambda: (
            f"/api/stock/transfers/{_other_transfer()}/dispatch",
            {},
        ),
        ("POST", "/api/stock/transfers/{transfer_id:int}/receive"): lambda: (
            f"/api/stock/transfers/{_other_transfer(dest=OTHER_DEPOT, source='D110101003')}"
            "/receive",
            {},
        ),
        ("POST", "/api/stock/transfers/{transfer_id:int}/cancel"): lambda: (
            f"/api/stock/transfers/{_other_transfer()}/cancel",
            {"reason": "越权测试"},
        ),
    }
)


# --- incidents, requests, tasks and plans: another street's, or commander-only -----------


def _incident() -> int:
    from tests.dispatch.incidents.helpers import incident

    return incident([_other_community()])


def _other_request() -> int:
    from tests.dispatch.incidents.helpers import request

    return request(_incident(), _other_community())


def _other_task() -> int:
    from tests.dispatch.incidents.helpers import task

    return int(task(_incident(), _other_community())["id"])


def _plan() -> int:
    from dispatch.planning.schemas import PlanCreate
    from dispatch.planning.service import create_plan
    from tests.support import run, system_context

    return run(create_plan(system_context(), _incident(), PlanCreate())).id


def _closure() -> int:
    from dispatch.incidents.schemas import ClosureCreate
    from dispatch.incidents.service import close_road
    from tests.support import run, system_context

    body = ClosureCreate(near=[39.95, 116.40], radius_m=10)
    return run(close_road(system_context(), _incident(), body)).id


def _outage() -> int:
    from dispatch.incidents.schemas import DepotOutageCreate
    from dispatch.incidents.service import depot_out
    from tests.support import run, system_context

    outage = run(depot_out(system_context(), _incident(), DepotOutageCreate(depot="D110101017")))
    return outage.id


SCOPE_CASES.update(
    {
        ("POST", "/api/incidents"): lambda: (
            "/api/incidents",
            {"type": "fire", "level": "IV", "title": "x", "communities": [_other_community()]},
        ),
        ("POST", "/api/incidents/{incident_id:int}/respond"): lambda: (
            f"/api/incidents/{_incident()}/respond",
            {},
        ),
        ("POST", "/api/incidents/{incident_id:int}/level"): lambda: (
            f"/api/incidents/{_incident()}/level",
            {"level": "I"},
        ),
        ("POST", "/api/incidents/{incident_id:int}/stand-down"): lambda: (
            f"/api/incidents/{_incident()}/stand-down",
            {},
        ),
        ("POST", "/api/incidents/{incident_id:int}/close"): lambda: (
            f"/api/incidents/{_incident()}/close",
            {},
        ),
        ("POST", "/api/incidents/{incident_id:int}/closures"): lambda: (
            f"/api/incidents/{_incident()}/closures",
            {"near": [39.93, 116.41], "radius_m": 50},
        ),
        ("POST", "/api/incidents/{incident_id:int}/depots-out"): lambda: (
            f"/api/incidents/{_incident()}/depots-out",
            {"depot": OTHER_DEPOT},
        ),
        ("POST", "/api/incidents/{incident_id:int}/requests"): lambda: (
            f"/api/incidents/{_incident()}/requests",
            {"community": _other_community(), "item": "WATER", "quantity": 1},
        ),
        ("POST", "/api/incidents/{incident_id:int}/tasks"): lambda: (
            f"/api/incidents/{_incident()}/tasks",
            {"kind": "guard", "community": _other_community(), "people": 1},
        ),
        ("POST", "/api/closures/{closure_id:int}/reopen"): lambda: (
            f"/api/closures/{_closure()}/reopen",
            {},
        ),
        ("POST", "/api/depot-outages/{outage_id:int}/back"): lambda: (
            f"/api/depot-outages/{_outage()}/back",
            {},
        ),
        ("POST", "/api/requests/{request_id:int}/cancel"): lambda: (
            f"/api/requests/{_other_request()}/cancel",
            {"reason": "越权测试"},
        ),
        ("POST", "/api/tasks/{task_id:int}/assign"): lambda: (
            f"/api/tasks/{_other_task()}/assign",
            {"version": 1, "people": [1]},
        ),
        ("POST", "/api/tasks/{task_id:int}/accept"): lambda: (
            f"/api/tasks/{_other_task()}/accept",
            {"version": 1},
        ),
        ("POST", "/api/tasks/{task_id:int}/start"): lambda: (
            f"/api/tasks/{_other_task()}/start",
            {"version": 1},
        ),
        ("POST", "/api/tasks/{task_id:int}/complete"): lambda: (
            f"/api/tasks/{_other_task()}/complete",
            {"version": 1},
        ),
        ("POST", "/api/tasks/{task_id:int}/stops/{stop_id:int}/complete"): lambda: (
            f"/api/tasks/{_other_task()}/stops/1/complete",
            {"version": 1, "receiver": "越权测试"},
        ),
        ("POST", "/api/tasks/{task_id:int}/fail"): lambda: (
            f"/api/tasks/{_other_task()}/fail",
            {"version": 1, "reason": "越权测试"},
        ),
        ("POST", "/api/tasks/{task_id:int}/cancel"): lambda: (
            f"/api/tasks/{_other_task()}/cancel",
            {"version": 1, "reason": "越权测试"},
        ),
        ("POST", "/api/tasks/{task_id:int}/notes"): lambda: (
            f"/api/tasks/{_other_task()}/notes",
            {"version": 1, "note": "越权测试"},
        ),
        ("POST", "/api/tasks/{task_id:int}/positions"): lambda: (
            f"/api/tasks/{_other_task()}/positions",
            {"lat": 39.93, "lon": 116.41},
        ),
        ("POST", "/api/incidents/{incident_id:int}/plans"): lambda: (
            f"/api/incidents/{_incident()}/plans",
            {},
        ),
        ("POST", "/api/plans/{plan_id:int}/approve"): lambda: (f"/api/plans/{_plan()}/approve", {}),
        ("POST", "/api/plans/{plan_id:int}/reject"): lambda: (f"/api/plans/{_plan()}/reject", {}),
    }
)


# --- people: the other street's people, pairings, teams, households ---------------------


def _people_row(table: str) -> int:
    from tests.dispatch.people.seed import ensure_district

    ensure_district()
    return int(sql(f"SELECT min(id) AS i FROM {table} WHERE street=$1", OTHER)[0]["i"])


SCOPE_CASES.update(
    {
        ("POST", "/api/skills"): lambda: ("/api/skills", {"code": "scope_x", "name": "x"}),
        ("POST", "/api/partner-units"): lambda: (
            "/api/partner-units",
            {"code": "SCOPE", "name": "x", "kind": "municipal"},
        ),
        ("POST", "/api/pairings"): lambda: (
            "/api/pairings",
            {
                "unit_id": 1,
                "community": _other_community(),
                "signed_on": "2026-01-01",
                "valid_from": "2026-01-01",
                "valid_until": "2027-01-01",
            },
        ),
        ("PUT", "/api/pairings/{pairing_id:int}/status"): lambda: (
            f"/api/pairings/{_people_row('pairing')}/status",
            {"status": "suspended"},
        ),
        ("POST", "/api/people"): lambda: (
            "/api/people",
            {
                "code": "SCOPE",
                "name": "x",
                "kind": "community_worker",
                "community": _other_community(),
            },
        ),
        ("PATCH", "/api/people/{person_id:int}"): lambda: (
            f"/api/people/{_people_row('person')}",
            {"name": "x"},
        ),
        ("POST", "/api/people/{person_id:int}/reveal"): lambda: (
            f"/api/people/{_people_row('person')}/reveal",
            {},
        ),
        ("POST", "/api/people/suggest"): lambda: (
            "/api/people/suggest",
            {"community": _other_community(), "people": 1},
        ),
        ("POST", "/api/teams"): lambda: (
            "/api/teams",
            {"name": "x", "kind": "street_squad", "street": OTHER},
        ),
        ("PUT", "/api/teams/{team_id:int}/members"): lambda: (
            f"/api/teams/{_people_row('team')}/members",
            {"member_ids": []},
        ),
        ("POST", "/api/duty/shifts"): lambda: (
            "/api/duty/shifts",
            {
                "community": _other_community(),
                "starts_at": "2026-12-01T08:00:00+08:00",
                "ends_at": "2026-12-01T12:00:00+08:00",
            },
        ),
        ("POST", "/api/duty/check-in"): lambda: (
            "/api/duty/check-in",
            {"person_id": _people_row("person")},
        ),
        ("POST", "/api/duty/check-out"): lambda: (
            "/api/duty/check-out",
            {"person_id": _people_row("person")},
        ),
        ("POST", "/api/care-households"): lambda: (
            "/api/care-households",
            {"code": "SCOPE", "kind": "student", "community": _other_community(), "head_name": "x"},
        ),
        ("POST", "/api/care-households/{household_id:int}/reveal"): lambda: (
            f"/api/care-households/{_people_row('care_household')}/reveal",
            {},
        ),
        ("POST", "/api/imports/{what:str}"): lambda: ("/api/imports/people", {}),
    }
)


# --- fleet: a vehicle of the other street's depot, and a person of that street ---------------
FLEET = "/api/fleet/vehicles"


def _other_vehicle() -> int:
    return int(
        sql(
            "INSERT INTO vehicle (code, depot, kind, lane_class, payload_kg, volume_m3, "
            "crew_needed, status, source, created_at) VALUES ('SCOPE-' || "
            "substr(md5(random()::text), 1, 10), $1, 'van', 'van', 1000, 6, 1, 'available', "
            "'entered', now()) RETURNING id",
            OTHER_DEPOT,
        )[0]["id"]
    )


def _crewed_vehicle() -> tuple[int, int]:
    vehicle = _other_vehicle()
    person = _people_row("person")
    sql(
        "INSERT INTO vehicle_crew (vehicle_id, person_id, role, assigned_at) "
        "VALUES ($1, $2, 'crew', now()) "
        "ON CONFLICT (person_id) DO UPDATE SET vehicle_id = EXCLUDED.vehicle_id",
        vehicle,
        person,
    )
    return vehicle, person


def _crew_path() -> str:
    vehicle, person = _crewed_vehicle()
    return f"{FLEET}/{vehicle}/crew/{person}"


SCOPE_CASES.update(
    {
        ("POST", FLEET): lambda: (FLEET, {"code": "SCOPE-V", "depot": OTHER_DEPOT, "kind": "van"}),
        ("PATCH", FLEET + "/{vehicle_id:int}"): lambda: (
            f"{FLEET}/{_other_vehicle()}",
            {"status": "out"},
        ),
        ("DELETE", FLEET + "/{vehicle_id:int}"): lambda: (f"{FLEET}/{_other_vehicle()}", {}),
        ("POST", FLEET + "/{vehicle_id:int}/crew"): lambda: (
            f"{FLEET}/{_other_vehicle()}/crew",
            {"person_id": _people_row("person")},
        ),
        ("DELETE", FLEET + "/{vehicle_id:int}/crew/{person_id:int}"): lambda: (_crew_path(), {}),
        ("POST", FLEET + "/import"): lambda: (
            f"{FLEET}/import",
            {"__files__": {"data": ("f.csv", f"code,depot,kind\nSCOPE-I,{OTHER_DEPOT},van\n")}},
        ),
    }
)


# --- hotline: a ticket dispatched to the other street; deadlines are commanders' ---------------
HOTLINE = "/api/hotline/tickets"


def _other_ticket() -> int:
    from dispatch.hotline.schemas import Category, TicketAssign, TicketCreate
    from dispatch.hotline.service import assign_ticket, create_ticket
    from tests.support import run, system_context

    body = TicketCreate(category=Category.ROAD, content="越权测试", street=OTHER)
    made = run(create_ticket(system_context(), body))
    run(assign_ticket(system_context(), made.id, TicketAssign(version=1, street=OTHER)))
    return made.id


def _ticket_step(step: str, **body: Any) -> Case:
    return lambda: (f"{HOTLINE}/{_other_ticket()}/{step}", {"version": 2, **body})


SCOPE_CASES.update(
    {
        ("POST", HOTLINE): lambda: (
            HOTLINE,
            {"category": "road", "content": "越权测试", "community": _other_community()},
        ),
        ("PATCH", HOTLINE + "/{ticket_id:int}"): lambda: (
            f"{HOTLINE}/{_other_ticket()}",
            {"version": 2, "content": "越权测试"},
        ),
        ("POST", HOTLINE + "/{ticket_id:int}/assign"): _ticket_step("assign", street=HOME),
        ("POST", HOTLINE + "/{ticket_id:int}/start"): _ticket_step("start"),
        ("POST", HOTLINE + "/{ticket_id:int}/reply"): _ticket_step(
            "reply", channel="phone", content="越权测试"
        ),
        ("POST", HOTLINE + "/{ticket_id:int}/rate"): _ticket_step(
            "rate", rating="satisfied", solved=True
        ),
        ("POST", HOTLINE + "/{ticket_id:int}/close"): _ticket_step("close"),
        ("POST", HOTLINE + "/{ticket_id:int}/return"): _ticket_step("return", reason="越权测试"),
        ("POST", HOTLINE + "/{ticket_id:int}/links"): lambda: (
            f"{HOTLINE}/{_other_ticket()}/links",
            {"kind": "request", "id": _other_request()},
        ),
        ("POST", HOTLINE + "/{ticket_id:int}/requests"): lambda: (
            f"{HOTLINE}/{_other_ticket()}/requests",
            {
                "item": "WATER",
                "quantity": 1,
                "incident": _incident(),
                "community": _other_community(),
            },
        ),
        ("POST", HOTLINE + "/{ticket_id:int}/tasks"): lambda: (
            f"{HOTLINE}/{_other_ticket()}/tasks",
            {"kind": "door_check", "incident": _incident(), "community": _other_community()},
        ),
        ("POST", HOTLINE + "/import"): lambda: (
            f"{HOTLINE}/import",
            {"__files__": {"data": ("t.csv", f"category,content,street\nroad,x,{OTHER}\n")}},
        ),
        ("POST", HOTLINE + "/{ticket_id:int}/merge"): lambda: (
            f"{HOTLINE}/{_other_ticket()}/merge",
            {"version": 2, "into": _other_ticket()},
        ),
        ("POST", HOTLINE + "/{ticket_id:int}/reveal"): lambda: (
            f"{HOTLINE}/{_other_ticket()}/reveal",
            {},
        ),
        ("PUT", "/api/hotline/deadlines/{urgency:str}/{category:str}"): lambda: (
            "/api/hotline/deadlines/urgent/road",
            {"response_minutes": 1, "resolution_minutes": 2},
        ),
    }
)


# --- branches: commanders manage branches; pairings and visits in the household's street ----
def _other_assistance() -> int:
    """A pairing of a household of the other street (a branch made for it)."""
    household = _people_row("care_household")
    branch = sql(
        "INSERT INTO party_branch (code, name, kind, organisation, source, created_at) "
        "VALUES ($1, $1, 'two_new', 'x', 'entered', now()) RETURNING id",
        f"SCOPE{household}x{len(sql('SELECT id FROM party_branch'))}",
    )[0]["id"]
    sql(
        "UPDATE assistance SET ends_on = starts_on WHERE household_id=$1 AND ends_on IS NULL",
        household,
    )
    return int(
        sql(
            "INSERT INTO assistance (branch_id, household_id, starts_on, created_at) "
            "VALUES ($1, $2, '2026-01-01', now()) RETURNING id",
            branch,
            household,
        )[0]["id"]
    )


SCOPE_CASES.update(
    {
        ("POST", "/api/branches"): lambda: (
            "/api/branches",
            {"code": "SCOPE", "name": "x", "kind": "two_new", "organisation": "x"},
        ),
        ("PATCH", "/api/branches/{branch_id:int}"): lambda: ("/api/branches/1", {"name": "x"}),
        ("POST", "/api/assistance"): lambda: (
            "/api/assistance",
            {
                "branch_id": 1,
                "household_id": _people_row("care_household"),
                "starts_on": "2026-01-01",
            },
        ),
        ("POST", "/api/branches/import/{what:str}"): lambda: (
            "/api/branches/import/branches",
            {"__files__": {"data": ("b.csv", b"code,name,kind\nSCOPE,x,two_new\n", "text/csv")}},
        ),
        ("POST", "/api/assistance/{assistance_id:int}/end"): lambda: (
            f"/api/assistance/{_other_assistance()}/end",
            {"ends_on": "2026-06-01"},
        ),
        ("POST", "/api/assistance/{assistance_id:int}/visits"): lambda: (
            f"/api/assistance/{_other_assistance()}/visits",
            {"visited_on": "2026-06-01", "kind": "visit", "hours": 1, "people": [1]},
        ),
    }
)


# --- exercises: trainers and commanders only (403 comes before any lookup) -----------------
SCOPE_CASES.update(
    {
        ("POST", "/api/exercises"): lambda: ("/api/exercises", {"name": "intruder drill"}),
        ("POST", "/api/exercises/{exercise_id:int}/reset"): lambda: (
            "/api/exercises/999999/reset",
            {},
        ),
        ("DELETE", "/api/exercises/{exercise_id:int}"): lambda: ("/api/exercises/999999", {}),
        ("POST", "/api/exercises/{exercise_id:int}/play"): lambda: (
            "/api/exercises/999999/play",
            {"scenario": "hutong_fire.yaml"},
        ),
        ("DELETE", "/api/exercises/{exercise_id:int}/play"): lambda: (
            "/api/exercises/999999/play",
            {},
        ),
        ("POST", "/api/exercise-batches"): lambda: (
            "/api/exercise-batches",
            {"scenario": "hutong_fire.yaml", "runs": 1},
        ),
        ("DELETE", "/api/exercise-batches/{batch_id:int}"): lambda: (
            "/api/exercise-batches/999999",
            {},
        ),
    }
)


# --- preparedness: a shelter and a plan draft of the other street ---------------------------
def _other_shelter() -> int:
    return int(
        sql(
            "INSERT INTO shelter (code, name, community, street, lat, lon, capacity, status, "
            "source, created_at) VALUES ('SCOPE-' || substr(md5(random()::text), 1, 10), "
            "'他街安置点', $1, $2, 39.93, 116.41, 10, 'open', 'entered', now()) RETURNING id",
            _other_community(),
            OTHER,
        )[0]["id"]
    )


def _other_plan() -> int:
    return int(
        sql(
            "INSERT INTO community_plan (community, street, version, title, status, source, "
            "created_at, created_by) SELECT $1::varchar, $2::varchar, "
            "coalesce(max(version), 0) + 1, '他街预案', 'draft', 'entered', now(), 'scope' "
            "FROM community_plan WHERE community = $1::varchar "
            "RETURNING id",
            _other_community(),
            OTHER,
        )[0]["id"]
    )


def _other_callout() -> int:
    community = _other_community()
    incident = sql(
        "INSERT INTO incident (type, level, title, status, declared_at, declared_by) "
        "VALUES ('fire', 'IV', '越权测试', 'declared', now(), 'scope') RETURNING id"
    )[0]["id"]
    activation = sql(
        "INSERT INTO plan_activation (plan_id, incident, community, street, activated_at, "
        "activated_by) VALUES ($1, $2, $3, $4, now(), 'scope') RETURNING id",
        _other_plan(),
        incident,
        community,
        OTHER,
    )[0]["id"]
    return int(
        sql(
            "INSERT INTO plan_callout (activation_id, incident, community, street, role, "
            "recipient_kind, recipient_id, sent_at, due_at) VALUES ($1, $2, $3, $4, '总指挥', "
            "'person', 1, now(), now() + interval '10 minutes') RETURNING id",
            activation,
            incident,
            community,
            OTHER,
        )[0]["id"]
    )


SCOPE_CASES.update(
    {
        ("POST", "/api/callouts/{callout_id:int}/acknowledge"): lambda: (
            f"/api/callouts/{_other_callout()}/acknowledge",
            {"eta_minutes": 5},
        ),
        ("POST", "/api/callouts/{callout_id:int}/decline"): lambda: (
            f"/api/callouts/{_other_callout()}/decline",
            {"reason": "越权"},
        ),
        ("POST", "/api/callouts/{callout_id:int}/no-answer"): lambda: (
            f"/api/callouts/{_other_callout()}/no-answer",
            {},
        ),
        ("POST", "/api/callouts/{callout_id:int}/delivered"): lambda: (
            f"/api/callouts/{_other_callout()}/delivered",
            {},
        ),
        # the gateway's webhook: a user's token is no gateway token (and this server has none)
        ("POST", "/api/callouts/sms/inbound"): lambda: (
            "/api/callouts/sms/inbound",
            {"kind": "reply", "id": "scope-1", "phone": "10000000001", "text": "1"},
        ),
        # the one-time link's page: a user's token is no link; a forged link is refused
        ("POST", "/ack/{token:str}"): lambda: (
            f"/ack/{_other_callout()}.4102444800.AAAAAAAAAAAAAAAAAAAAAAAA",
            {"answer": "coming", "eta_minutes": 5},
        ),
        ("POST", "/api/shelters"): lambda: (
            "/api/shelters",
            {
                "code": "SCOPE-S",
                "name": "越权安置点",
                "community": _other_community(),
                "lat": 39.93,
                "lon": 116.41,
                "capacity": 10,
            },
        ),
        ("PATCH", "/api/shelters/{shelter_id:int}"): lambda: (
            f"/api/shelters/{_other_shelter()}",
            {"status": "closed"},
        ),
        ("POST", "/api/shelters/{shelter_id:int}/intake"): lambda: (
            f"/api/shelters/{_other_shelter()}/intake",
            {"people": 1},
        ),
        (
            "POST",
            "/api/shelters/{shelter_id:int}/registrations/{registration_id:int}/leave",
        ): lambda: (f"/api/shelters/{_other_shelter()}/registrations/1/leave", {}),
        # the other street's shelter's needs as requests of an incident of its community
        ("POST", "/api/shelters/{shelter_id:int}/requests"): lambda: (
            f"/api/shelters/{_other_shelter()}/requests",
            {"incident": _incident()},
        ),
        ("POST", "/api/preparedness/plans"): lambda: (
            "/api/preparedness/plans",
            {
                "community": _other_community(),
                "title": "越权预案",
                "hazards": [{"type": "fire", "min_level": "III"}],
            },
        ),
        ("POST", "/api/preparedness/plans/import"): lambda: (
            "/api/preparedness/plans/import",
            {
                "__files__": {
                    "data": (
                        "plans.csv",
                        f"community,title,part,type,min_level\n{_other_community()},越权预案,"
                        "hazard,fire,III\n".encode(),
                        "text/csv",
                    )
                }
            },
        ),
        ("POST", "/api/preparedness/plans/{plan_id:int}/approve"): lambda: (
            f"/api/preparedness/plans/{_other_plan()}/approve",
            {},
        ),
    }
)


# --- community activities: one of the other street's communities ------------------------
def _other_person() -> int:
    return int(
        sql(
            "INSERT INTO person (code, name, kind, street, community, skills, availability, "
            "active, created_at) VALUES ('SC' || substr(md5(random()::text), 1, 12), "
            "'他街居民', 'squad_member', $1, $2, '{}', 'any', true, now()) RETURNING id",
            OTHER,
            _other_community(),
        )[0]["id"]
    )


def _other_activity() -> int:
    return int(
        sql(
            "INSERT INTO activity (community, street, title, kind, starts_at, ends_at, place, "
            "capacity, organiser_id, source, created_by, created_at) VALUES ($1, $2, "
            "'他街大扫除', 'clean_up', now() + interval '1 hour', now() + interval '3 hours', "
            "'居委会门前', 5, $3, 'entered', 'scope', now()) RETURNING id",
            _other_community(),
            OTHER,
            _other_person(),
        )[0]["id"]
    )


def _other_signup(action: str) -> str:
    activity, person = _other_activity(), _other_person()
    sql(
        "INSERT INTO activity_signup (activity_id, person_id, signed_up_at, signed_up_by) "
        "VALUES ($1, $2, now(), 'scope')",
        activity,
        person,
    )
    sql("UPDATE activity SET signed_up = 1 WHERE id = $1", activity)
    return f"/api/activities/{activity}/signups/{person}/{action}"


def _in_an_hour() -> dict[str, str]:
    from datetime import UTC, datetime, timedelta

    now = datetime.now(UTC)
    return {
        "starts_at": (now + timedelta(hours=1)).isoformat(),
        "ends_at": (now + timedelta(hours=3)).isoformat(),
    }


SCOPE_CASES.update(
    {
        ("POST", "/api/activities"): lambda: (
            "/api/activities",
            {
                "community": _other_community(),
                "title": "越权活动",
                "kind": "patrol",
                "place": "警务室",
                "capacity": 5,
                "organiser_id": _other_person(),
                **_in_an_hour(),
            },
        ),
        ("POST", "/api/activities/{activity_id:int}/signups"): lambda: (
            f"/api/activities/{_other_activity()}/signups",
            {"person_id": _other_person()},
        ),
        ("POST", "/api/activities/{activity_id:int}/signups/{person_id:int}/cancel"): lambda: (
            _other_signup("cancel"),
            {},
        ),
        ("POST", "/api/activities/{activity_id:int}/signups/{person_id:int}/check-in"): lambda: (
            _other_signup("check-in"),
            {},
        ),
        (
            "POST",
            "/api/activities/{activity_id:int}/signups/{person_id:int}/check-out",
        ): lambda: (_other_signup("check-out"), {}),
    }
)


def _mutating_routes() -> set[tuple[str, str]]:
    from dispatch.app import create_app

    app = create_app()
    found = set()
    for route in app.routes:
        for method in getattr(route, "methods", set()):
            if method in {"POST", "PUT", "PATCH", "DELETE"}:
                found.add((method, route.path_format if False else route.path))
    return found


def test_every_mutating_route_has_a_scope_case() -> None:
    routes = _mutating_routes()
    assert routes - PUBLIC_MUTATIONS == set(SCOPE_CASES), (
        "add a scope case for each new mutating route"
    )


@pytest.fixture(scope="module")
def leader() -> str:
    return create_user(Role.STREET_LEADER, street=HOME)


@pytest.mark.parametrize("route", sorted(SCOPE_CASES), ids=lambda r: f"{r[0]} {r[1]}")
def test_street_leader_cannot_touch_another_street(
    server: str, leader: str, route: tuple[str, str]
) -> None:
    method, _ = route
    path, body = SCOPE_CASES[route]()
    audit_before = sql("SELECT count(*) AS n FROM audit_entry")[0]["n"]
    with client(server, leader) as http:
        files = body.pop("__files__", None)  # a multipart upload (spreadsheet import)
        response = http.request(method, path, json=None if files else body, files=files)
    assert response.status_code == 403, response.text
    assert sql("SELECT count(*) AS n FROM audit_entry")[0]["n"] == audit_before
