"""The community an address names, over the district's own names (the reference data)."""

from __future__ import annotations

import csv
from pathlib import Path

import pytest

from dispatch.hotline.matching import Named, match_address

DATA = Path(__file__).resolve().parents[3] / "geo" / "data" / "dongcheng"


def _load() -> tuple[list[Named], list[Named]]:
    with (DATA / "communities.csv").open(encoding="utf-8") as f:
        communities = [Named(r["code"], r["name"], r["street_code"]) for r in csv.DictReader(f)]
    with (DATA / "streets.csv").open(encoding="utf-8") as f:
        streets = [Named(r["code"], r["name"]) for r in csv.DictReader(f)]
    return communities, streets


COMMUNITIES, STREETS = _load()
NAMES = {c.code: c.name for c in COMMUNITIES} | {s.code: s.name for s in STREETS}


@pytest.mark.parametrize(
    ("address", "street", "community"),
    [
        ("东四街道六条社区 12号", "东四街道", "六条社区"),  # full name
        ("南锣鼓巷58号", "交道口街道", "南锣鼓巷社区"),  # the stem alone, long enough
        ("和平里街道七区3号楼", "和平里街道", "七区社区"),  # a short stem with its street
        ("和平里社区2号", "和平里街道", "和平里社区"),  # a street's stem with 社区 after it
        ("东花市南里东区3号楼", "东花市街道", "东花市南里东区社区"),  # the longest wins
        ("前门街道某胡同", "前门街道", None),  # only the street: it goes to the street
        ("七区3号楼", None, None),  # a short stem alone is too common a word
        ("北京市东城区某小区", None, None),  # nothing: a person chooses
    ],
)
def test_the_address_names_the_community(
    address: str, street: str | None, community: str | None
) -> None:
    found = match_address(address, COMMUNITIES, STREETS)
    assert (NAMES.get(found.street or ""), NAMES.get(found.community or "")) == (
        street,
        community,
    )


def test_every_community_is_found_by_its_own_name() -> None:
    for c in COMMUNITIES:
        found = match_address(f"{c.name}1号楼", COMMUNITIES, STREETS)
        assert (found.street, found.community) == (c.street, c.code), c.name


def test_nothing_given_matches_nothing() -> None:
    assert match_address(None, COMMUNITIES, STREETS).community is None
    assert match_address("", COMMUNITIES, STREETS).street is None
