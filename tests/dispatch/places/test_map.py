"""Map layers for pages drawn without a tile server: the district outline and the road
network as GeoJSON, small enough for a wall screen to load at once."""

from __future__ import annotations

import json
from itertools import pairwise

import httpx
import pytest

from dispatch.accounts.policy import Role
from dispatch.places.maps import _chains
from tests.support import client, create_user, sql

MAX_GZIPPED_BYTES = 60_000  # the Dongcheng network: ~33 kB gzipped, ~185 kB raw


@pytest.fixture(scope="module")
def viewer() -> str:
    return create_user(Role.VIEWER)


def test_boundary_is_the_district_polygon(server: str, viewer: str) -> None:
    with client(server, viewer) as http:
        answer = http.get("/api/map/boundary")
    assert answer.status_code == 200
    assert answer.headers["content-type"].startswith("application/geo+json")
    (feature,) = answer.json()["features"]
    assert feature["properties"]["code"] == "110101"
    ring = feature["geometry"]["coordinates"][0]
    assert feature["geometry"]["type"] == "Polygon" and ring[0] == ring[-1]
    assert all(116.3 < lon < 116.5 and 39.8 < lat < 40.0 for lon, lat in ring)


def test_roads_are_lines_per_class_flagged_synthetic(server: str, viewer: str) -> None:
    network = sql("SELECT * FROM road_network WHERE active")[0]
    with client(server, viewer) as http:
        answer = http.get("/api/map/roads")
    assert answer.status_code == 200
    body = answer.json()
    assert body["type"] == "FeatureCollection"
    assert body["network"]["synthetic"] is True
    assert body["network"]["graph_id"] == network["graph_id"]
    classes = [f["properties"]["road_class"] for f in body["features"]]
    assert classes == ["hutong", "collector", "arterial"]  # minor roads drawn first
    pairs = {
        (min(r["u"], r["v"]), max(r["u"], r["v"]))
        for r in sql("SELECT u, v FROM road_edge WHERE network=$1", network["id"])
    }
    assert sum(f["properties"]["segments"] for f in body["features"]) == len(pairs)
    drawn = sum(len(line) - 1 for f in body["features"] for line in f["geometry"]["coordinates"])
    assert drawn == len(pairs)  # every road segment once, none twice
    assert all(f["geometry"]["type"] == "MultiLineString" for f in body["features"])


def test_roads_are_compressed_and_cached_by_network(server: str, viewer: str) -> None:
    with client(server, viewer) as http:
        token = http.headers["Authorization"]
    raw = httpx.get(
        server + "/api/map/roads",
        headers={"Authorization": token, "Accept-Encoding": "gzip"},
    )
    assert raw.headers["content-encoding"] == "gzip"
    size = int(raw.headers["content-length"])
    print(f"/api/map/roads: {size} bytes gzipped, {len(raw.content)} bytes as JSON")
    assert size < MAX_GZIPPED_BYTES
    assert json.loads(raw.content)["features"]  # httpx undid the gzip
    again = httpx.get(
        server + "/api/map/roads",
        headers={"Authorization": token, "If-None-Match": raw.headers["etag"]},
    )
    assert again.status_code == 304


def test_map_needs_a_login(server: str) -> None:
    assert httpx.get(server + "/api/map/roads").status_code == 401


def test_chains_join_straight_roads_and_keep_every_segment() -> None:
    # a T: 1-2-3-4 straight on, 3-5 a branch; a ring 10-11-12-10
    segments = {(1, 2), (2, 3), (3, 4), (3, 5), (10, 11), (11, 12), (10, 12)}
    lines = _chains(segments)
    assert sorted(len(line) for line in lines) == [2, 2, 3, 4]
    assert [1, 2, 3] in lines
    used = {frozenset(p) for line in lines for p in pairwise(line)}
    assert used == {frozenset(s) for s in segments}
