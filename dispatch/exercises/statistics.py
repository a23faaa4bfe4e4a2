"""Figures over many seeded runs: the mean with its 95 % interval, and for two policies run
on the same seeds the paired difference with its interval and a sign test.

Paired runs share their seed, so what chance changes (which request comes first, which
road closes when) changes both policies alike; the difference per seed carries far less
noise than either figure. The interval of a mean is Student's t; the sign test counts the
seeds where one policy did better (ties left out) against a fair coin, so it assumes
nothing of the differences' distribution.
"""

from __future__ import annotations

import math
from collections.abc import Sequence
from dataclasses import dataclass

from scipy import stats

__all__ = ["Comparison", "Summary", "compare", "summarise"]


@dataclass(frozen=True)
class Summary:
    """One figure over the runs: n values, their mean and its 95 % interval."""

    n: int
    mean: float | None
    low: float | None
    high: float | None
    values: tuple[float, ...]


@dataclass(frozen=True)
class Comparison:
    """B minus A, seed by seed: its summary, how often B was above, below or equal, and the
    sign test's two-sided p-value (None when every pair tied)."""

    difference: Summary
    above: int
    below: int
    ties: int
    p_value: float | None


def summarise(values: Sequence[float | None], *, confidence: float = 0.95) -> Summary:
    """Mean and t interval of the values given (None: the run had no such figure).

    Examples
    --------
    >>> s = summarise([1.0, 2.0, 3.0])
    >>> s.mean, round(s.low, 3), round(s.high, 3)
    (2.0, -0.484, 4.484)
    """
    known = tuple(float(v) for v in values if v is not None and math.isfinite(float(v)))
    n = len(known)
    if n == 0:
        return Summary(0, None, None, None, known)
    mean = sum(known) / n
    if n == 1:
        return Summary(1, mean, None, None, known)
    sd = math.sqrt(sum((v - mean) ** 2 for v in known) / (n - 1))
    half = float(stats.t.ppf((1 + confidence) / 2, n - 1)) * sd / math.sqrt(n)
    return Summary(n, mean, mean - half, mean + half, known)


def compare(
    a: Sequence[float | None], b: Sequence[float | None], *, confidence: float = 0.95
) -> Comparison:
    """The paired difference b - a over the seeds where both runs have the figure.

    Examples
    --------
    >>> c = compare([1, 2, 3, 4], [2, 3, 4, 4])
    >>> c.above, c.below, c.ties, round(c.p_value, 3)
    (3, 0, 1, 0.25)
    """
    pairs = [(x, y) for x, y in zip(a, b, strict=True) if x is not None and y is not None]
    differences = [float(y) - float(x) for x, y in pairs]
    above = sum(1 for d in differences if d > 0)
    below = sum(1 for d in differences if d < 0)
    ties = len(differences) - above - below
    p_value = None
    if above + below:
        p_value = float(stats.binomtest(above, above + below, 0.5).pvalue)
    return Comparison(summarise(differences, confidence=confidence), above, below, ties, p_value)
