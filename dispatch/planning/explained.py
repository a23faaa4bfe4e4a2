"""A plan's explanations as a reader says them: each transfer's and each unmet line's
message `code` with its `params`, the depots, items and communities named (zh-CN names,
and the item's English one), so a page renders them in its language and never shows a raw
code. The English sentence stays beside them for the CLI and the logs."""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass
from typing import Any

import asyncpg

from geo.planning import Plan as GeoPlan

__all__ = ["Names", "names_for", "unmet_json"]

DEPOT_KEYS = ("depot", "next_best")  # params naming one depot
DEPOT_LISTS = ("out", "depots")  # params listing depots


@dataclass(frozen=True)
class Names:
    """What the plan's codes are called."""

    depots: dict[str, str]
    items: dict[str, tuple[str, str]]  # (zh, en)
    communities: dict[str, str]

    def named(self, code: str, params: dict[str, Any]) -> dict[str, Any]:
        """The message's params with a `<key>_name` beside each code (lists joined)."""
        p = dict(params)
        for key in DEPOT_KEYS:
            if key in p:
                p[f"{key}_name"] = self.depots.get(p[key], p[key])
        for key in DEPOT_LISTS:
            if key in p:
                p[f"{key}_names"] = "、".join(self.depots.get(d, d) for d in p[key])
        if "item" in p:
            p["item_name"], p["item_name_en"] = self.items.get(p["item"], (p["item"], p["item"]))
        if "community" in p:
            p["community_name"] = self.communities.get(p["community"], p["community"])
        return {"code": code, "params": p}


def _codes(result: GeoPlan) -> tuple[set[str], set[str], set[str]]:
    depots: set[str] = set()
    items: set[str] = set()
    communities: set[str] = set()
    coded = [t.coded for t in result.transfers] + [u.coded for u in result.unmet]
    for _, params in coded:
        depots.update(params[k] for k in DEPOT_KEYS if k in params)
        for key in DEPOT_LISTS:
            depots.update(params.get(key, ()))
        if "item" in params:
            items.add(params["item"])
        if "community" in params:
            communities.add(params["community"])
    items.update(t.item for t in result.transfers)
    return depots, items, communities


async def names_for(conn: asyncpg.Connection, result: GeoPlan) -> Names:
    """The names of every depot, item and community the plan's explanations cite (three
    queries, whatever the plan's size)."""
    depots, items, communities = _codes(result)

    async def pairs(sql: str, codes: Iterable[str]) -> list[asyncpg.Record]:
        return list(await conn.fetch(sql, sorted(codes)))

    return Names(
        {
            r["code"]: r["name"]
            for r in await pairs("SELECT code, name FROM depot WHERE code = ANY($1)", depots)
        },
        {
            r["code"]: (r["name_zh"], r["name_en"])
            for r in await pairs(
                "SELECT code, name_zh, name_en FROM item WHERE code = ANY($1)", items
            )
        },
        {
            r["code"]: r["name"]
            for r in await pairs(
                "SELECT code, name FROM community WHERE code = ANY($1)", communities
            )
        },
    )


def unmet_json(result: GeoPlan, names: Names) -> list[dict[str, Any]]:
    """What the plan leaves unmet, as stored on the plan and shown with it: the figures,
    the English sentences, and the explanation's code and params."""
    return [
        {
            "request": int(u.demand_id),
            "community": u.community,
            "item": u.item,
            "priority": u.priority,
            "quantity": u.quantity,
            "reason": u.reason,
            "needed": u.needed,
            "explanation": u.explanation,
            **names.named(*u.coded),
        }
        for u in result.unmet
    ]
