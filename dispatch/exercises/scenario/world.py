"""Validation of the scenario's `world` (stock, people on duty, teams on call, depots
out, closed roads) and `policy`; a closure's shape is read here for events too."""

from __future__ import annotations

from datetime import timedelta
from typing import Any

from yaml.nodes import Node

from dispatch.exercises.scenario.model import (
    PLANNERS,
    VEHICLE_KINDS,
    Closure,
    FleetLine,
    OnDuty,
    Policy,
    StockLine,
    TeamOnCall,
    World,
)
from dispatch.exercises.scenario.reading import Checker, join_path


class WorldChecks(Checker):
    """The world and the policy."""

    def closure(self, node: Node, path: str) -> Closure | None:
        fields = self.mapping(node, path, allowed=("near", "radius_m", "edge"))
        if fields is None:
            return None
        if ("near" in fields) == ("edge" in fields):
            self.fail(node, path, "needs either near: [lat, lon] with radius_m, or edge: [u, v]")
            return None
        if "edge" in fields:
            if "radius_m" in fields:
                self.fail(fields["radius_m"][0], join_path(path, "radius_m"), "only goes with near")
            ends = self.pair(fields["edge"][1], join_path(path, "edge"), "two road node ids")
            if ends is None:
                return None
            u = self.integer(ends[0], join_path(path, "edge") + "[0]", minimum=0)
            v = self.integer(ends[1], join_path(path, "edge") + "[1]", minimum=0)
            return Closure(edge=(u, v)) if u is not None and v is not None else None
        near_path = join_path(path, "near")
        ends = self.pair(fields["near"][1], near_path, "[lat, lon]")
        radius = None
        if "radius_m" not in fields:
            self.fail(node, join_path(path, "radius_m"), "missing required key (with near)")
        else:
            radius = self.number(fields["radius_m"][1], join_path(path, "radius_m"))
        if ends is None:
            return None
        lat = self.number(ends[0], near_path + "[0]", positive=False, lo=-90, hi=90)
        lon = self.number(ends[1], near_path + "[1]", positive=False, lo=-180, hi=180)
        if lat is None or lon is None or radius is None:
            return None
        return Closure(near=(lat, lon), radius_m=radius)

    def pair(self, node: Node, path: str, what: str) -> tuple[Node, Node] | None:
        items = self.sequence(node, path)
        if items is None:
            return None
        if len(items) != 2:
            self.fail(node, path, f"must be {what}")
            return None
        return items[0], items[1]

    def stock_line(self, node: Node, path: str) -> StockLine | None:
        fields = self.mapping(node, path, ("depot", "item", "quantity"), ("expires",))
        if fields is None or not {"depot", "item", "quantity"} <= fields.keys():
            return None
        depot = self.depot(fields["depot"][1], join_path(path, "depot"))
        item = self.item(fields["item"][1], join_path(path, "item"))
        qty = self.integer(fields["quantity"][1], join_path(path, "quantity"), minimum=0)
        expires = (
            self.day(fields["expires"][1], join_path(path, "expires"))
            if "expires" in fields
            else None
        )
        if depot is None or item is None or qty is None:
            return None
        return StockLine(depot, item, qty, expires)

    def fleet_line(self, node: Node, path: str) -> FleetLine | None:
        optional = ("count", "payload_kg", "volume_m3", "crew")
        fields = self.mapping(node, path, ("depot", "kind"), optional)
        if fields is None or not {"depot", "kind"} <= fields.keys():
            return None
        depot = self.depot(fields["depot"][1], join_path(path, "depot"))
        kind = self.choice(fields["kind"][1], join_path(path, "kind"), VEHICLE_KINDS, "kind")
        count = 1
        if "count" in fields:
            count_ = self.integer(fields["count"][1], join_path(path, "count"), minimum=0)
            count = -1 if count_ is None else count_
        sizes = {
            key: self.number(fields[key][1], join_path(path, key))
            for key in ("payload_kg", "volume_m3")
            if key in fields
        }
        crew = self.integer(fields["crew"][1], join_path(path, "crew")) if "crew" in fields else 0
        if depot is None or kind is None or count < 0 or crew is None or None in sizes.values():
            return None
        return FleetLine(
            depot, kind, count, sizes.get("payload_kg"), sizes.get("volume_m3"), crew or None
        )

    def on_duty(self, node: Node, path: str) -> OnDuty | None:
        fields = self.mapping(node, path, ("community", "people"), ("skills",))
        if fields is None or not {"community", "people"} <= fields.keys():
            return None
        community = self.community(fields["community"][1], join_path(path, "community"))
        people = self.integer(fields["people"][1], join_path(path, "people"))
        skills = self.skills(fields, path)
        if community is None or people is None or skills is None:
            return None
        return OnDuty(community, people, skills)

    def team(self, node: Node, path: str) -> TeamOnCall | None:
        fields = self.mapping(node, path, ("id", "unit", "community", "size"), ("skills",))
        if fields is None or not {"id", "unit", "community", "size"} <= fields.keys():
            return None
        ident = self.text(fields["id"][1], join_path(path, "id"))
        unit = self.text(fields["unit"][1], join_path(path, "unit"))
        community = self.community(fields["community"][1], join_path(path, "community"))
        size = self.integer(fields["size"][1], join_path(path, "size"))
        skills = self.skills(fields, path)
        if None in (ident, unit, community, size, skills):
            return None
        assert ident is not None and unit is not None and community is not None
        assert size is not None and skills is not None
        return TeamOnCall(ident, unit, community, size, skills)

    def world(self, node: Node) -> World:
        keys = ("stock", "depots_out", "closed_roads", "on_duty", "teams", "fleet")
        fields = self.mapping(node, "world", allowed=keys)
        if fields is None:
            return World()
        parts: dict[str, Any] = {}
        if "stock" in fields:
            parts["stock"] = self.each(fields["stock"][1], "world.stock", self.stock_line)
        if "depots_out" in fields:
            parts["depots_out"] = self.each(fields["depots_out"][1], "world.depots_out", self.depot)
        if "closed_roads" in fields:
            parts["closed_roads"] = self.each(
                fields["closed_roads"][1], "world.closed_roads", self.closure
            )
        if "on_duty" in fields:
            parts["on_duty"] = self.each(fields["on_duty"][1], "world.on_duty", self.on_duty)
        if "teams" in fields:
            teams = self.each(fields["teams"][1], "world.teams", self.team)
            if teams is not None:
                seen: set[str] = set()
                for i, team in enumerate(teams):
                    if team.id in seen:
                        self.fail(fields["teams"][1], f"world.teams[{i}].id", "repeats a team id")
                    seen.add(team.id)
            parts["teams"] = teams
        if "fleet" in fields:
            parts["fleet"] = self.each(fields["fleet"][1], "world.fleet", self.fleet_line)
        return World(**{k: v for k, v in parts.items() if v is not None})

    # -- policy

    def policy(self, node: Node) -> Policy:
        keys = (
            "planner",
            "replan_every",
            "auto_approve",
            "assign_people",
            "vehicle_speed_kmh",
            "handling_minutes",
        )
        fields = self.mapping(node, "policy", allowed=keys)
        if fields is None:
            return Policy()
        parts: dict[str, Any] = {}
        if "planner" in fields:
            parts["planner"] = self.choice(
                fields["planner"][1], "policy.planner", PLANNERS, "planner"
            )
        if "replan_every" in fields:
            every = self.duration(fields["replan_every"][1], "policy.replan_every")
            if every is not None and every <= timedelta(0):
                self.fail(fields["replan_every"][1], "policy.replan_every", "must be more than 0")
                every = None
            parts["replan_every"] = every
        for flag in ("auto_approve", "assign_people"):
            if flag in fields:
                parts[flag] = self.boolean(fields[flag][1], f"policy.{flag}")
        if "vehicle_speed_kmh" in fields:
            parts["vehicle_speed_kmh"] = self.number(
                fields["vehicle_speed_kmh"][1], "policy.vehicle_speed_kmh"
            )
        if "handling_minutes" in fields:
            minutes = self.number(
                fields["handling_minutes"][1], "policy.handling_minutes", positive=False
            )
            if minutes is not None and minutes < 0:
                self.fail(fields["handling_minutes"][1], "policy.handling_minutes", "must be >= 0")
                minutes = None
            parts["handling_minutes"] = minutes
        return Policy(**{k: v for k, v in parts.items() if v is not None})
