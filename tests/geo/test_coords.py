"""Coordinate conversions against the reference data's own GCJ-02/WGS-84 pairs."""

from __future__ import annotations

import csv
from pathlib import Path

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from geo.coords import (
    bd09_to_gcj02,
    bd09_to_wgs84,
    distance_m,
    gcj02_to_bd09,
    gcj02_to_wgs84,
    out_of_china,
    wgs84_to_bd09,
    wgs84_to_gcj02,
)

DATA = Path(__file__).resolve().parents[2] / "geo" / "data" / "dongcheng"


def _rows(name: str) -> list[dict[str, str]]:
    with (DATA / name).open(encoding="utf-8") as fh:
        return list(csv.DictReader(fh))


REFERENCE_ROWS = [
    pytest.param(row, id=f"{name}:{row['code']}")
    for name in ("communities.csv", "streets.csv")
    for row in _rows(name)
]


def test_reference_files_are_complete() -> None:
    assert len(_rows("communities.csv")) == 169
    assert len(_rows("streets.csv")) == 17


@pytest.mark.parametrize("row", REFERENCE_ROWS)
def test_reference_pairs(row: dict[str, str]) -> None:
    wgs = (float(row["lat"]), float(row["lon"]))
    gcj = (float(row["lat_gcj02"]), float(row["lon_gcj02"]))
    assert distance_m(gcj02_to_wgs84(*gcj), wgs) < 2.0
    assert distance_m(wgs84_to_gcj02(*wgs), gcj) < 2.0
    # The shift in Beijing is several hundred metres: the test would catch a no-op.
    assert distance_m(wgs, gcj) > 100.0


BEIJING_LAT = st.floats(min_value=39.4, max_value=41.1)
BEIJING_LON = st.floats(min_value=115.4, max_value=117.5)


@settings(max_examples=300, deadline=None)
@given(BEIJING_LAT, BEIJING_LON)
def test_gcj02_round_trip(lat: float, lon: float) -> None:
    back = gcj02_to_wgs84(*wgs84_to_gcj02(lat, lon))
    assert distance_m((lat, lon), back) < 0.01


@settings(max_examples=200, deadline=None)
@given(BEIJING_LAT, BEIJING_LON)
def test_bd09_round_trip(lat: float, lon: float) -> None:
    assert distance_m((lat, lon), bd09_to_gcj02(*gcj02_to_bd09(lat, lon))) < 0.5
    assert distance_m((lat, lon), bd09_to_wgs84(*wgs84_to_bd09(lat, lon))) < 0.5


def test_out_of_china_passes_through() -> None:
    paris = (48.8566, 2.3522)
    assert out_of_china(*paris)
    assert wgs84_to_gcj02(*paris) == paris
    assert gcj02_to_wgs84(*paris) == paris
    assert not out_of_china(39.9, 116.4)


def test_distance_is_geodesic() -> None:
    # One degree of latitude near 40N is about 111.0 km on the WGS-84 ellipsoid.
    assert distance_m((39.5, 116.4), (40.5, 116.4)) == pytest.approx(111_040, rel=1e-3)
