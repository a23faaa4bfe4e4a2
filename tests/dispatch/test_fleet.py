"""The fleet registry against a real server: vehicles per depot in the scope of depots,
crews from the people registry (a driver needs `driving`), imports all or none, audit rows,
the planner's view of what can go, the demo fleet and a drill's own copy."""

from __future__ import annotations

import io
from typing import Any

import httpx
import pytest
from openpyxl import Workbook

from dispatch.accounts.policy import Role
from dispatch.db import system_context, unit_of_work
from dispatch.fleet import service
from dispatch.fleet.schemas import LaneClass
from geo.vehicles import VEHICLE_WIDTH_M
from tests.support import client, create_user, run, sql, unique

HOME = "110101001"
HOME_DEPOT = "D110101001"
OTHER = "110101002"
OTHER_DEPOT = "D110101002"
RESERVE = "D110101000"
URL = "/api/fleet/vehicles/"


@pytest.fixture(scope="module")
def leader() -> str:
    return create_user(Role.STREET_LEADER, street=HOME)


@pytest.fixture(scope="module")
def other_leader() -> str:
    return create_user(Role.STREET_LEADER, street=OTHER)


@pytest.fixture(scope="module")
def commander() -> str:
    return create_user(Role.COMMANDER)


def code() -> str:
    return unique("V")[:20]


def person(street: str, skills: list[str], name: str = "王师傅") -> int:
    return int(
        sql(
            "INSERT INTO person (code, name, kind, street, skills, created_at) "
            "VALUES ($1, $2, 'squad_member', $3, $4, now()) RETURNING id",
            unique("P")[:20],
            name,
            street,
            skills,
        )[0]["id"]
    )


def make(http: httpx.Client, **body: Any) -> dict[str, Any]:
    response = http.post(URL, json={"code": code(), "depot": HOME_DEPOT, "kind": "van", **body})
    assert response.status_code == 201, response.text
    return dict(response.json())


def test_lane_classes_are_the_ones_routing_knows() -> None:
    assert {c.value for c in LaneClass} == set(VEHICLE_WIDTH_M)


def test_create_read_update_retire_with_audit(server: str, leader: str) -> None:
    with client(server, leader) as http:
        made = make(
            http, kind="tricycle", name="京A·12345", shift_start="07:00:00", shift_end="19:00:00"
        )
        assert (made["lane_class"], made["payload_kg"], made["volume_m3"]) == ("tricycle", 300, 1.5)
        assert made["crew_needed"] == 1 and made["status"] == "available"
        assert made["street"] == HOME and not made["illustrative"] and made["crew"] == []
        vid = made["id"]
        assert http.get(f"{URL}{vid}").json()["name"] == "京A·12345"
        listed = http.get(URL, params={"depot": HOME_DEPOT, "kind": "tricycle"}).json()
        assert vid in [v["id"] for v in listed]
        changed = http.patch(
            f"{URL}{vid}",
            json={
                "status": "maintenance",
                "shift_start": None,
                "shift_end": None,
                "payload_kg": 250,
            },
        )
        assert changed.status_code == 200, changed.text
        body = changed.json()
        assert (body["status"], body["shift_start"], body["payload_kg"]) == (
            "maintenance",
            None,
            250,
        )
        assert body["name"] == "京A·12345"  # left out: kept
        available = http.get(URL, params={"depot": HOME_DEPOT, "status": "available"}).json()
        assert vid not in [v["id"] for v in available]
        retired = http.delete(f"{URL}{vid}")
        assert retired.status_code == 200 and retired.json()["retired_at"] is not None
        assert vid not in [v["id"] for v in http.get(URL).json()]
        assert vid in [v["id"] for v in http.get(URL, params={"include_retired": True}).json()]
        again = http.patch(f"{URL}{vid}", json={"status": "available"})
        assert again.status_code == 409 and again.json()["code"] == "fleet.retired"
        reused = http.post(URL, json={"code": made["code"], "depot": HOME_DEPOT, "kind": "van"})
        assert reused.status_code == 409 and reused.json()["code"] == "fleet.code_taken"
    trail = sql(
        "SELECT action, actor, before, after FROM audit_entry WHERE entity='vehicle' "
        "AND entity_id=$1 ORDER BY id",
        str(vid),
    )
    assert [r["action"] for r in trail] == ["fleet.create", "fleet.update", "fleet.retire"]
    assert {r["actor"] for r in trail} == {leader}
    assert '"maintenance"' in trail[1]["after"] and '"available"' in trail[1]["before"]


def test_a_street_leader_keeps_to_their_street(
    server: str, leader: str, other_leader: str, commander: str
) -> None:
    with client(server, other_leader) as http:
        theirs = make(http, depot=OTHER_DEPOT)
    with client(server, commander) as http:
        reserve = make(http, depot=RESERVE, kind="truck")
        assert reserve["crew_needed"] == 2 and reserve["payload_kg"] == 5000
    with client(server, leader) as http:
        for depot in (OTHER_DEPOT, RESERVE):
            refused = http.post(URL, json={"code": code(), "depot": depot, "kind": "van"})
            assert refused.status_code == 403, refused.text
        assert http.patch(f"{URL}{theirs['id']}", json={"status": "out"}).status_code == 403
        assert http.delete(f"{URL}{theirs['id']}").status_code == 403
        assert http.get(f"{URL}{theirs['id']}").status_code == 403
        assert http.get(f"{URL}{reserve['id']}").status_code == 403
        assert http.get(URL, params={"street": OTHER}).status_code == 403
        assert http.get(URL, params={"depot": OTHER_DEPOT}).status_code == 403
        assert {v["street"] for v in http.get(URL).json()} <= {HOME}
        mine = make(http)
        moved = http.patch(f"{URL}{mine['id']}", json={"depot": OTHER_DEPOT})
        assert moved.status_code == 403
    assert sql("SELECT status FROM vehicle WHERE id=$1", theirs["id"]) == [{"status": "available"}]


@pytest.mark.parametrize(
    ("body", "status", "field", "error"),
    [
        ({"kind": "minibus"}, 422, "lane_class", "fleet.lane_class_needed"),
        ({"kind": "minibus", "lane_class": "car"}, 422, "payload_kg", "fleet.capacity_needed"),
        (
            {"kind": "tricycle", "lane_class": "truck"},
            422,
            "lane_class",
            "fleet.lane_class_mismatch",
        ),
        ({"lane_class": "bus"}, 400, "lane_class", "invalid_request"),
        ({"payload_kg": -5}, 400, "payload_kg", "invalid_request"),
        ({"volume_m3": "6"}, 400, "volume_m3", "wrong_type"),
        ({"crew_needed": 0}, 400, "crew_needed", "invalid_request"),
        ({"status": "broken"}, 400, "status", "invalid_request"),
        ({"shift_start": "08:00:00"}, 422, "shift_end", "fleet.shift_incomplete"),
        ({"depot": "D999"}, 422, "depot", "invalid_input"),
        ({"kind": "Big Van"}, 400, "kind", "invalid_request"),
        ({"colour": "red"}, 400, "colour", "invalid_request"),
    ],
)
def test_validation_names_the_field(
    server: str, commander: str, body: dict[str, Any], status: int, field: str, error: str
) -> None:
    with client(server, commander) as http:
        sent = {"code": code(), "depot": HOME_DEPOT, "kind": "van", **body}
        response = http.post(URL, json=sent)
    assert response.status_code == status, response.text
    assert response.json()["field"] == field and response.json()["code"] == error
    assert sql("SELECT count(*) AS n FROM vehicle WHERE code=$1", sent["code"])[0]["n"] == 0


def test_user_defined_kind_with_its_lane_class(server: str, commander: str) -> None:
    with client(server, commander) as http:
        made = make(
            http, kind="electric_cart", lane_class="tricycle", payload_kg=200, volume_m3=1.0
        )
        assert (made["kind"], made["lane_class"], made["crew_needed"]) == (
            "electric_cart",
            "tricycle",
            1,
        )
        changed = http.patch(f"{URL}{made['id']}", json={"kind": "van"}).json()
        assert changed["lane_class"] == "van"


def test_a_driver_needs_driving(server: str, leader: str) -> None:
    walker = person(HOME, ["first_aid"], name="李步行")
    driver = person(HOME, ["driving", "lifting"], name="赵司机")
    stranger = person(OTHER, ["driving"], name="钱外街")
    with client(server, leader) as http:
        van = make(http, crew_needed=2)
        other_van = make(http)
        crew = f"{URL}{van['id']}/crew"
        refused = http.post(crew, json={"person_id": walker, "role": "driver"})
        assert refused.status_code == 422, refused.text
        problem = refused.json()
        assert problem["code"] == "fleet.driver_skill" and problem["field"] == "role"
        assert problem["params"]["person"] == "李步行" and problem["params"]["skill"] == "driving"
        assert "李步行" in problem["detail"] and "driving" in problem["detail"]
        as_crew = http.post(crew, json={"person_id": walker, "role": "crew"})
        assert as_crew.status_code == 200 and not as_crew.json()["crewed"]
        done = http.post(crew, json={"person_id": driver, "role": "driver"}).json()
        assert done["crewed"] and [m["role"] for m in done["crew"]] == ["driver", "crew"]
        twice = http.post(f"{URL}{other_van['id']}/crew", json={"person_id": driver})
        assert twice.status_code == 409 and twice.json()["code"] == "fleet.crew_elsewhere"
        outside = http.post(crew, json={"person_id": stranger, "role": "driver"})
        assert outside.status_code == 403
        assert outside.json()["code"] == "forbidden.person_out_of_scope"
        unknown = http.post(crew, json={"person_id": 2**31 - 1})
        assert unknown.status_code == 422 and unknown.json()["field"] == "person_id"
        sql("UPDATE person SET skills = '{lifting}' WHERE id = $1", driver)
        assert not http.get(f"{URL}{van['id']}").json()["crewed"]  # no longer drives
        sql("UPDATE person SET skills = '{driving}' WHERE id = $1", driver)
        off = http.delete(f"{crew}/{walker}")
        assert off.status_code == 200 and [m["person_id"] for m in off.json()["crew"]] == [driver]
        assert http.delete(f"{crew}/{walker}").status_code == 404
    actions = sql(
        "SELECT action FROM audit_entry WHERE entity='vehicle' AND entity_id=$1 ORDER BY id",
        str(van["id"]),
    )
    assert [r["action"] for r in actions] == [
        "fleet.create",
        "fleet.crew_assign",
        "fleet.crew_assign",
        "fleet.crew_unassign",
    ]


def test_available_at_gives_capacities_and_crews(server: str, commander: str) -> None:
    driver = person(OTHER, ["driving"])
    with client(server, commander) as http:
        ready = make(http, depot=OTHER_DEPOT, kind="van")
        http.post(f"{URL}{ready['id']}/crew", json={"person_id": driver, "role": "driver"})
        bare = make(http, depot=OTHER_DEPOT, kind="tricycle")
        away = make(http, depot=OTHER_DEPOT, status="out")
    found = run(service.available_at(system_context(), [OTHER_DEPOT]))
    ids = {v.id: v for v in found}
    assert ready["id"] in ids and bare["id"] in ids and away["id"] not in ids
    assert (ids[ready["id"]].payload_kg, ids[ready["id"]].volume_m3) == (1000, 6)
    assert ids[ready["id"]].crewed and not ids[bare["id"]].crewed
    crewed = run(service.available_at(system_context(), [OTHER_DEPOT], crewed_only=True))
    assert ready["id"] in {v.id for v in crewed} and bare["id"] not in {v.id for v in crewed}


HEADER = [
    "code",
    "depot",
    "kind",
    "lane_class",
    "payload_kg",
    "volume_m3",
    "crew_needed",
    "status",
    "shift_start",
    "shift_end",
    "note",
]


def _csv(rows: list[list[str]], header: list[str] = HEADER) -> bytes:
    return ("\n".join(",".join(r) for r in [header, *rows]) + "\n").encode()


def _upload(http: httpx.Client, name: str, content: bytes) -> httpx.Response:
    return http.post(f"{URL}import", files={"data": (name, content, "application/octet-stream")})


def test_import_all_rows_or_none(server: str, leader: str) -> None:
    a, b = code(), code()
    good = [
        [a, HOME_DEPOT, "tricycle", "", "", "", "", "", "8:00", "18:00", "东门"],
        [b, HOME_DEPOT, "minibus", "van", "800", "5", "2", "maintenance", "", "", ""],
    ]
    with client(server, leader) as http:
        done = _upload(http, "fleet.csv", _csv(good))
        assert done.status_code == 201, done.text
        assert done.json() == {"rows": 2, "created": 2, "updated": 0, "vehicles": [a, b]}
        listed = {v["code"]: v for v in http.get(URL, params={"depot": HOME_DEPOT}).json()}
        assert listed[a]["payload_kg"] == 300 and listed[a]["shift_start"] == "08:00:00"
        assert listed[b]["lane_class"] == "van" and listed[b]["source"] == "import"
        good[0][7] = "out"
        again = _upload(http, "fleet.csv", _csv(good)).json()
        assert (again["created"], again["updated"]) == (0, 2)
        c = code()
        bad = [
            [c, HOME_DEPOT, "van", "", "", "", "", "", "", "", ""],
            [code(), HOME_DEPOT, "bus", "", "", "", "", "", "", "", ""],
            [code(), HOME_DEPOT, "van", "", "heavy", "", "", "", "", "", ""],
            [code(), HOME_DEPOT, "van", "", "", "", "", "", "25:00", "", ""],
            [code(), "D999", "van", "", "", "", "", "", "", "", ""],
            [c, HOME_DEPOT, "van", "", "", "", "", "", "", "", ""],
        ]
        refused = _upload(http, "fleet.csv", _csv(bad))
        assert refused.status_code == 422, refused.text
        problem = refused.json()
        assert problem["code"] == "import.row_errors" and problem["row"] == 3
        found = [(e["row"], e["column"]) for e in problem["errors"]]
        assert found == [(3, "lane_class"), (4, "payload_kg"), (5, "shift_start"), (7, "code")]
        assert sql("SELECT count(*) AS n FROM vehicle WHERE code=$1", c)[0]["n"] == 0
        late = _upload(http, "fleet.csv", _csv([bad[0], bad[4]]))
        assert late.status_code == 422 and late.json()["errors"][0]["column"] == "depot"
        assert sql("SELECT count(*) AS n FROM vehicle WHERE code=$1", c)[0]["n"] == 0
        outside = _upload(http, "fleet.csv", _csv([[code(), OTHER_DEPOT, "van", *[""] * 8]]))
        assert outside.status_code == 403 and outside.json()["row"] == 2
        header = _upload(http, "fleet.csv", _csv([[code()]], header=["code", "colour"]))
        assert header.status_code == 422
        assert {e["column"] for e in header.json()["errors"]} == {"depot", "kind", "colour"}
    trail = sql("SELECT after FROM audit_entry WHERE action='fleet.import' AND actor=$1", leader)
    assert len(trail) == 2 and a in trail[0]["after"]


def test_import_xlsx_with_chinese_headers(server: str, commander: str) -> None:
    book = Workbook()
    sheet = book.active
    assert sheet is not None
    sheet.append(["编号", "储备点", "车型", "载重", "容积", "所需人数", "备注"])
    made = code()
    sheet.append([made, RESERVE, "truck", 4500, 18.5, 3, "区储备库"])
    out = io.BytesIO()
    book.save(out)
    with client(server, commander) as http:
        done = _upload(http, "车队.xlsx", out.getvalue())
        assert done.status_code == 201, done.text
        listed = {v["code"]: v for v in http.get(URL, params={"depot": RESERVE}).json()}
    assert (listed[made]["payload_kg"], listed[made]["volume_m3"]) == (4500, 18.5)
    assert listed[made]["crew_needed"] == 3 and listed[made]["note"] == "区储备库"


def test_a_drill_has_its_own_copy_of_the_fleet(server: str, commander: str) -> None:
    trainer = create_user(Role.TRAINER)
    with client(server, commander) as http:
        real = make(http, kind="van")
    with client(server, trainer) as http:
        response = http.post("/api/exercises", json={"name": "车队演练", "kind": "drill"})
        assert response.status_code == 201, response.text
        drill = response.json()
    schema, header = drill["schema_name"], {"X-Exercise": str(drill["id"])}
    copied = sql(f"SELECT code, status FROM {schema}.vehicle WHERE id=$1", real["id"])
    assert copied == [{"code": real["code"], "status": "available"}]
    with client(server, commander) as http:
        out = http.patch(f"{URL}{real['id']}", json={"status": "out"}, headers=header)
        assert out.status_code == 200 and out.json()["status"] == "out"
        drilled = http.post(
            URL, json={"code": code(), "depot": HOME_DEPOT, "kind": "car"}, headers=header
        )
        assert drilled.status_code == 201, drilled.text
        assert http.get(f"{URL}{real['id']}").json()["status"] == "available"
        assert http.get(f"{URL}{drilled.json()['id']}").status_code == 404
        assert http.delete(f"/api/exercises/{drill['id']}").status_code in (200, 204)
    assert sql("SELECT status FROM public.vehicle WHERE id=$1", real["id"]) == [
        {"status": "available"}
    ]
    assert (
        sql("SELECT count(*) AS n FROM public.vehicle WHERE code=$1", drilled.json()["code"])[0][
            "n"
        ]
        == 0
    )


class _Rollback(Exception):
    """Leaves the demo seeding's transaction without keeping anything."""


def test_demo_fleet_is_illustrative_and_crewed() -> None:
    async def seeded() -> tuple[int, list[dict[str, Any]]]:
        found: tuple[int, list[dict[str, Any]]] = (0, [])
        try:
            async with unit_of_work() as unit:
                await unit.connection.execute(  # rolled back: run tasks keep their vehicles
                    "UPDATE task SET vehicle_id = NULL WHERE vehicle_id IS NOT NULL; "
                    "DELETE FROM vehicle_crew; DELETE FROM vehicle"
                )
                await unit.connection.execute(
                    "INSERT INTO person (code, name, kind, street, skills, created_at) "
                    "VALUES ($1, '孙司机', 'squad_member', $2, '{driving}', now())",
                    unique("P")[:20],
                    HOME,
                )
                made = await service.seed_demo_fleet(system_context())
                rows = await unit.connection.fetch(
                    "SELECT v.depot, d.kind AS depot_kind, v.kind, v.payload_kg, v.source, "
                    "v.note, (SELECT count(*) FROM vehicle_crew c JOIN person p "
                    "ON p.id = c.person_id WHERE c.vehicle_id = v.id AND c.role = 'driver' "
                    "AND 'driving' = ANY(p.skills)) AS drivers "
                    "FROM vehicle v JOIN depot d ON d.code = v.depot"
                )
                found = (made, [dict(r) for r in rows])
                raise _Rollback
        except _Rollback:
            return found

    made, rows = run(seeded())
    depots = sql("SELECT code, kind FROM depot")
    assert made == len(rows) and {r["depot"] for r in rows} == {d["code"] for d in depots}
    assert {r["source"] for r in rows} == {"demo"} and all("示意" in r["note"] for r in rows)
    reserve = [r for r in rows if r["depot_kind"] == "district_reserve"]
    assert sorted(r["kind"] for r in reserve) == ["truck", "truck", "van", "van", "van"]
    for depot in {r["depot"] for r in rows if r["depot_kind"] != "district_reserve"}:
        kinds = sorted(r["kind"] for r in rows if r["depot"] == depot)
        assert kinds in (["tricycle", "van"], ["tricycle", "tricycle", "van"]), kinds
    assert {r["payload_kg"] for r in rows if r["kind"] == "truck"} == {5000}
    home = [r for r in rows if r["depot"] == HOME_DEPOT]
    assert sum(r["drivers"] for r in home) >= 1  # a driver of the street, with `driving`
    assert sql("SELECT count(*) AS n FROM vehicle WHERE source='demo'")[0]["n"] == 0  # rolled back


def test_a_keyed_create_is_made_once(server: str, commander: str) -> None:
    body = {"code": code(), "depot": HOME_DEPOT, "kind": "car"}
    key = {"Idempotency-Key": unique("key")}
    with client(server, commander) as http:
        first = http.post(URL, json=body, headers=key)
        second = http.post(URL, json=body, headers=key)
    assert first.status_code == second.status_code == 201
    assert first.json()["id"] == second.json()["id"]
    assert second.headers.get("idempotent-replayed") == "true"
    assert sql("SELECT count(*) AS n FROM vehicle WHERE code=$1", body["code"])[0]["n"] == 1


def test_field_roles_do_not_read_the_fleet(server: str) -> None:
    volunteer = create_user(Role.VOLUNTEER, community="110101001001")
    with client(server, volunteer) as http:
        assert http.get(URL).status_code == 403
        refused = http.post(URL, json={"code": code(), "depot": HOME_DEPOT, "kind": "van"})
        assert refused.status_code == 403
