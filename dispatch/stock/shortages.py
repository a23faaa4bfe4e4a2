"""The shortage refusal: a 409 naming item, depot, asked and available for every line that
cannot be had, with the names people read (zh-CN first)."""

from __future__ import annotations

from typing import Any

import asyncpg

from dispatch.errors import Conflict

__all__ = ["Shortage", "shortage", "shortages"]


class Shortage(Conflict):
    """409 naming item, depot, asked and available; with several lines short, every one
    is listed in `shortages` (the first also at the top, for older clients)."""

    code = "stock.shortage"


def shortage(depot: str, item: str, asked: int, available: int, name: str) -> Shortage:
    return Shortage(
        f"not enough {item} at {depot}: asked {asked}, available {available}",
        field=name,
        params={"item": item, "depot": depot, "asked": asked, "available": available},
        item=item,
        depot=depot,
        asked=asked,
        available=available,
    )


async def shortages(conn: asyncpg.Connection, depot: str, short: list[dict[str, Any]]) -> Shortage:
    """One refusal for every short line, with the names people read (depot, item)."""
    names = await conn.fetch(
        "SELECT code, name_zh, name_en, unit FROM item WHERE code = ANY($1::varchar[])",
        [s["item"] for s in short],
    )
    depot_name = await conn.fetchval("SELECT name FROM depot WHERE code=$1", depot)
    by_code = {r["code"]: r for r in names}
    listed = []
    for s in short:
        item = by_code.get(s["item"])
        listed.append(
            {
                **{k: v for k, v in s.items() if k != "line"},
                "depot": depot,
                "field": s.get("field") or f"lines[{s['line']}].qty",
                "item_name": item["name_zh"] if item else s["item"],
                "item_name_en": item["name_en"] if item else s["item"],
                "unit": item["unit"] if item else "",
            }
        )
    first = listed[0]
    what = "; ".join(f"{s['item']}: asked {s['asked']}, available {s['available']}" for s in listed)
    error = shortage(depot, first["item"], first["asked"], first["available"], first["field"])
    error.detail = f"not enough at {depot}: {what}"
    error.args = (error.detail,)
    lines = "；".join(
        f"{s['item_name']} 需要 {s['asked']}{s['unit']}、现有 {s['available']}{s['unit']}"
        for s in listed
    )
    error.params = {**error.params, "depot_name": depot_name or depot, "count": len(listed)}
    error.params["lines"] = lines
    error.params["lines_en"] = "; ".join(
        f"{s['item_name_en']} asked {s['asked']} {s['unit']}, available {s['available']}"
        for s in listed
    )
    error.code = "stock.shortage" if len(listed) == 1 else "stock.shortages"
    error.extra["shortages"] = listed
    return error
