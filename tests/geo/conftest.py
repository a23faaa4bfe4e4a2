"""Shared fixtures: the shipped (synthetic) Dongcheng network and reference places."""

from __future__ import annotations

import csv
from pathlib import Path

import pytest

from geo.network import RoadNetwork, RoadState, Snapper, Vehicle, load_dongcheng_network
from geo.routing import Router

DATA = Path(__file__).resolve().parents[2] / "geo" / "data" / "dongcheng"


def read_rows(name: str) -> list[dict[str, str]]:
    with (DATA / name).open(encoding="utf-8") as fh:
        return list(csv.DictReader(fh))


@pytest.fixture(scope="session")
def dongcheng() -> RoadNetwork:
    return load_dongcheng_network()


@pytest.fixture(scope="session")
def snapper(dongcheng: RoadNetwork) -> Snapper:
    return Snapper(dongcheng, dongcheng.usable_nodes(Vehicle()))


@pytest.fixture(scope="session")
def community_nodes(snapper: Snapper) -> dict[str, int]:
    return {
        r["code"]: snapper.nearest_node(float(r["lat"]), float(r["lon"]))
        for r in read_rows("communities.csv")
    }


@pytest.fixture(scope="session")
def depot_nodes(snapper: Snapper) -> dict[str, int]:
    return {
        r["code"]: snapper.nearest_node(float(r["lat"]), float(r["lon"]))
        for r in read_rows("depots.csv")
    }


@pytest.fixture(scope="session")
def router(dongcheng: RoadNetwork) -> Router:
    return Router(dongcheng)


@pytest.fixture(scope="session")
def base_state(dongcheng: RoadNetwork) -> RoadState:
    return RoadState(dongcheng)
