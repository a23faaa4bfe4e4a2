"""The synthetic district: the sizes the issue asks for, every community covered, repeatable."""

from __future__ import annotations

from datetime import date

from dispatch.people import synthetic
from tests.support import client, sql


def _places() -> tuple[list[synthetic.Place], list[tuple[str, str]]]:
    communities = [
        synthetic.Place(r["code"], r["name"], r["street"])
        for r in sql("SELECT code, name, street FROM community")
    ]
    streets = [(r["code"], r["name"]) for r in sql("SELECT code, name FROM street")]
    return communities, streets


def test_generator_is_repeatable_and_phones_are_never_real() -> None:
    communities, streets = _places()
    one = synthetic.generate(communities, streets, date(2026, 11, 27))
    two = synthetic.generate(list(reversed(communities)), streets, date(2026, 11, 27))
    assert one == two
    assert 120 <= len(one.units) <= 140
    party = [p for p in one.people if p["kind"] == "party_member"]
    assert 2700 <= len(party) <= 3300
    assert 2000 <= len(one.care_households) <= 2400
    phones = [p["phone"] for p in one.people] + [h["phone"] for h in one.care_households]
    assert all(str(p).startswith("100") and len(str(p)) == 11 for p in phones)
    squads = [t for t in one.teams if t["kind"] == "street_squad"]
    assert len(squads) == 17
    assert all(10 <= len(t["members"]) <= 20 for t in squads)  # type: ignore[arg-type]


def test_loaded_district_covers_every_community(server: str, commander: str) -> None:
    with client(server, commander) as http:
        pairings = http.get("/api/pairings/by-community").json()
        on_duty = http.get("/api/duty/on-duty").json()
        units = http.get("/api/partner-units").json()
    assert len(pairings) == 169
    assert all(p["counting"] >= 1 for p in pairings), [p for p in pairings if not p["counting"]]
    assert any(p["not_counting"] >= 1 for p in pairings)  # some agreements have run out
    assert len(on_duty) == 169 and all(c["on_duty"] >= 1 for c in on_duty)
    assert sum(c["on_duty"] for c in on_duty) > 400
    kinds = {u["kind"] for u in units}
    assert kinds == {"central_ministry", "municipal", "state_enterprise", "two_new"}
    per_community = sql(
        "SELECT community, count(*) AS n FROM person WHERE kind='party_member' GROUP BY community"
    )
    assert len(per_community) == 169
