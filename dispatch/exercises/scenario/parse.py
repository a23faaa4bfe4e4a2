"""The whole file: `ScenarioChecker` (world, events and expect checks together) reads the
top level, and `parse_scenario` / `load_scenario` are the entry points."""

from __future__ import annotations

from collections.abc import Callable
from datetime import timedelta
from pathlib import Path
from typing import Any

import yaml
from yaml.nodes import Node, ScalarNode

from dispatch.exercises.scenario.events import EventChecks
from dispatch.exercises.scenario.expect import ExpectChecks
from dispatch.exercises.scenario.model import (
    FORMAT,
    PREPAREDNESS_FIGURES,
    Bound,
    Event,
    Policy,
    Problem,
    Reference,
    Scenario,
    ScenarioError,
    World,
)
from dispatch.exercises.scenario.preparedness import PreparednessChecks
from dispatch.exercises.scenario.reading import line_of
from dispatch.exercises.scenario.variation import VariationChecks

TOP_OPTIONAL = ("description", "seed", "policy", "world", "expect", "variation", "preparedness")


class ScenarioChecker(EventChecks, ExpectChecks, VariationChecks, PreparednessChecks):
    """Walks the composed YAML (nodes keep their lines) and collects every problem."""

    def scenario(self, root: Node, source: str) -> Scenario | None:
        top = self.mapping(
            root,
            "",
            required=("format", "name", "start", "duration", "events"),
            allowed=TOP_OPTIONAL,
        )
        if top is None:
            return None

        def get(key: str, convert: Callable[[Node, str], Any]) -> Any:
            return convert(top[key][1], key) if key in top else None

        tag = get("format", self.raw)
        if tag is not None and tag != FORMAT:
            self.fail(top["format"][1], "format", f"must be {FORMAT!r}, not {tag!r}")
        name = get("name", self.text)
        description = get("description", self.raw) or ""
        seed = get("seed", lambda n, p: self.integer(n, p, minimum=0)) if "seed" in top else 0
        start = get("start", self.moment)
        duration = get("duration", self.duration)
        if duration is not None and duration <= timedelta(0):
            self.fail(top["duration"][1], "duration", "must be more than 0")
            duration = None
        policy = self.policy(top["policy"][1]) if "policy" in top else Policy()
        world = self.world(top["world"][1]) if "world" in top else World()
        events: list[Event] = []
        if "events" in top:
            node = top["events"][1]
            empty = isinstance(node, ScalarNode) and node.tag == "tag:yaml.org,2002:null"
            items = [] if empty else self.sequence(node, "events") or []
            for i, item in enumerate(items):
                event = self.event(item, i)
                if event is not None:
                    events.append(event)
        events.sort(key=lambda e: e.at)  # stable: file order kept at equal offsets
        self.check_timeline(events, duration, policy)
        expect = self.expect(top["expect"][1]) if "expect" in top else []
        variation = self.variation(top["variation"][1]) if "variation" in top else None
        preparedness = None
        if "preparedness" in top:
            preparedness = self.preparedness(top["preparedness"][1])
        self._plans_figures(expect, preparedness is not None and preparedness.activate, root)
        if self.problems:
            return None
        return Scenario(
            name=name,
            start=start,
            duration=duration,
            events=tuple(events),
            format=FORMAT,
            description=description,
            seed=seed,
            policy=policy,
            world=world,
            expect=tuple(expect),
            source=source,
            variation=variation,
            preparedness=preparedness,
        )

    def _plans_figures(self, expect: list[Bound], plans_run: bool, root: Node) -> None:
        """A bound on a plans' figure needs plans that run: the figure is absent otherwise."""
        if plans_run:
            return
        for bound in expect:
            if bound.figure in PREPAREDNESS_FIGURES:
                self.problems.append(
                    Problem(
                        bound.line or line_of(root),
                        f"expect.{bound.figure}",
                        "a figure of community plans: only with preparedness.activate: true",
                    )
                )


def parse_scenario(text: str, reference: Reference, source: str = "<scenario>") -> Scenario:
    """The typed scenario in `text`, or `ScenarioError` listing every problem."""
    try:
        root = yaml.compose(text, Loader=yaml.SafeLoader)
    except yaml.MarkedYAMLError as exc:
        mark = exc.problem_mark or exc.context_mark
        line = int(mark.line) + 1 if mark is not None else 1
        raise ScenarioError(
            [Problem(line, "", f"not valid YAML: {exc.problem or exc}")], source
        ) from exc
    except yaml.YAMLError as exc:
        raise ScenarioError([Problem(1, "", f"not valid YAML: {exc}")], source) from exc
    if root is None:
        raise ScenarioError([Problem(1, "", "the file is empty")], source)
    checker = ScenarioChecker(reference)
    scenario = checker.scenario(root, source)
    if scenario is None or checker.problems:
        raise ScenarioError(checker.problems, source)
    return scenario


def load_scenario(path: Path, reference: Reference) -> Scenario:
    """Read and validate a scenario file (UTF-8)."""
    data = path.read_bytes()
    try:
        text = data.decode("utf-8")
    except UnicodeDecodeError as exc:
        line = data[: exc.start].count(b"\n") + 1
        raise ScenarioError([Problem(line, "", "the file is not UTF-8")], str(path)) from exc
    return parse_scenario(text, reference, str(path))
