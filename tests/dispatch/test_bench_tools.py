"""Helpers of the benchmark commands (the benchmarks print figures; they are not tests)."""

from __future__ import annotations

import pytest

from dispatch.bench import _callgrind_total, planning_instructions


def test_callgrind_total_is_read_from_the_summary_line() -> None:
    text = "version: 1\ncreator: callgrind-3.19.0\nevents: Ir\nfn=x\n0 12\nsummary: 123456\n"
    assert _callgrind_total(text) == 123456
    assert _callgrind_total("events: Ir\ntotals: 99\n") == 99
    with pytest.raises(ValueError):
        _callgrind_total("events: Ir\n")


def test_an_unknown_case_is_named() -> None:
    assert "no case 'nowhere'" in planning_instructions("nowhere")
