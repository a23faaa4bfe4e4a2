"""Seeded variation (a compatible extension of `dispatch-scenario/1`): a file may say how its
events vary from run to run, and a seed draws one concrete run of it.

One run says little: which request comes first, which road closes when, who answers a
call-out change the figures as much as a planning policy does. A trainer comparing
policies replays many drawn runs of one file (`dispatch replay FILE --runs 50`), each
the same for both policies (the same seed), and compares the figures with their spread.

    variation:
      event_times: {distribution: normal, spread: 5m}     # each event's offset moves
      quantities: {distribution: uniform, spread: 0.2}    # requests x (1 + U(-0.2, 0.2))
      closures:
        start: {distribution: uniform, spread: 15m}       # a closure begins earlier or later
        length: {distribution: normal, spread: 0.3}       # and lasts x (1 + N(0, 0.3))
      no_show: 0.1                                        # each person called stays away

A `spread` is a duration for times and a share for quantities and lengths. `uniform`
draws in [-spread, +spread]; `normal` has the spread as its standard deviation, cut at
three of them; `triangular` peaks at 0 within [-spread, +spread]. `no_show` is the
chance that each person of a check-in, or of `world.on_duty`, does not come.

What a draw keeps, so that every drawn run is a valid scenario: offsets stay within the
run; an event of an incident never comes before the incident is declared; a request's
`need_by` keeps its slack; a road opens again no earlier than it closed; quantities stay
whole and at least 1. Each kind of variation draws from its own stream (seeded by the
run's seed and the kind), so adding one kind to a file leaves the others' draws as they
were. A file without `variation` is its own only run: `drawn` returns it unchanged, and
its history hash is the one it always had.
"""

from __future__ import annotations

import dataclasses
import random
from datetime import timedelta
from typing import Any

from yaml.nodes import Node

from dispatch.exercises.scenario.model import (
    DISTRIBUTIONS,
    Call,
    CheckIn,
    CloseRoad,
    Event,
    ImpliedRequest,
    Incident,
    OpenRoad,
    Request,
    Scenario,
    Spread,
    StandDown,
    Variation,
)
from dispatch.exercises.scenario.reading import Checker

__all__ = ["DISTRIBUTIONS", "Spread", "Variation", "VariationChecks", "drawn"]


class VariationChecks(Checker):
    """The `variation` map, every problem with its line."""

    def variation(self, node: Node) -> Variation | None:
        fields = self.mapping(
            node, "variation", allowed=("event_times", "quantities", "closures", "no_show")
        )
        if fields is None:
            return None

        def spread(key: str, path: str, *, seconds: bool, within: Any) -> Spread | None:
            return self._spread(within[key][1], path, seconds=seconds) if key in within else None

        closures: Any = {}
        if "closures" in fields:
            closures = (
                self.mapping(fields["closures"][1], "variation.closures", (), ("start", "length"))
                or {}
            )
        no_show = 0.0
        if "no_show" in fields:
            no_show = (
                self.number(fields["no_show"][1], "variation.no_show", positive=False, lo=0, hi=1)
                or 0.0
            )
        return Variation(
            event_times=spread("event_times", "variation.event_times", seconds=True, within=fields),
            quantities=spread("quantities", "variation.quantities", seconds=False, within=fields),
            closure_start=spread(
                "start", "variation.closures.start", seconds=True, within=closures
            ),
            closure_length=spread(
                "length", "variation.closures.length", seconds=False, within=closures
            ),
            no_show=no_show,
        )

    def _spread(self, node: Node, path: str, *, seconds: bool) -> Spread | None:
        fields = self.mapping(node, path, required=("distribution", "spread"))
        if fields is None or "distribution" not in fields or "spread" not in fields:
            return None
        distribution = self.choice(
            fields["distribution"][1], f"{path}.distribution", DISTRIBUTIONS, "distribution"
        )
        value: float | None
        if seconds:
            moved = self.duration(fields["spread"][1], f"{path}.spread")
            value = None if moved is None else moved.total_seconds()
        else:
            value = self.number(fields["spread"][1], f"{path}.spread", positive=False, lo=0, hi=1)
        if distribution is None or value is None:
            return None
        return Spread(distribution, value)


def drawn(scenario: Scenario, seed: int | None = None) -> Scenario:
    """The concrete run that `seed` (the file's own by default) draws from the scenario's
    variation; the scenario itself when it declares none.

    Examples
    --------
    >>> from datetime import datetime, timedelta, timezone
    >>> plain = Scenario("s", datetime(2024, 7, 30, tzinfo=timezone.utc), timedelta(hours=1), ())
    >>> drawn(plain, seed=3) is plain
    True
    """
    variation: Variation | None = getattr(scenario, "variation", None)
    run_seed = scenario.seed if seed is None else seed
    if variation is None:
        return scenario if seed is None else dataclasses.replace(scenario, seed=run_seed)
    events = list(scenario.events)
    events = _moved_in_time(
        events, variation.event_times, _stream(run_seed, "times"), scenario.duration
    )
    events = _closures_moved(events, variation, _stream(run_seed, "closures"), scenario.duration)
    events = _quantities_drawn(events, variation.quantities, _stream(run_seed, "quantities"))
    events = _people_who_come(events, variation.no_show, _stream(run_seed, "no_show"))
    events = _in_order(events)
    world = scenario.world
    if variation.no_show:
        rng = _stream(run_seed, "no_show_roster")
        on_duty = tuple(
            dataclasses.replace(d, people=_came(d.people, variation.no_show, rng))
            for d in world.on_duty
        )
        world = dataclasses.replace(world, on_duty=tuple(d for d in on_duty if d.people > 0))
    return dataclasses.replace(scenario, seed=run_seed, events=tuple(events), world=world)


def _stream(seed: int, kind: str) -> random.Random:
    """One kind's draws: a string seed is hashed (SHA-512) the same way in every process."""
    return random.Random(f"dispatch-variation:{seed}:{kind}")


def _shifted(at: timedelta, by_s: float, duration: timedelta) -> timedelta:
    seconds = min(max(at.total_seconds() + by_s, 0.0), duration.total_seconds())
    return timedelta(seconds=round(seconds))


def _moved_in_time(
    events: list[Event], spread: Spread | None, rng: random.Random, duration: timedelta
) -> list[Event]:
    """Every event's offset moved by one draw (in file order, one draw each), but for the
    incidents' declarations and stand-downs, which frame the rest: an incident's events
    stay between the two, and a request's need_by moves with it."""
    if spread is None:
        return events
    frames = _frames(events, duration)
    moved: list[Event] = []
    for event in sorted(events, key=lambda e: e.index):
        by_s = spread.draw(rng)
        if isinstance(event, Incident | StandDown):
            moved.append(event)
            continue
        at = _shifted(event.at, by_s, duration)
        incident = getattr(event, "incident", None)
        if incident in frames:
            opens, closes = frames[incident]
            at = min(max(at, opens), closes)
        if isinstance(event, Request) and event.need_by is not None:
            moved.append(dataclasses.replace(event, at=at, need_by=event.need_by + (at - event.at)))
        else:
            moved.append(dataclasses.replace(event, at=at))
    return moved


def _frames(events: list[Event], duration: timedelta) -> dict[str, tuple[timedelta, timedelta]]:
    """Each incident's declaration and stand-down (the run's end if it is never stood down)."""
    frames = {e.key: (e.at, duration) for e in events if isinstance(e, Incident)}
    for event in events:
        if isinstance(event, StandDown) and event.incident in frames:
            frames[event.incident] = (frames[event.incident][0], event.at)
    return frames


def _closures_moved(
    events: list[Event], variation: Variation, rng: random.Random, duration: timedelta
) -> list[Event]:
    """Each closure starts earlier or later and lasts longer or shorter; the road opens
    again (the next `open_road` of the same shape) that much later, never before."""
    if variation.closure_start is None and variation.closure_length is None:
        return events
    out = list(events)
    for i, event in enumerate(out):
        if not isinstance(event, CloseRoad):
            continue
        start_s = variation.closure_start.draw(rng) if variation.closure_start else 0.0
        factor = 1 + (variation.closure_length.draw(rng) if variation.closure_length else 0.0)
        begins = _shifted(event.at, start_s, duration)
        out[i] = dataclasses.replace(event, at=begins)
        for j in range(i + 1, len(out)):
            ends = out[j]
            if isinstance(ends, OpenRoad) and ends.closure == event.closure:
                length_s = max((ends.at - event.at).total_seconds(), 0.0) * max(factor, 0.0)
                out[j] = dataclasses.replace(ends, at=_shifted(begins, length_s, duration))
                break
    return out


def _quantities_drawn(
    events: list[Event], spread: Spread | None, rng: random.Random
) -> list[Event]:
    """Requested quantities (and those a call asks for) times one draw each, whole, >= 1."""
    if spread is None:
        return events

    def varied(quantity: int) -> int:
        return max(1, round(quantity * (1 + spread.draw(rng))))

    out: list[Event] = []
    for event in events:
        if isinstance(event, Request):
            event = dataclasses.replace(event, quantity=varied(event.quantity))
        elif isinstance(event, Call) and event.request is not None:
            asked = event.request
            event = dataclasses.replace(
                event, request=ImpliedRequest(asked.item, varied(asked.quantity), asked.priority)
            )
        out.append(event)
    return out


def _came(people: int, no_show: float, rng: random.Random) -> int:
    return sum(1 for _ in range(people) if rng.random() >= no_show)


def _people_who_come(events: list[Event], no_show: float, rng: random.Random) -> list[Event]:
    """Each person of a check-in comes with the chance 1 - no_show (a check-in nobody
    answers is dropped)."""
    if not no_show:
        return events
    out: list[Event] = []
    for event in events:
        if isinstance(event, CheckIn):
            event = dataclasses.replace(event, people=_came(event.people, no_show, rng))
            if event.people == 0:
                continue
        out.append(event)
    return out


def _in_order(events: list[Event]) -> list[Event]:
    """By offset, file order at equal offsets (as the file's own events are)."""
    return sorted(events, key=lambda e: (e.at, e.index))
