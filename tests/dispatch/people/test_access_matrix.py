"""The access matrix: for each role and each of the 17 streets, reads and writes outside the
scope are refused, care-household reads are audited, phones come back masked.

(That no response or log line of the whole run holds an unmasked phone is checked at the
end, by `test_zz_no_phone_leaks.py` and the session-finish hook.)
"""

from __future__ import annotations

import re

import httpx
import pytest

from dispatch.accounts.policy import Role
from tests.dispatch.people.seed import fast_client, first_community, person_in, street_codes
from tests.support import client, sql

REFUSED = (403, 404)
MASKED = re.compile(r"^100\*{4}\d{4}$")


def _neighbour(street: str) -> str:
    codes = street_codes()
    return codes[(codes.index(street) + 1) % len(codes)]


def _care_reads(actor: str) -> int:
    return int(
        sql("SELECT count(*) AS n FROM audit_entry WHERE actor=$1 AND action='care.read'", actor)[
            0
        ]["n"]
    )


def _writes_refused(http: httpx.Client, person: int, community: str) -> None:
    """Every kind of write aimed at another street's person or community is refused."""
    attempts = [
        http.patch(f"/api/people/{person}", json={"skills": ["lifting"]}),
        http.post(f"/api/people/{person}/reveal"),
        http.post("/api/duty/check-in", json={"person_id": person}),
        http.post("/api/duty/check-out", json={"person_id": person}),
        http.post(
            "/api/people",
            json={
                "code": "INTRUDER",
                "name": "某",
                "kind": "community_worker",
                "community": community,
            },
        ),
        http.post(
            "/api/duty/shifts",
            json={
                "community": community,
                "starts_at": "2026-12-01T08:00:00+08:00",
                "ends_at": "2026-12-01T12:00:00+08:00",
            },
        ),
        http.post("/api/people/suggest", json={"community": community, "people": 1}),
        http.post(
            "/api/care-households",
            json={"code": "INTRUDER", "kind": "student", "community": community, "head_name": "某"},
        ),
    ]
    for response in attempts:
        assert response.status_code in REFUSED, (response.request.url, response.text)


def _reads_refused(http: httpx.Client, person: int, street: str, community: str) -> None:
    attempts = [
        http.get(f"/api/people/{person}"),
        http.get("/api/people", params={"street": street}),
        http.get("/api/people", params={"community": community}),
        http.get("/api/teams", params={"street": street}),
        http.get(f"/api/duty/on-duty/{community}/people"),
        http.get("/api/care-households", params={"community": community}),
    ]
    for response in attempts:
        assert response.status_code in REFUSED, (response.request.url, response.text)


@pytest.mark.parametrize("street", street_codes())
def test_scoped_roles_stay_inside_their_street_and_community(
    server: str, district: None, street: str
) -> None:
    other = _neighbour(street)
    own_community, other_community = first_community(street), first_community(other)
    outsider = person_in(other)
    leader, as_leader = fast_client(server, Role.STREET_LEADER, street=street)
    worker, as_worker = fast_client(server, Role.COMMUNITY_WORKER, community=own_community)
    _, as_volunteer = fast_client(server, Role.VOLUNTEER, community=own_community)

    with as_leader as http:
        _reads_refused(http, outsider, other, other_community)
        _writes_refused(http, outsider, other_community)
        mine = http.get("/api/people", params={"limit": 1000}).json()
        assert mine and {p["street"] for p in mine} == {street}
        assert all(MASKED.match(p["phone"]) for p in mine if p["phone"])
        own = person_in(street)
        assert http.get(f"/api/people/{own}").status_code == 200
        # street leaders may not read care households at all, not even their own street's
        assert http.get("/api/care-households").status_code == 403
        assert _care_reads(leader) == 0

    with as_worker as http:
        _reads_refused(http, outsider, other, other_community)
        _writes_refused(http, outsider, other_community)
        neighbour = sql(
            "SELECT min(code) AS c FROM community WHERE street=$1 AND code<>$2",
            street,
            own_community,
        )[0]["c"]
        if neighbour is not None:  # another community of the same street is outside too
            assert http.get("/api/people", params={"community": neighbour}).status_code == 403
            assert (
                http.get("/api/care-households", params={"community": neighbour}).status_code == 403
            )
        assert http.get("/api/people", params={"street": street}).status_code == 403
        homes = http.get("/api/care-households")
        assert homes.status_code == 200
        assert homes.json() and {h["community"] for h in homes.json()} == {own_community}
        assert all(MASKED.match(h["phone"]) for h in homes.json() if h["phone"])
        assert all(h["address"].endswith("****") for h in homes.json() if h["address"])
        one = homes.json()[0]["id"]
        assert http.get(f"/api/care-households/{one}").status_code == 200
        foreign = sql("SELECT min(id) AS i FROM care_household WHERE street=$1", other)[0]["i"]
        assert http.get(f"/api/care-households/{foreign}").status_code == 403
        assert http.post(f"/api/care-households/{foreign}/reveal").status_code == 403
        assert _care_reads(worker) == 2  # the list and the one household, each audited

    with as_volunteer as http:
        own = person_in(street)
        for response in (
            http.get("/api/people"),
            http.get(f"/api/people/{own}"),
            http.get("/api/care-households"),
            http.post("/api/duty/check-in", json={"person_id": own}),
            http.post(f"/api/people/{own}/reveal"),
        ):
            assert response.status_code in REFUSED, (response.request.url, response.text)


@pytest.mark.parametrize("role", [Role.VIEWER, Role.TRAINER])
def test_district_readers_cannot_write_or_read_care_households(
    server: str, district: None, role: Role
) -> None:
    user, http = fast_client(server, role)
    person = person_in(street_codes()[0])
    community = first_community(street_codes()[0])
    with http:
        assert http.get(f"/api/people/{person}").status_code == 200
        assert http.get("/api/pairings/by-community").status_code == 200
        assert http.get("/api/care-households").status_code == 403
        assert http.get("/api/exports/care-households/csv").status_code == 403
        _writes_refused(http, person, community)
        assert http.post("/api/partner-units", json={}).status_code in (400, 403)
    assert _care_reads(user) == 0


def test_commander_reads_of_care_households_are_audited(server: str, commander: str) -> None:
    community = first_community(street_codes()[3])
    with client(server, commander) as http:
        listed = http.get("/api/care-households", params={"community": community})
        assert listed.status_code == 200
        one = listed.json()[0]
        assert http.get(f"/api/care-households/{one['id']}").status_code == 200
        revealed = http.post(f"/api/care-households/{one['id']}/reveal")
        assert revealed.status_code == 200 and revealed.json()["phone"].startswith("100")
    rows = sql(
        "SELECT action, entity_id, after FROM audit_entry WHERE actor=$1 ORDER BY id", commander
    )
    assert [(r["action"], r["entity_id"]) for r in rows] == [
        ("care.read", community),
        ("care.read", str(one["id"])),
        ("care.reveal", str(one["id"])),
    ]
    assert one["phone"] not in str(rows)
