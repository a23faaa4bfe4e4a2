"""Validation of the scenario's `expect`: bounds on the report's figures, by dotted name
or nested map, each as `<op> <number>`."""

from __future__ import annotations

import re

from yaml.nodes import MappingNode, Node

from dispatch.exercises.scenario.model import (
    FIGURES,
    PREPAREDNESS_FIGURES,
    Bound,
)
from dispatch.exercises.scenario.reading import Checker, join_path, line_of, names_of

_BOUND = re.compile(r"^\s*(>=|<=|==|>|<)\s*(-?\d+(?:\.\d+)?)\s*$")


class ExpectChecks(Checker):
    """The bounds a run's report must hold."""

    def expect(self, node: Node, path: str = "expect") -> list[Bound]:
        fields = self.mapping(node, path)
        bounds: list[Bound] = []
        for key, (key_node, value) in (fields or {}).items():
            name = join_path(path, key)
            figure = name.removeprefix("expect.")
            if isinstance(value, MappingNode):
                bounds += self.expect(value, name)
                continue
            if figure not in FIGURES and figure not in PREPAREDNESS_FIGURES:
                known = names_of((*FIGURES, *PREPAREDNESS_FIGURES))
                self.fail(key_node, name, f"unknown report figure (known: {known})")
                continue
            text = self.raw(value, name)
            if text is None:
                continue
            found = _BOUND.match(text)
            if found is None:
                self.fail(
                    value,
                    name,
                    f'bad bound {text!r}: an operator and a number, quoted, e.g. ">= 0.9", '
                    '"<= 45", "== 9"',
                )
                continue
            bounds.append(Bound(figure, found.group(1), float(found.group(2)), line_of(value)))
        return bounds
