"""Reading the composed YAML: the `Checker` base of the validator, which walks nodes (they
keep their lines), reads scalars, looks places, depots, items and skills up in the
`Reference`, and collects every problem instead of stopping at the first."""

from __future__ import annotations

import re
from collections.abc import Callable, Iterable
from datetime import date, datetime, timedelta
from typing import Any, TypeAlias, TypeVar

import yaml
from yaml.nodes import MappingNode, Node, ScalarNode, SequenceNode

from dispatch.exercises.scenario.model import (
    Problem,
    Reference,
    parse_duration,
)

_SKILL = re.compile(r"^[a-z][a-z0-9_]{1,39}$")


T = TypeVar("T")
Fields: TypeAlias = dict[str, tuple[ScalarNode, Node]]


def line_of(node: Node) -> int:
    return int(node.start_mark.line) + 1


def join_path(path: str, key: str) -> str:
    return f"{path}.{key}" if path else key


def names_of(values: Iterable[str]) -> str:
    return ", ".join(sorted(values))


class Checker:
    """Walks the composed YAML (nodes keep their lines) and collects every problem."""

    def __init__(self, reference: Reference) -> None:
        self.ref = reference
        self.problems: list[Problem] = []
        self.broken_incidents: set[str] = set()  # keys of refused incidents: no cascade
        self._constructor = yaml.SafeLoader("")

    def fail(self, node: Node, path: str, message: str) -> None:
        self.problems.append(Problem(line_of(node), path, message))

    # -- structure

    def mapping(
        self, node: Node, path: str, required: Iterable[str] = (), allowed: Iterable[str] = ()
    ) -> Fields | None:
        """The keys of a map with their nodes; flags missing, unknown and repeated keys."""
        if not isinstance(node, MappingNode):
            self.fail(node, path, "must be a map of keys and values")
            return None
        found: Fields = {}
        known = set(required) | set(allowed)
        for key_node, value_node in node.value:
            if not isinstance(key_node, ScalarNode) or key_node.tag != "tag:yaml.org,2002:str":
                self.fail(key_node, path, "keys must be plain names")
                continue
            key = str(key_node.value)
            if key in found:
                self.fail(key_node, join_path(path, key), "appears twice")
                continue
            found[key] = (key_node, value_node)
            if known and key not in known:
                self.fail(
                    key_node, join_path(path, key), f"unknown key (allowed: {names_of(known)})"
                )
        for key in required:
            if key not in found:
                self.fail(node, join_path(path, key), "missing required key")
        return found

    def sequence(self, node: Node, path: str) -> list[Node] | None:
        if not isinstance(node, SequenceNode):
            self.fail(node, path, "must be a list")
            return None
        return list(node.value)

    def each(
        self, node: Node, path: str, convert: Callable[[Node, str], T | None]
    ) -> tuple[T, ...] | None:
        items = self.sequence(node, path)
        if items is None:
            return None
        out = [convert(item, f"{path}[{i}]") for i, item in enumerate(items)]
        if any(v is None for v in out):
            return None
        return tuple(v for v in out if v is not None)

    # -- scalars

    def scalar(self, node: Node, path: str) -> Any:
        if not isinstance(node, ScalarNode):
            self.fail(node, path, "must be a single value, not a list or map")
            return None
        return self._constructor.construct_object(node, deep=True)

    def raw(self, node: Node, path: str) -> str | None:
        """The scalar's text as written (dates and times are read from it, not from YAML)."""
        if not isinstance(node, ScalarNode):
            self.fail(node, path, "must be a single value, not a list or map")
            return None
        return str(node.value)

    def text(self, node: Node, path: str) -> str | None:
        value = self.raw(node, path)
        if value is None:
            return None
        if node.tag == "tag:yaml.org,2002:null" or not value.strip():
            self.fail(node, path, "must not be empty")
            return None
        return value.strip()

    def integer(self, node: Node, path: str, minimum: int = 1) -> int | None:
        value = self.scalar(node, path)
        if not isinstance(node, ScalarNode):
            return None
        if isinstance(value, bool) or not isinstance(value, int) or value < minimum:
            what = "a positive integer" if minimum == 1 else f"an integer >= {minimum}"
            self.fail(node, path, f"must be {what}")
            return None
        return value

    def number(
        self,
        node: Node,
        path: str,
        *,
        positive: bool = True,
        lo: float | None = None,
        hi: float | None = None,
    ) -> float | None:
        value = self.scalar(node, path)
        if isinstance(value, bool) or not isinstance(value, int | float):
            if isinstance(node, ScalarNode):
                self.fail(node, path, "must be a number")
            return None
        number = float(value)
        if positive and number <= 0:
            self.fail(node, path, "must be a positive number")
            return None
        if (lo is not None and number < lo) or (hi is not None and number > hi):
            self.fail(node, path, f"must be between {lo} and {hi}")
            return None
        return number

    def boolean(self, node: Node, path: str) -> bool | None:
        value = self.scalar(node, path)
        if not isinstance(value, bool):
            if isinstance(node, ScalarNode):
                self.fail(node, path, "must be true or false")
            return None
        return value

    def choice(self, node: Node, path: str, allowed: Iterable[str], what: str) -> str | None:
        value = self.raw(node, path)
        options = tuple(allowed)
        if value is None:
            return None
        if value not in options:
            self.fail(node, path, f"unknown {what} {value!r} (one of: {', '.join(options)})")
            return None
        return value

    def duration(self, node: Node, path: str, what: str = "duration") -> timedelta | None:
        value = self.raw(node, path)
        if value is None:
            return None
        parsed = parse_duration(value)
        if parsed is None:
            self.fail(
                node,
                path,
                f"bad {what} {value!r}: a number and a unit s, m, h or d (90m, 1h30m, 12h, 2d)",
            )
        return parsed

    def day(self, node: Node, path: str) -> date | None:
        value = self.raw(node, path)
        if value is None:
            return None
        try:
            return date.fromisoformat(value.strip())
        except ValueError:
            self.fail(node, path, f"bad date {value!r}: ISO 8601, e.g. 2024-08-15")
            return None

    def moment(self, node: Node, path: str) -> datetime | None:
        value = self.raw(node, path)
        if value is None:
            return None
        try:
            parsed = datetime.fromisoformat(value.strip())
        except ValueError:
            parsed = None
        if parsed is None or parsed.tzinfo is None or "T" not in value.upper():
            self.fail(
                node,
                path,
                f"bad date and time {value!r}: ISO 8601 with an offset, "
                "e.g. 2024-07-30T18:00:00+08:00",
            )
            return None
        return parsed

    # -- references

    def community(self, node: Node, path: str) -> str | None:
        value = self.scalar(node, path)
        if value is None:
            return None
        text = str(value).strip()
        found = self.ref.community(text)
        if isinstance(found, list):
            self.fail(node, path, f"community name {text!r} is ambiguous; use one of {found}")
            return None
        if found is None:
            self.fail(node, path, f"unknown community {text!r} (a 12-digit code or exact name)")
        return found

    def street(self, node: Node, path: str) -> str | None:
        value = self.scalar(node, path)
        if value is None:
            return None
        found = self.ref.street(str(value).strip())
        if found is None:
            self.fail(node, path, f"unknown street {value!r} (a 9-digit code or exact name)")
        return found

    def depot(self, node: Node, path: str) -> str | None:
        value = self.raw(node, path)
        if value is not None and value not in self.ref.depots:
            self.fail(node, path, f"unknown depot {value!r}")
            return None
        return value

    def item(self, node: Node, path: str) -> str | None:
        value = self.raw(node, path)
        if value is not None and value not in self.ref.items:
            self.fail(node, path, f"unknown item {value!r} (codes: {names_of(self.ref.items)})")
            return None
        return value

    def skill(self, node: Node, path: str) -> str | None:
        value = self.raw(node, path)
        if value is None:
            return None
        if not _SKILL.match(value) or value not in self.ref.skills:
            self.fail(node, path, f"unknown skill {value!r} (known: {names_of(self.ref.skills)})")
            return None
        return value

    def skills(self, fields: Fields, path: str) -> tuple[str, ...] | None:
        if "skills" not in fields:
            return ()
        return self.each(fields["skills"][1], join_path(path, "skills"), self.skill)
