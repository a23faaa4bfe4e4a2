"""The matching's skill and hour rules, judged per group of alike records, not per pair.

Thousands of people hold a few hundred distinct skill sets at most, and the daily limit
splits them by hours worked into at most one class more than there are distinct need
durations: the durations that still fit a person's day are always the shortest ones (a
prefix in ascending order), so a class is how many fit. Needs group by skill set and
duration. Each rule is judged once per pair of groups, and a full candidates x needs mask
is whole rows of a small one (``expand``); what the explanations of needs left short
count (anyone skilled, how many within hours) is read off the small matrices too.
"""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from dataclasses import dataclass

import numpy as np
from numpy.typing import NDArray

__all__ = ["Grouped", "Mask", "Rules", "dense", "expand", "rules"]


def expand(
    small: NDArray[np.bool_], rows: NDArray[np.intp], cols: NDArray[np.intp]
) -> NDArray[np.bool_]:
    """``small[rows][:, cols]`` at full size, built as columns of the few distinct rows first,
    then whole rows copied: no per-cell gather over the full matrix."""
    out: NDArray[np.bool_] = small.take(cols, axis=1)[rows]
    return out.reshape(rows.size, cols.size)


@dataclass(frozen=True)
class Grouped:
    """A boolean candidates x needs matrix held as whole rows of a small one: entry (i, j)
    is ``small[rows[i], cols[j]]``. Kept small where only some entries, or rows of some
    columns, are read."""

    small: NDArray[np.bool_]
    rows: NDArray[np.intp]
    cols: NDArray[np.intp]

    def full(self) -> NDArray[np.bool_]:
        return expand(self.small, self.rows, self.cols)

    def at(self, i: NDArray[np.intp], j: NDArray[np.intp]) -> NDArray[np.bool_]:
        out: NDArray[np.bool_] = self.small[self.rows[i], self.cols[j]]
        return out

    def count(self) -> int:
        """How many entries are true."""
        per_row = np.bincount(self.rows, minlength=self.small.shape[0])
        per_col = np.bincount(self.cols, minlength=self.small.shape[1])
        return int(per_row @ self.small.astype(np.int64) @ per_col)

    def any_per_row(self, among: NDArray[np.bool_] | None = None) -> NDArray[np.bool_]:
        """Per row: whether any entry is true (in the columns ``among``, if given)."""
        cols = self.cols if among is None else self.cols[among]
        present = np.bincount(cols, minlength=self.small.shape[1]) > 0
        return np.asarray(self.small[:, present].any(axis=1))[self.rows]

    def any_per_col(self) -> NDArray[np.bool_]:
        present = np.bincount(self.rows, minlength=self.small.shape[0]) > 0
        return np.asarray(self.small[present].any(axis=0))[self.cols]

    def row_sums(self, weights: NDArray[np.float64]) -> NDArray[np.float64]:
        """Per row: the sum of ``weights`` (one per column) where true."""
        per_col = np.bincount(self.cols, weights, minlength=self.small.shape[1]).astype(float)
        out: NDArray[np.float64] = (self.small.astype(np.float64) @ per_col)[self.rows]
        return out

    def col_sums(self, weights: NDArray[np.float64]) -> NDArray[np.float64]:
        """Per column: the sum of ``weights`` (one per row) where true."""
        per_row = np.bincount(self.rows, weights, minlength=self.small.shape[0]).astype(float)
        out: NDArray[np.float64] = (per_row @ self.small.astype(np.float64))[self.cols]
        return out


Mask = NDArray[np.bool_] | Grouped  # a candidates x needs mask, full or held small


def dense(mask: Mask) -> NDArray[np.bool_]:
    """The mask at full size."""
    return mask.full() if isinstance(mask, Grouped) else mask


@dataclass(frozen=True)
class Rules:
    """Skills and hours for candidates x needs, per group (the module says why).

    ``c_fit[i] > n_rank[j]`` is the hour rule: candidate ``i`` still has room for the
    ``c_fit[i]`` shortest of the distinct durations, and need ``j``'s is the
    ``n_rank[j]``-th shortest."""

    c_skill: NDArray[np.intp]  # each candidate's skill set: a row of ``covers``
    n_skill: NDArray[np.intp]  # each need's skill set: a column of ``covers``
    c_fit: NDArray[np.intp]  # how many of the distinct durations fit the candidate's day
    n_rank: NDArray[np.intp]  # the rank of the need's duration among the distinct ones
    covers: NDArray[np.bool_]  # candidates' x needs' skill sets: every required skill held
    held: frozenset[str]  # every skill some candidate has

    @property
    def durations(self) -> int:
        """How many distinct durations the needs have (``c_fit`` is 0 to that)."""
        return int(self.n_rank.max(initial=-1)) + 1

    def skilled(self) -> NDArray[np.bool_]:
        return expand(self.covers, self.c_skill, self.n_skill)

    def in_hours(self) -> NDArray[np.bool_]:
        out: NDArray[np.bool_] = self.c_fit[:, None] > self.n_rank[None, :]
        return out

    def timely(self) -> Mask:
        """Skilled and within hours: one small matrix over the (skill set, class) groups,
        held small, or, when those are not few (half as many as candidates), the two masks
        combined at full size."""
        width = self.durations + 1
        c_keys, c_group = np.unique(self.c_skill * width + self.c_fit, return_inverse=True)
        if 2 * c_keys.size > self.c_skill.size:
            return self.skilled() & self.in_hours()
        n_keys, n_group = np.unique(self.n_skill * width + self.n_rank, return_inverse=True)
        small = self.covers[np.ix_(c_keys // width, n_keys // width)]
        small &= (c_keys % width)[:, None] > (n_keys % width)[None, :]
        return Grouped(small, c_group.reshape(-1), n_group.reshape(-1))

    def per_need(self) -> tuple[NDArray[np.bool_], NDArray[np.int64]]:
        """For each need: whether any candidate has the skills, and how many have them and
        the hours (counted per skill set and class: no full-size pass)."""
        width = self.durations + 1
        count = np.bincount(
            self.c_skill * width + self.c_fit, minlength=self.covers.shape[0] * width
        ).reshape(self.covers.shape[0], width)
        # at_least[s, f]: candidates with skill set s and room for f or more durations
        at_least = count[:, ::-1].cumsum(axis=1)[:, ::-1]
        n_keys, n_group = np.unique(self.n_skill * width + self.n_rank, return_inverse=True)
        sets, ranks = n_keys // width, n_keys % width
        skilled = self.covers[:, sets]
        timely = (skilled * at_least[:, ranks + 1]).sum(axis=0, dtype=np.int64)
        any_skilled = np.asarray(skilled.any(axis=0))
        group = n_group.reshape(-1)
        return any_skilled[group], np.asarray(timely, dtype=np.int64)[group]


def rules(
    need_skills: Sequence[frozenset[str]],
    durations: Sequence[float],
    candidate_skills: Sequence[frozenset[str]],
    hours_worked: Sequence[float],
    hours_limit: float,
) -> Rules:
    """The rules for these needs (skills, hours) and candidates (skills, hours worked today)
    under a daily limit: within hours is ``hours_worked + duration <= hours_limit`` (to a
    nanohour), compared as ``worked <= limit + 1e-9 - duration``."""
    c_skill, c_sets = _grouped(candidate_skills)
    n_skill, n_sets = _grouped(need_skills)
    names = sorted(set().union(*c_sets, *n_sets))
    col = {name: i for i, name in enumerate(names)}
    has, wants = _skill_rows(c_sets, col), _skill_rows(n_sets, col)
    distinct, n_rank = np.unique(np.asarray(durations, dtype=float), return_inverse=True)
    worked = np.asarray(hours_worked, dtype=float)
    # a prefix of the ascending durations fits each day: the limit less each is
    # non-increasing (rounding keeps order), so the count of those that fit says which
    fits = worked[:, None] <= (hours_limit + 1e-9) - distinct[None, :]
    return Rules(
        c_skill=c_skill,
        n_skill=n_skill,
        c_fit=np.count_nonzero(fits, axis=1).astype(np.intp).reshape(worked.size),
        n_rank=n_rank.astype(np.intp).reshape(len(durations)),
        covers=(1.0 - has) @ wants.T < 0.5,  # no required skill missing (small exact counts)
        held=frozenset().union(*c_sets),
    )


def _grouped(sets: Iterable[frozenset[str]]) -> tuple[NDArray[np.intp], list[frozenset[str]]]:
    """Each record's set, and the distinct sets in order of first appearance."""
    index: dict[frozenset[str], int] = {}
    group = np.array([index.setdefault(x, len(index)) for x in sets], dtype=np.intp)
    return group, list(index)


def _skill_rows(sets: Sequence[frozenset[str]], col: dict[str, int]) -> NDArray[np.float32]:
    """The distinct skill sets as 0/1 rows over the skill names."""
    rows = np.zeros((len(sets), len(col)), dtype=np.float32)
    for g, skills in enumerate(sets):
        rows[g, [col[name] for name in skills]] = 1.0
    return rows
