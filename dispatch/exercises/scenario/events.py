"""Validation of the scenario's events: one action per event, its fields by the action's
table `_ACTIONS` (a `call`'s by `calls.CallChecks`), and the timeline (incidents before
what names them, offsets within the duration, approvals only without auto-approve)."""

from __future__ import annotations

from collections.abc import Callable
from datetime import timedelta
from typing import Any

from yaml.nodes import Node, ScalarNode

from dispatch.exercises.scenario.calls import CALL_OPTIONAL, CALL_REQUIRED, CallChecks
from dispatch.exercises.scenario.model import (
    INCIDENT_TYPES,
    LEVELS,
    PRIORITIES,
    TASK_KINDS,
    Approve,
    Call,
    CheckIn,
    CheckOut,
    CloseRoad,
    DepotBack,
    DepotOut,
    Event,
    Incident,
    OpenRoad,
    Policy,
    Problem,
    RaiseLevel,
    Receive,
    Request,
    StandDown,
    Task,
    format_duration,
)
from dispatch.exercises.scenario.reading import Fields, join_path, line_of

_ACTIONS: dict[str, tuple[type[Any], tuple[str, ...], tuple[str, ...]]] = {
    "incident": (Incident, ("key", "type", "level", "title", "communities"), ()),
    "request": (
        Request,
        ("incident", "community", "item", "quantity", "priority"),
        ("need_by",),
    ),
    "task": (Task, ("incident", "community", "kind", "people", "minutes"), ("skills",)),
    "close_road": (CloseRoad, (), ("near", "radius_m", "edge")),
    "open_road": (OpenRoad, (), ("near", "radius_m", "edge")),
    "depot_out": (DepotOut, ("depot",), ()),
    "depot_back": (DepotBack, ("depot",), ()),
    "receive": (Receive, ("depot", "item", "quantity"), ("expires",)),
    "check_in": (CheckIn, ("community", "people"), ("skills",)),
    "check_out": (CheckOut, ("community", "people"), ()),
    "approve": (Approve, ("plan",), ()),
    "stand_down": (StandDown, ("incident",), ()),
    "raise_level": (RaiseLevel, ("incident", "level"), ()),
    "call": (Call, CALL_REQUIRED, CALL_OPTIONAL),
}


class EventChecks(CallChecks):
    """The events and their timeline (closures read as the world reads them)."""

    def event(self, node: Node, index: int) -> Event | None:
        path = f"events[{index}]"
        fields = self.mapping(node, path)
        if fields is None:
            return None
        at = None
        if "at" not in fields:
            self.fail(node, join_path(path, "at"), "missing required key")
        else:
            at = self.duration(fields["at"][1], join_path(path, "at"), "offset")
        actions = [k for k in fields if k != "at"]
        known = [k for k in actions if k in _ACTIONS]
        for key in actions:
            if key not in _ACTIONS:
                self.fail(
                    fields[key][0],
                    join_path(path, key),
                    f"unknown action {key!r} (one of: {', '.join(_ACTIONS)})",
                )
        if not actions:
            self.fail(node, path, f"needs one action ({', '.join(_ACTIONS)})")
            return None
        if len(known) > 1:
            self.fail(
                fields[known[1]][0],
                join_path(path, known[1]),
                f"an event has exactly one action; this one also has {known[0]!r}",
            )
            return None
        if len(known) != 1 or len(actions) != 1:
            return None
        action = known[0]
        key_node, body = fields[action]
        action_path = join_path(path, action)
        kind, required, optional = _ACTIONS[action]
        if action in ("close_road", "open_road"):
            closure = self.closure(body, action_path)
            if closure is None or at is None:
                return None
            return kind(at=at, line=line_of(node), index=index, closure=closure)
        if isinstance(body, ScalarNode) and len(required) == 1 and not optional:
            values: Fields = {required[0]: (key_node, body)}
        else:
            shaped = self.mapping(body, action_path, required, optional)
            if shaped is None:
                return None
            values = shaped
        if not set(required) <= values.keys():
            return None
        parsed = self.action_fields(action, values, action_path)
        if action == "incident" and parsed is None and "key" in values:
            self.broken_incidents.add(str(values["key"][1].value))
        if parsed is None or at is None:
            return None
        return kind(at=at, line=line_of(node), index=index, **parsed)

    def action_fields(self, action: str, f: Fields, path: str) -> dict[str, Any] | None:
        def get(key: str, convert: Callable[[Node, str], Any]) -> Any:
            return convert(f[key][1], join_path(path, key)) if key in f else None

        out: dict[str, Any]
        if action == "call":  # optional fields stay None: its own checks say what is wrong
            return self.call_fields(f, path)
        if action == "incident":
            communities = get("communities", lambda n, p: self.each(n, p, self.community))
            if communities == ():
                self.fail(f["communities"][1], join_path(path, "communities"), "must not be empty")
                communities = None
            out = {
                "key": get("key", self.text),
                "type": get(
                    "type", lambda n, p: self.choice(n, p, sorted(INCIDENT_TYPES), "incident type")
                ),
                "level": get("level", lambda n, p: self.choice(n, p, LEVELS, "level")),
                "title": get("title", self.text),
                "communities": communities,
            }
        elif action == "request":
            return self.request_fields(f, path)
        elif action == "task":
            out = {
                "incident": get("incident", self.text),
                "community": get("community", self.community),
                "kind": get("kind", lambda n, p: self.choice(n, p, TASK_KINDS, "task kind")),
                "people": get("people", self.integer),
                "minutes": get("minutes", self.integer),
                "skills": self.skills(f, path),
            }
        elif action in ("depot_out", "depot_back"):
            out = {"depot": get("depot", self.depot)}
        elif action == "receive":
            out = {
                "depot": get("depot", self.depot),
                "item": get("item", self.item),
                "quantity": get("quantity", self.integer),
            }
            if "expires" in f:
                out["expires"] = get("expires", self.day)
                if out["expires"] is None:
                    return None
        elif action == "check_in":
            out = {
                "community": get("community", self.community),
                "people": get("people", self.integer),
                "skills": self.skills(f, path),
            }
        elif action == "check_out":
            out = {
                "community": get("community", self.community),
                "people": get("people", self.integer),
            }
        elif action == "approve":
            plan = get("plan", self.raw)
            if plan is not None and plan != "latest":
                self.fail(f["plan"][1], join_path(path, "plan"), f"must be 'latest', not {plan!r}")
                plan = None
            out = {"plan": plan}
        elif action == "raise_level":
            out = {
                "incident": get("incident", self.text),
                "level": get("level", lambda n, p: self.choice(n, p, LEVELS, "level")),
            }
        else:  # stand_down
            out = {"incident": get("incident", self.text)}
        if any(v is None for v in out.values()):
            return None
        return out

    def request_fields(self, f: Fields, path: str) -> dict[str, Any] | None:
        def get(key: str, convert: Callable[[Node, str], Any]) -> Any:
            return convert(f[key][1], join_path(path, key)) if key in f else None

        out = {
            "incident": get("incident", self.text),
            "community": get("community", self.community),
            "item": get("item", self.item),
            "quantity": get("quantity", self.integer),
            "priority": get("priority", lambda n, p: self.choice(n, p, PRIORITIES, "priority")),
        }
        if "need_by" in f:
            out["need_by"] = get("need_by", lambda n, p: self.duration(n, p, "offset"))
            if out["need_by"] is None:
                return None
        if any(v is None for v in out.values()):
            return None
        return out

    # -- expect

    def check_timeline(
        self, events: list[Event], duration: timedelta | None, policy: Policy
    ) -> None:
        """Offsets inside the run; incidents declared before they are used; approvals only
        when plans wait for them."""
        declared: dict[str, Incident] = {}
        for event in events:
            path = f"events[{event.index}]"
            if duration is not None and event.at > duration:
                self.problems.append(
                    Problem(
                        event.line,
                        f"{path}.at",
                        f"offset {format_duration(event.at)} is after the end of the "
                        f"scenario ({format_duration(duration)})",
                    )
                )
            if isinstance(event, Incident):
                if event.key in declared:
                    self.problems.append(
                        Problem(
                            event.line,
                            f"{path}.incident.key",
                            f"incident key {event.key!r} is already used "
                            f"(line {declared[event.key].line})",
                        )
                    )
                declared[event.key] = event
            elif isinstance(event, Request | Task | StandDown | RaiseLevel | Call):
                if event.incident is None:  # a call of no incident
                    continue
                if event.incident not in declared and event.incident not in self.broken_incidents:
                    self.problems.append(
                        Problem(
                            event.line,
                            f"{path}.{event.action}.incident",
                            f"no incident {event.incident!r} declared by then",
                        )
                    )
                if (
                    isinstance(event, Request)
                    and event.need_by is not None
                    and event.need_by < event.at
                ):
                    self.problems.append(
                        Problem(
                            event.line,
                            f"{path}.request.need_by",
                            "need_by (an offset from start) comes before the request",
                        )
                    )
            elif isinstance(event, Approve) and policy.auto_approve:
                self.problems.append(
                    Problem(
                        event.line,
                        f"{path}.approve",
                        "approve events need policy.auto_approve: false",
                    )
                )
