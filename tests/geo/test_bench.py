"""The benchmark's entry points (the benchmark itself prints figures; it is not a test)."""

from __future__ import annotations

import functools
from collections.abc import Callable, Iterable
from typing import Any

import pytest

from geo import bench


def test_plans_mode_refuses_bad_arguments(capsys: pytest.CaptureFixture[str]) -> None:
    for argv in (["plans"], ["plans", "nowhere", "4"], ["plans", "dongcheng", "four"]):
        assert bench.main(argv) == 2
        assert "usage:" in capsys.readouterr().err


def test_cold_plans_run_inside_the_counted_call(monkeypatch: pytest.MonkeyPatch) -> None:
    # callgrind counts only inside functools.reduce: every counted plan must run there.
    inside: list[int] = []
    reduce = functools.reduce

    def counting(function: Callable[..., Any], iterable: Iterable[int], initial: Any) -> Any:
        def step(acc: Any, x: int) -> Any:
            inside.append(x)
            return function(acc, x)

        return reduce(step, iterable, initial)

    monkeypatch.setattr(bench.functools, "reduce", counting)
    assert bench.COUNTED_CALL == "functools_reduce"
    bench.run_cold_plans("dongcheng", 2)
    assert inside == [0, 1]
