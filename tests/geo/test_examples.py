"""The numpydoc Examples of geo's public entry points run, and show what they return."""

from __future__ import annotations

import doctest
import importlib

import pytest

# Modules whose public entry points carry examples (geo as a library, issue 17).
WITH_EXAMPLES = [
    "geo.assignment",
    "geo.coords",
    "geo.fleet",
    "geo.fleet_records",
    "geo.fleet_repair",
    "geo.greedy",
    "geo.network",
    "geo.paths",
    "geo.planning_routes",
    "geo.routing",
    "geo.synthetic",
]


@pytest.mark.parametrize("name", WITH_EXAMPLES)
def test_examples_run_as_shown(name: str) -> None:
    module = importlib.import_module(name)
    result = doctest.testmod(module, optionflags=doctest.NORMALIZE_WHITESPACE)
    assert result.attempted > 0
    assert result.failed == 0
