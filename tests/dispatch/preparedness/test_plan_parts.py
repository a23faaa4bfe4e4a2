"""Plans' assembly points and pledged supplies, the plan sheet (what is exported imports
again; one bad row refuses the file, every bad row and column named), paired units called
out on activation, and plans started when an incident's level is raised."""

from __future__ import annotations

import csv
import io
from collections.abc import Iterator
from typing import Any

import httpx
import pytest

from dispatch.accounts.policy import Role
from tests.dispatch.incidents.helpers import incident
from tests.dispatch.preparedness.helpers import community_of, plans_made_here, shelter
from tests.support import client, create_user, sql

STREET = "110101011"
OTHER_STREET = "110101012"


@pytest.fixture(scope="module", autouse=True)
def _plans_superseded_after() -> Iterator[None]:
    yield from plans_made_here()


def _paired_unit(community: str, paired: bool = True) -> int:
    """A partner unit with (or without) an agreement in force with the community."""
    rows = sql(
        "SELECT u.id FROM partner_unit u WHERE "
        + ("" if paired else "NOT ")
        + "EXISTS (SELECT 1 FROM pairing g WHERE g.unit_id = u.id AND g.community = $1 "
        "AND g.status = 'active') ORDER BY u.id LIMIT 1",
        community,
    )
    if not rows:
        pytest.skip(f"no unit {'paired with' if paired else 'outside'} {community}")
    return int(rows[0]["id"])


def _body(community: str, shelter_id: int, **changes: Any) -> dict[str, Any]:
    people = sql("SELECT id FROM person WHERE active AND street=$1 ORDER BY id LIMIT 2", STREET)
    unit = _paired_unit(community)
    body: dict[str, Any] = {
        "community": community,
        "title": "社区防汛应急预案（测试）",
        "hazards": [{"type": "rainstorm", "min_level": "III"}],
        "roles": [
            {
                "role": "现场总指挥",
                "holder": {"kind": "person", "id": people[0]["id"]},
                "deputy": {"kind": "person", "id": people[1]["id"]},
            },
            {
                "role": "结对单位支援组",
                "holder": {"kind": "unit", "id": unit},
                "deputy": {"kind": "person", "id": people[0]["id"]},
            },
        ],
        "shelters": [shelter_id],
        "tasks": [{"kind": "guard", "people": 2, "minutes": 60, "skills": [], "note": "值守"}],
        "assembly_points": [{"name": "居委会门前广场", "lat": 39.93, "lon": 116.41}],
        "pledges": [
            {"unit": unit, "item": "WATER", "quantity": 20},
            {"unit": unit, "item": "SANDBAG", "quantity": 100},
        ],
    }
    return body | changes


def _approved(boss: httpx.Client, body: dict[str, Any]) -> dict[str, Any]:
    made = boss.post("/api/preparedness/plans", json=body)
    assert made.status_code == 201, made.text
    done = boss.post(f"/api/preparedness/plans/{made.json()['id']}/approve")
    assert done.status_code == 200, done.text
    return dict(done.json())


def test_pledges_name_paired_units_and_known_items(boss: httpx.Client) -> None:
    community = community_of(STREET)
    place = shelter(boss, community, 39.93, 116.41)
    good = _body(community, place["id"])
    stranger = _paired_unit(community, paired=False)
    cases = [
        (
            {"pledges": [{"unit": stranger, "item": "WATER", "quantity": 5}]},
            "pledges[0].unit",
            "plan.unit_not_paired",
        ),
        (
            {"pledges": [{**good["pledges"][0], "item": "CAVIAR"}]},
            "pledges[0].item",
            "reference.unknown",
        ),
        ({"pledges": [good["pledges"][0], good["pledges"][0]]}, "pledges[1]", "plan.duplicate"),
    ]
    before = sql("SELECT count(*) AS n FROM community_plan")[0]["n"]
    for change, field, code in cases:
        answer = boss.post("/api/preparedness/plans", json={**good, **change})
        assert answer.status_code == 422, (change, answer.text)
        assert (answer.json()["field"], answer.json()["code"]) == (field, code), answer.json()
    assert sql("SELECT count(*) AS n FROM community_plan")[0]["n"] == before
    plan = boss.post("/api/preparedness/plans", json=good).json()
    assert [(p["item"], p["quantity"]) for p in plan["pledges"]] == [
        ("WATER", 20),
        ("SANDBAG", 100),
    ]
    assert plan["pledges"][0]["item_name"] == "饮用水(箱)" and plan["pledges"][0]["unit_name"]
    assert plan["assembly_points"][0]["name"] == "居委会门前广场"


def _sheet(boss: httpx.Client, street: str) -> list[dict[str, str]]:
    answer = boss.get("/api/preparedness/plans/csv", params={"street": street})
    assert answer.status_code == 200, answer.text
    return list(csv.DictReader(io.StringIO(answer.content.decode("utf-8-sig"))))


def _upload(http: httpx.Client, rows: list[dict[str, str]], columns: list[str]) -> httpx.Response:
    out = io.StringIO()
    writer = csv.DictWriter(out, fieldnames=columns)
    writer.writeheader()
    writer.writerows(rows)
    files = {"data": ("plans.csv", out.getvalue().encode("utf-8"), "text/csv")}
    return http.post("/api/preparedness/plans/import", files=files)


def _parts(plan: dict[str, Any]) -> dict[str, Any]:
    keys = ("hazards", "roles", "shelters", "tasks", "assembly_points", "pledges", "title")
    return {k: plan[k] for k in keys}


def test_an_exported_plan_imports_again_as_the_next_draft(boss: httpx.Client) -> None:
    community = community_of(STREET, 1)
    place = shelter(boss, community, 39.931, 116.411)
    approved = _approved(boss, _body(community, place["id"]))
    rows = [r for r in _sheet(boss, STREET) if r["community"] == community]
    assert sorted({r["part"] for r in rows}) == [
        "assembly",
        "hazard",
        "pledge",
        "role",
        "shelter",
        "task",
    ]
    columns = list(rows[0])
    answer = _upload(boss, rows, columns)
    assert answer.status_code == 201, answer.text
    (draft_id,) = answer.json()["plans"]
    draft = boss.get(f"/api/preparedness/plans/{draft_id}").json()
    assert draft["status"] == "draft" and draft["version"] == approved["version"] + 1
    assert _parts(draft) == _parts(approved)
    audit = sql("SELECT count(*) AS n FROM audit_entry WHERE action='preparedness.plan_import'")
    assert audit[0]["n"] >= 1


def test_one_bad_row_refuses_the_sheet_naming_every_bad_row(boss: httpx.Client) -> None:
    community = community_of(STREET, 2)
    place = shelter(boss, community, 39.932, 116.412)
    _approved(boss, _body(community, place["id"]))
    rows = [r for r in _sheet(boss, STREET) if r["community"] == community]
    columns = list(rows[0])
    role = next(i for i, r in enumerate(rows) if r["part"] == "role")
    rows[role] = {**rows[role], "holder": "NO-SUCH-PERSON", "holder_kind": "person"}
    rows.append({**rows[0], "part": "picnic"})
    pledge = next(i for i, r in enumerate(rows) if r["part"] == "pledge")
    rows[pledge] = {**rows[pledge], "quantity": "-3"}
    before = sql("SELECT count(*) AS n FROM community_plan")[0]["n"]
    answer = _upload(boss, rows, columns)
    assert answer.status_code == 422, answer.text
    found = {(e["row"], e["column"]) for e in answer.json()["errors"]}
    # row 1 is the header: the sheet's row n + 2
    assert found == {(role + 2, "holder"), (len(rows) + 1, "part"), (pledge + 2, "quantity")}
    assert answer.json()["code"] == "import.row_errors"
    assert sql("SELECT count(*) AS n FROM community_plan")[0]["n"] == before


def test_a_street_leader_imports_only_their_streets_plans(server: str, boss: httpx.Client) -> None:
    community = community_of(STREET, 3)
    place = shelter(boss, community, 39.933, 116.413)
    _approved(boss, _body(community, place["id"]))
    rows = [r for r in _sheet(boss, STREET) if r["community"] == community]
    stranger = client(server, create_user(Role.STREET_LEADER, street=OTHER_STREET))
    answer = _upload(stranger, rows, list(rows[0]))
    assert answer.status_code == 403 and answer.json()["code"] == "forbidden.scope", answer.text
    leader = client(server, create_user(Role.STREET_LEADER, street=STREET))
    assert _upload(leader, rows, list(rows[0])).status_code == 201
    assert {r["community"][:9] for r in _sheet(leader, STREET)} == {STREET}
    assert _sheet(stranger, STREET) == []


def test_raising_the_level_starts_the_plans_that_answer_it_once(boss: httpx.Client) -> None:
    community = community_of(STREET, 4)
    place = shelter(boss, community, 39.934, 116.414)
    plan = _approved(boss, _body(community, place["id"]))  # rainstorm from level III
    incident_id = incident([community], level="IV", kind="rainstorm")
    assert not sql("SELECT 1 FROM plan_activation WHERE incident=$1", incident_id)
    raised = boss.post(f"/api/incidents/{incident_id}/level", json={"level": "III"})
    assert raised.status_code == 200 and raised.json()["level"] == "III", raised.text
    again = boss.post(f"/api/incidents/{incident_id}/level", json={"level": "II"})
    assert again.status_code == 200, again.text
    activations = sql("SELECT plan_id FROM plan_activation WHERE incident=$1", incident_id)
    assert [a["plan_id"] for a in activations] == [plan["id"]]
    lower = boss.post(f"/api/incidents/{incident_id}/level", json={"level": "IV"})
    assert lower.status_code == 409 and lower.json()["code"] == "incident.level_not_raised"
    audits = sql(
        "SELECT before, after FROM audit_entry WHERE action='incidents.raise_level' "
        "AND entity_id=$1 ORDER BY id",
        str(incident_id),
    )
    assert len(audits) == 2


def test_activation_calls_out_the_communitys_paired_units(boss: httpx.Client) -> None:
    community = community_of(STREET, 5)
    place = shelter(boss, community, 39.935, 116.415)
    body = _body(community, place["id"])
    body["roles"] = body["roles"][:1]  # no role names a unit: the pairings call them
    _approved(boss, body)
    incident_id = incident([community], level="III", kind="rainstorm")
    called = sql(
        "SELECT recipient_id FROM plan_callout WHERE incident=$1 AND recipient_kind='unit' "
        "ORDER BY recipient_id",
        incident_id,
    )
    paired = sql(
        "SELECT DISTINCT unit_id FROM pairing WHERE community=$1 AND status='active' "
        "AND pledged_people > 0 AND valid_from <= current_date AND valid_until >= current_date "
        "ORDER BY unit_id",
        community,
    )
    assert [r["recipient_id"] for r in called] == [r["unit_id"] for r in paired]
    assert called, "the community has a unit pledging people"
