"""The catalogue (items and reserve standards loaded from reference CSVs, idempotently) and
the demo stock seeded into an empty ledger."""

from __future__ import annotations

import csv
import math
import random
from datetime import timedelta
from pathlib import Path
from typing import Any

from dispatch.accounts.policy import authorize
from dispatch.db import Context, command
from dispatch.places.schemas import LoadReport
from dispatch.stock.ledger import (
    Move,
    post,
)
from dispatch.stock.lookups import today
from dispatch.stock.schemas import MovementKind


def _read_csv(path: Path) -> list[dict[str, str]]:
    with path.open(encoding="utf-8", newline="") as handle:
        return list(csv.DictReader(handle))


def catalogue_rows(folder: Path) -> tuple[list[dict[str, Any]], list[dict[str, Any]]]:
    items = [
        {
            "code": r["code"],
            "name_zh": r["name_zh"],
            "name_en": r["name_en"],
            "unit": r["unit"],
            "category": r["category"],
            "shelf_life_days": int(r["shelf_life_days"]) if r["shelf_life_days"] else None,
            "weight_kg": float(r["weight_kg"]),
            "volume_l": float(r["volume_l"]),
        }
        for r in _read_csv(folder / "items.csv")
    ]
    standards = [
        {"depot": r["depot"], "item": r["item"], "minimum": int(r["minimum"])}
        for r in _read_csv(folder / "reserve_standards.csv")
    ]
    return items, standards


async def load_catalogue(ctx: Context, folder: Path) -> LoadReport:
    """Items and reserve standards; idempotent, and a commander's edited standard is kept."""
    authorize(ctx.actor, "stock.load_catalogue")
    items, standards = catalogue_rows(folder)
    report = LoadReport(created={}, updated={}, unchanged={})
    async with command(ctx) as cmd:
        conn = cmd.connection
        created = updated = 0
        for row in items:
            current = await conn.fetchrow(
                "SELECT * FROM item WHERE code=$1 FOR UPDATE", row["code"]
            )
            columns = list(row)
            if current is None:
                marks = ", ".join(f"${i + 1}" for i in range(len(columns)))
                await conn.execute(
                    f"INSERT INTO item ({', '.join(columns)}) VALUES ({marks})", *row.values()
                )
                created += 1
            elif any(current[k] != v for k, v in row.items()):
                sets = ", ".join(f"{c}=${i + 2}" for i, c in enumerate(columns[1:]))
                await conn.execute(
                    f"UPDATE item SET {sets} WHERE code=$1", row["code"], *list(row.values())[1:]
                )
                updated += 1
        report.created["item"], report.updated["item"] = created, updated
        report.unchanged["item"] = len(items) - created - updated
        created = updated = 0
        for row in standards:
            current = await conn.fetchrow(
                "SELECT minimum, source FROM reserve_standard WHERE depot=$1 AND item=$2",
                row["depot"],
                row["item"],
            )
            if current is None:
                await conn.execute(
                    "INSERT INTO reserve_standard (depot, item, minimum, source) "
                    "VALUES ($1, $2, $3, 'reference')",
                    row["depot"],
                    row["item"],
                    row["minimum"],
                )
                created += 1
            elif current["source"] == "reference" and current["minimum"] != row["minimum"]:
                await conn.execute(
                    "UPDATE reserve_standard SET minimum=$3 WHERE depot=$1 AND item=$2",
                    row["depot"],
                    row["item"],
                    row["minimum"],
                )
                updated += 1
        report.created["reserve_standard"] = created
        report.updated["reserve_standard"] = updated
        report.unchanged["reserve_standard"] = len(standards) - created - updated
        if report.changes:
            await cmd.audit(
                "stock.load_catalogue",
                "catalogue",
                folder.name,
                None,
                {"created": report.created, "updated": report.updated},
            )
            cmd.emit("stock.catalogue_loaded", {"created": report.created})
    return report


# --- demo stock -------------------------------------------------------------------------

DEMO_SEED = 20261127


async def seed_demo_stock(ctx: Context, seed: int = DEMO_SEED) -> int:
    """Receipts giving every depot 60-140% of its standard, a few lots near expiry and a few
    lines below standard; only into an empty ledger. Returns the movements written."""
    authorize(ctx.actor, "stock.demo")
    rng = random.Random(seed)
    async with command(ctx) as cmd:
        conn = cmd.connection
        if await conn.fetchval("SELECT EXISTS (SELECT 1 FROM stock_movement)"):
            return 0
        on = today(cmd.now)
        standards = await conn.fetch(
            "SELECT r.depot, r.item, r.minimum, i.shelf_life_days FROM reserve_standard r "
            "JOIN item i ON i.code = r.item WHERE r.minimum > 0 ORDER BY r.depot, r.item"
        )
        ids = []
        for r in standards:
            below = rng.random() < 0.08
            factor = rng.uniform(0.6, 0.95) if below else rng.uniform(1.0, 1.4)
            low, high = math.ceil(0.6 * r["minimum"]), math.floor(1.4 * r["minimum"])
            total = max(1, min(high, max(low, round(r["minimum"] * factor))))
            shelf = r["shelf_life_days"]
            parts = rng.randint(1, 3) if shelf else 1
            cuts = sorted(rng.sample(range(1, total), parts - 1)) if total > parts else []
            sizes = [b - a for a, b in zip([0, *cuts], [*cuts, total], strict=True)]
            for k, qty in enumerate(sizes):
                expires = None
                if shelf:
                    if k == 0 and rng.random() < 0.12:
                        expires = on + timedelta(days=rng.randint(3, 25))
                    else:
                        expires = on + timedelta(days=rng.randint(60, shelf))
                number = f"DEMO-{r['depot'][-3:]}-{k + 1}"
                lot = await conn.fetchval(
                    "INSERT INTO lot (item, lot_number, expires_on, created_at) "
                    "VALUES ($1, $2, $3, $4) ON CONFLICT (item, lot_number) DO UPDATE "
                    "SET expires_on = lot.expires_on RETURNING id",
                    r["item"],
                    number,
                    expires,
                    cmd.now,
                )
                move = Move(
                    MovementKind.RECEIPT, r["depot"], r["item"], lot, qty, note="demo stock"
                )
                ids.append(await post(cmd, move, None))
        await cmd.audit(
            "stock.demo", "stock_movement", None, None, {"seed": seed, "movements": len(ids)}
        )
        cmd.emit("stock.moved", {"kind": "receipt", "movements": len(ids), "demo": True})
    return len(ids)
