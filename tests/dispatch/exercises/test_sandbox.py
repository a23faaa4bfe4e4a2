"""Exercise sandboxes against a real server: a drill changes its copy, never the real tables."""

from __future__ import annotations

import threading
import uuid
from collections.abc import Iterator
from concurrent.futures import ThreadPoolExecutor
from typing import Any

import asyncpg
import httpx
import pytest

from dispatch.accounts.policy import Role
from dispatch.exercises.service import NOT_COPIED
from tests.support import client, create_user, sql, unique

HOME = "110101001"


@pytest.fixture(scope="module")
def commander() -> str:
    return create_user(Role.COMMANDER)


@pytest.fixture(scope="module")
def trainer() -> str:
    return create_user(Role.TRAINER)


def _real_people() -> dict[str, Any]:
    """A person and a care household with real-looking data, in the real tables."""
    code = unique("P")[:20]
    person = sql(
        """
        INSERT INTO person (code, name, kind, phone, address, street, created_at)
        VALUES ($1, '张三丰', 'squad_member', '10012345678', '多福巷1号', $2, now())
        RETURNING id
        """,
        code,
        HOME,
    )[0]["id"]
    household = sql(
        """
        INSERT INTO care_household
            (code, kind, community, street, head_name, phone, address, created_at)
        VALUES ($1, 'elderly_alone', '110101001001', $2, '李四', '10087654321', '银闸胡同2号',
                now())
        RETURNING id
        """,
        unique("H")[:20],
        HOME,
    )[0]["id"]
    return {"person": person, "household": household}


@pytest.fixture(scope="module")
def drill(server: str, trainer: str) -> Iterator[dict[str, Any]]:
    people = _real_people()
    with client(server, trainer) as http:
        response = http.post("/api/exercises", json={"name": "东华门暴雨演练", "kind": "drill"})
        assert response.status_code == 201, response.text
        exercise = response.json()
    exercise["people"] = people
    yield exercise


def _schema_count(schema: str) -> int:
    return int(
        sql("SELECT count(*) AS n FROM information_schema.schemata WHERE schema_name=$1", schema)[
            0
        ]["n"]
    )


def test_created_listed_and_audited_in_the_real_trail(
    server: str, trainer: str, drill: dict[str, Any]
) -> None:
    schema = drill["schema_name"]
    assert schema == f"ex_{drill['id']}" and drill["status"] == "active"
    assert drill["header"] == f"X-Exercise: {drill['id']}"
    assert _schema_count(schema) == 1
    with client(server, trainer) as http:
        listed = http.get("/api/exercises").json()
        assert drill["id"] in [e["id"] for e in listed]
        assert http.get(f"/api/exercises/{drill['id']}").json()["name"] == "东华门暴雨演练"
        assert http.get("/api/exercises/999999").status_code == 404
    audited = sql(
        "SELECT actor FROM public.audit_entry WHERE action='exercises.create' AND entity_id=$1",
        str(drill["id"]),
    )
    assert [r["actor"] for r in audited] == [trainer]
    # shared tables stay shared; the drill's own trail starts empty
    copied = {
        r["table_name"]
        for r in sql(
            "SELECT table_name FROM information_schema.tables WHERE table_schema=$1", schema
        )
    }
    assert {"community", "stock_movement", "incident", "person", "audit_entry"} <= copied
    assert not copied & {"app_user", "login_failure", "idempotency_record", "exercise"}
    assert sql(f"SELECT count(*) AS n FROM {schema}.audit_entry")[0]["n"] == 0
    assert (
        sql(f"SELECT count(*) AS n FROM {schema}.community")[0]["n"]
        == sql("SELECT count(*) AS n FROM public.community")[0]["n"]
    )


def test_people_are_pseudonymised(drill: dict[str, Any]) -> None:
    schema, people = drill["schema_name"], drill["people"]
    person = sql(f"SELECT name, phone, address FROM {schema}.person WHERE id=$1", people["person"])
    assert person == [
        {
            "name": f"演练人员{people['person']:04d}",
            "phone": f"1000{people['person']:07d}",
            "address": None,
        }
    ]
    home = sql(
        f"SELECT head_name, phone, address FROM {schema}.care_household WHERE id=$1",
        people["household"],
    )[0]
    assert home["head_name"] == f"演练住户{people['household']:04d}" and home["address"] is None
    assert home["phone"] != "10087654321"
    real = sql("SELECT name FROM public.person WHERE id=$1", people["person"])
    assert real == [{"name": "张三丰"}]
    leaked = sql(
        f"SELECT count(*) AS n FROM {schema}.person p JOIN public.person r USING (id) "
        "WHERE p.name = r.name OR p.phone = r.phone OR p.address = r.address"
    )
    assert leaked[0]["n"] == 0


def test_drill_mutations_touch_only_the_sandbox(
    server: str, commander: str, drill: dict[str, Any]
) -> None:
    schema, header = drill["schema_name"], {"X-Exercise": str(drill["id"])}
    code = "110101001001"
    real_before = sql("SELECT lat, lon FROM public.community WHERE code=$1", code)
    incidents_before = sql("SELECT count(*) AS n FROM public.incident")[0]["n"]
    sequence_before = sql("SELECT last_value, is_called FROM public.incident_id_seq")
    audit_before = sql("SELECT count(*) AS n FROM public.audit_entry")[0]["n"]
    with client(server, commander) as http:
        moved = http.put(
            f"/api/communities/{code}/coordinates",
            json={"lat": 39.9217, "lon": 116.4071, "note": "drill survey"},
            headers=header,
        )
        assert moved.status_code == 200, moved.text
        declared = http.post(
            "/api/incidents",
            json={
                "type": "rainstorm",
                "level": "III",
                "title": "演练：东华门积水",
                "communities": [code],
            },
            headers=header,
        )
        assert declared.status_code == 201, declared.text
        seen = http.get(f"/api/incidents/{declared.json()['id']}", headers=header)
        assert seen.status_code == 200
        assert http.get(f"/api/communities/{code}", headers=header).json()["lat"] == 39.9217
        assert http.get(f"/api/communities/{code}").json()["lat"] == real_before[0]["lat"]
    assert sql("SELECT lat, lon FROM public.community WHERE code=$1", code) == real_before
    assert sql(f"SELECT lat FROM {schema}.community WHERE code=$1", code)[0]["lat"] == 39.9217
    assert sql("SELECT count(*) AS n FROM public.incident")[0]["n"] == incidents_before
    assert sql(f"SELECT count(*) AS n FROM {schema}.incident WHERE title LIKE '演练%'")[0]["n"] == 1
    # the drill's ids come from the drill's own sequences
    assert sql("SELECT last_value, is_called FROM public.incident_id_seq") == sequence_before
    assert sql("SELECT count(*) AS n FROM public.audit_entry")[0]["n"] == audit_before
    actions = {r["action"] for r in sql(f"SELECT action FROM {schema}.audit_entry")}
    assert "places.correct_coordinates" in actions


def test_copies_keep_rules(drill: dict[str, Any]) -> None:
    schema = drill["schema_name"]
    with pytest.raises(asyncpg.PostgresError, match="append-only"):
        sql(f"DELETE FROM {schema}.audit_entry")
    with pytest.raises(asyncpg.PostgresError, match="append-only"):
        sql(f"TRUNCATE {schema}.stock_movement")
    with pytest.raises(asyncpg.ForeignKeyViolationError):
        sql(f"UPDATE {schema}.community SET street = '999999999' WHERE code = '110101001001'")
    # the copy's foreign keys point inside the copy (or at the shared tables)
    targets = sql(
        """
        SELECT DISTINCT f.relnamespace::regnamespace::text AS ns, f.relname AS name
        FROM pg_constraint c JOIN pg_class r ON r.oid = c.conrelid
        JOIN pg_class f ON f.oid = c.confrelid
        WHERE c.contype = 'f' AND r.relnamespace = $1::regnamespace
        """,
        schema,
    )
    assert {t["ns"] for t in targets if t["name"] not in NOT_COPIED} == {schema}
    public_keys = sql(
        "SELECT count(*) AS n FROM pg_constraint WHERE contype = 'f' "
        "AND connamespace = 'public'::regnamespace AND conrelid::regclass::text <> ALL($1)",
        sorted(NOT_COPIED),
    )
    copied_keys = sql(
        "SELECT count(*) AS n FROM pg_constraint WHERE contype = 'f' "
        "AND connamespace = $1::regnamespace",
        schema,
    )
    assert copied_keys == public_keys


def test_bad_exercise_headers_are_refused(server: str, commander: str) -> None:
    with client(server, commander) as http:
        malformed = http.get("/api/incidents", headers={"X-Exercise": "public; DROP"})
        assert malformed.status_code == 422
        assert malformed.json()["field"] == "X-Exercise"
        missing = http.get("/api/incidents", headers={"X-Exercise": "999999"})
        assert missing.status_code == 404 and "X-Exercise" in missing.json()["detail"]


def test_street_leader_cannot_manage_exercises(server: str) -> None:
    leader = create_user(Role.STREET_LEADER, street=HOME)
    with client(server, leader) as http:
        assert http.post("/api/exercises", json={"name": "mine"}).status_code == 403
        assert http.get("/api/exercises").status_code == 403


def test_resets_arriving_together_one_is_told_to_send_again(server: str, trainer: str) -> None:
    """Two resets of one drill at once: each copies the world at one moment, so the one
    that finds the other committed under it is rolled back whole and answered 409 with
    `retry` (never a 500), and that answer is not kept for its Idempotency-Key: sent
    again, it is done."""
    with client(server, trainer) as http:
        made = http.post("/api/exercises", json={"name": unique("并发重置"), "kind": "drill"})
    assert made.status_code == 201, made.text
    url = f"/api/exercises/{made.json()['id']}/reset"
    together = threading.Barrier(2)

    def reset(key: str) -> tuple[str, httpx.Response]:
        with client(server, trainer) as http:
            together.wait()
            return key, http.post(url, headers={"Idempotency-Key": key})

    keys = [f"reset-{uuid.uuid4().hex}" for _ in range(2)]
    with ThreadPoolExecutor(2) as pool:
        answers = list(pool.map(reset, keys))
    assert sorted(r.status_code for _, r in answers) == [200, 409], [r.text for _, r in answers]
    key, refused = next((k, r) for k, r in answers if r.status_code == 409)
    assert refused.json()["retry"] is True and "send it again" in refused.json()["detail"]
    assert refused.headers["cache-control"] == "no-store"
    with client(server, trainer) as http:
        again = http.post(url, headers={"Idempotency-Key": key})
        assert again.status_code == 200, again.text
        assert http.delete(url.removesuffix("/reset")).status_code == 200


def test_reset_then_delete(server: str, trainer: str, drill: dict[str, Any]) -> None:
    schema, exercise_id = drill["schema_name"], drill["id"]
    code = "110101001001"
    with client(server, trainer) as http:
        reset = http.post(f"/api/exercises/{exercise_id}/reset")
        assert reset.status_code == 200, reset.text
        assert reset.json()["reset_at"] is not None
        assert sql(f"SELECT lat FROM {schema}.community WHERE code=$1", code) == sql(
            "SELECT lat FROM public.community WHERE code=$1", code
        )
        assert (
            sql(f"SELECT count(*) AS n FROM {schema}.incident WHERE title LIKE '演练%'")[0]["n"]
            == 0
        )
        gone = http.delete(f"/api/exercises/{exercise_id}")
        assert gone.status_code == 200, gone.text
        assert gone.json()["status"] == "deleted"
        assert _schema_count(schema) == 0
        assert http.delete(f"/api/exercises/{exercise_id}").status_code == 409
        after = http.get("/api/incidents", headers={"X-Exercise": str(exercise_id)})
        assert after.status_code == 404
    actions = [
        r["action"]
        for r in sql(
            "SELECT action FROM public.audit_entry WHERE entity='exercise' AND entity_id=$1 "
            "ORDER BY id",
            str(exercise_id),
        )
    ]
    assert actions == ["exercises.create", "exercises.reset", "exercises.delete"]


def test_one_exercise_spelled_three_ways_is_one_world_for_a_key(
    server: str, commander: str, trainer: str
) -> None:
    # `7`, `ex_7` and `007` name one exercise: the same key and body sent with each is one
    # request, replayed, never three receipts in the drill's ledger
    with client(server, trainer) as http:
        made = http.post("/api/exercises", json={"name": "拼写演练", "kind": "drill"})
        assert made.status_code == 201, made.text
    n = made.json()["id"]
    schema = made.json()["schema_name"]
    key = uuid.uuid4().hex
    lot = unique("CANON")
    body = {"depot": "D110101001", "lines": [{"item": "SANDBAG", "lot": lot, "qty": 5}]}
    answers = []
    with client(server, commander) as http:
        for spelling in (str(n), f"ex_{n}", f"00{n}"):
            headers = {"X-Exercise": spelling, "Idempotency-Key": key}
            answers.append(http.post("/api/stock/receipts", json=body, headers=headers))
    assert [a.status_code for a in answers] == [201, 201, 201], [a.text for a in answers]
    assert [a.headers.get("idempotent-replayed") for a in answers] == [None, "true", "true"]
    rows = sql(
        f"SELECT count(*) AS n FROM {schema}.stock_movement m JOIN {schema}.lot l "
        "ON l.id = m.lot WHERE l.lot_number = $1",
        lot,
    )
    assert rows[0]["n"] == 1
    assert sql("SELECT count(*) AS n FROM lot WHERE lot_number=$1", lot)[0]["n"] == 0  # real
