"""A door check of a care household goes first to its assisting branch's members on duty,
and the suggestion says why; without a pairing the matching is as before."""

from __future__ import annotations

from tests.dispatch.branches.helpers import (
    HOME,
    community_of,
    household,
    make_branch,
    pair,
)
from tests.support import client, sql


def _on_duty(person: int, community: str, street: str) -> None:
    sql(
        "INSERT INTO check_in (person_id, community, street, checked_in_at)"
        " SELECT $1, $2, $3, now() - interval '10 minutes' WHERE NOT EXISTS"
        " (SELECT 1 FROM check_in WHERE person_id = $1 AND checked_out_at IS NULL)",
        person,
        community,
        street,
    )


def _door_check(households: list[int]) -> int:
    incident = sql(
        "INSERT INTO incident (type, level, title, status, declared_at, declared_by)"
        " VALUES ('rainstorm', 'IV', '测试入户', 'responding', now(), 'test') RETURNING id"
    )[0]["id"]
    return int(
        sql(
            "INSERT INTO task (incident, kind, community, street, people_needed, minutes, status,"
            " households, created_at) VALUES ($1, 'door_check', $2, $3, 2, 30, 'open', $4, now())"
            " RETURNING id",
            incident,
            community_of(HOME),
            HOME,
            households,
        )[0]["id"]
    )


def test_the_assisting_branchs_member_on_duty_is_suggested_first_and_says_why(
    server: str, commander: str
) -> None:
    household_id, _ = household(HOME)
    # a member of the street (who may be put on its tasks) living in another community:
    # neither resident nor paired, farther than the residents on duty
    member = int(
        sql(
            """
            SELECT min(p.id) AS id FROM person p WHERE p.kind = 'party_member' AND p.active
              AND p.street = $1 AND p.community <> $2
              AND NOT EXISTS (SELECT 1 FROM branch_member m WHERE m.person_id = p.id)
            """,
            HOME,
            community_of(HOME),
        )[0]["id"]
    )
    home = sql("SELECT community FROM person WHERE id=$1", member)[0]["community"]
    _on_duty(member, home, HOME)
    with client(server, commander) as http:
        branch = make_branch(http, [member])
        pair(http, branch["id"], household_id)
        paired = http.get(f"/api/tasks/{_door_check([household_id])}/suggestions")
        plain = http.get(f"/api/tasks/{_door_check([])}/suggestions")
    assert paired.status_code == 200, paired.text
    first = paired.json()["suggestions"][0]
    assert first["person_id"] == member
    assert first["preferred"] == "assisting"
    assert first["explanation"].startswith(f"结对帮扶：{branch['name']}党员")
    assert paired.json()["staffed"] == 2  # the rest of the need from everyone else
    assert paired.json()["suggestions"][1]["preferred"] != "assisting"
    others = plain.json()["suggestions"]
    assert all(s["preferred"] != "assisting" for s in others)
    assert member not in [s["person_id"] for s in others[:1]]
