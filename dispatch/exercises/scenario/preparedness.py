"""Community plans in replay (a compatible extension of `dispatch-scenario/1`): a file may
turn on what the real world does when an incident is declared where an approved plan
answers it, and say how the simulated people answer. A file without the key (or with
`activate: false`) starts no plan, exactly as before.

    preparedness:
      activate: true                  # required: declaring an incident starts the plans
      no_answer_share: 0.15           # each call-out is never answered with this chance,
      decline_share: 0.1              #   declined (with a reason) with this one; the rest
                                      #   are acknowledged (coming, with an ETA)
      answer_delay: {around: 6m, distribution: normal, spread: 3m}   # sent -> answered
      eta: {around: 20m, distribution: uniform, spread: 10m}        # the ETA acknowledged
      households: 6                   # households each evacuation task of a plan brings
      household_size: {around: 3, distribution: uniform, spread: 2} #   people in one

`distribution` and `spread` are the variation's (`uniform` in ±spread, `normal` with the
spread as its standard deviation cut at three, `triangular` peaking at `around`); delays
and ETAs are durations, at least a minute once drawn, household sizes whole people, at
least one. The shares are each in [0, 1] and together at most 1. How the replay plays
them (seeded draws per call-out and per evacuation) is in
`dispatch.exercises.replay.preparedness`.
"""

from __future__ import annotations

import dataclasses
from collections.abc import Callable
from typing import Any

from yaml.nodes import Node

from dispatch.exercises.scenario.model import DISTRIBUTIONS, Around, Preparedness, Spread
from dispatch.exercises.scenario.reading import Checker, join_path

PATH = "preparedness"
KEYS = (
    "no_answer_share",
    "decline_share",
    "answer_delay",
    "eta",
    "households",
    "household_size",
)
HOUSEHOLDS_MAX = 500  # households one evacuation task brings (a plan's task, a few lanes)
HOUSEHOLD_MAX = 20  # people in one household


class PreparednessChecks(Checker):
    """The `preparedness` map, every problem with its line."""

    def preparedness(self, node: Node) -> Preparedness | None:
        fields = self.mapping(node, PATH, required=("activate",), allowed=KEYS)
        if fields is None or "activate" not in fields:
            return None
        default = Preparedness()
        readers: dict[str, Callable[[Node, str], Any]] = {
            "activate": self.boolean,
            "no_answer_share": self._share,
            "decline_share": self._share,
            "answer_delay": lambda n, p: self._around(n, p, seconds=True),
            "eta": lambda n, p: self._around(n, p, seconds=True),
            "households": self._households,
            "household_size": lambda n, p: self._around(n, p, seconds=False),
        }
        given = {
            key: read(fields[key][1], join_path(PATH, key))
            for key, read in readers.items()
            if key in fields
        }
        if any(value is None for value in given.values()):
            return None
        made = dataclasses.replace(default, **given)
        if made.no_answer_share + made.decline_share > 1:
            where = fields.get("decline_share") or fields["no_answer_share"]
            self.fail(
                where[1],
                join_path(PATH, "decline_share"),
                f"no_answer_share and decline_share add up to "
                f"{made.no_answer_share + made.decline_share:g}: at most 1",
            )
            return None
        return made

    def _share(self, node: Node, path: str) -> float | None:
        return self.number(node, path, positive=False, lo=0.0, hi=1.0)

    def _households(self, node: Node, path: str) -> int | None:
        value = self.integer(node, path, minimum=0)
        if value is not None and value > HOUSEHOLDS_MAX:
            self.fail(node, path, f"must be at most {HOUSEHOLDS_MAX}")
            return None
        return value

    def _around(self, node: Node, path: str, *, seconds: bool) -> Around | None:
        """`{around, distribution, spread}`: durations for times, people for sizes."""
        fields = self.mapping(node, path, required=("around", "distribution", "spread"))
        if fields is None or not {"around", "distribution", "spread"} <= fields.keys():
            return None
        distribution = self.choice(
            fields["distribution"][1], f"{path}.distribution", DISTRIBUTIONS, "distribution"
        )
        around: float | None
        spread: float | None
        if seconds:
            moved = self.duration(fields["around"][1], f"{path}.around")
            around = None if moved is None else moved.total_seconds()
            wide = self.duration(fields["spread"][1], f"{path}.spread")
            spread = None if wide is None else wide.total_seconds()
        else:
            top = float(HOUSEHOLD_MAX)
            around = self.number(fields["around"][1], f"{path}.around", lo=1, hi=top)
            spread = self.number(
                fields["spread"][1], f"{path}.spread", positive=False, lo=0, hi=top
            )
        if distribution is None or around is None or spread is None:
            return None
        return Around(around, Spread(distribution, spread))
