"""Reads every stock module shares: the depot, item, community or lot a code names (404
naming the field otherwise), the policy target of a depot, the read scope of a reader, and
the Beijing calendar by which lots expire."""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from datetime import date, datetime, timedelta

import asyncpg

from dispatch.accounts.policy import STREET_SCOPED, Actor, Target, authorize
from dispatch.clock import SHANGHAI
from dispatch.errors import NotFound
from dispatch.places import lookups as places
from dispatch.places.lookups import depot_target
from dispatch.settings import get_settings
from dispatch.stock.schemas import LotStatus


def today(now: datetime) -> date:
    """Expiry is by the calendar in Beijing, whatever the server's zone."""
    return now.astimezone(SHANGHAI).date()


def near_expiry_days() -> int:
    """Days before its expiry from which a lot counts as near expiry (a setting)."""
    return get_settings().near_expiry_days


def lot_status(expires_on: date | None, on: date) -> LotStatus:
    """A lot without an expiry date never expires."""
    if expires_on is None:
        return LotStatus.OK
    if expires_on < on:
        return LotStatus.EXPIRED
    if expires_on < on + timedelta(days=near_expiry_days()):
        return LotStatus.NEAR_EXPIRY
    return LotStatus.OK


async def find_depot(conn: asyncpg.Connection, code: str, name: str = "depot") -> asyncpg.Record:
    """The depot a code names, or 404 naming the input `name`."""
    return await places.depot(conn, code, field=name, missing=NotFound)


async def find_item(conn: asyncpg.Connection, code: str, name: str = "item") -> asyncpg.Record:
    """The catalogue item a code names, or 404 naming the input `name`."""
    row = await conn.fetchrow("SELECT code, shelf_life_days FROM item WHERE code=$1", code)
    if row is None:
        raise NotFound(f"no item {code} in the catalogue", field=name)
    return row


async def find_community(conn: asyncpg.Connection, code: str, name: str) -> asyncpg.Record:
    """The community a code names (with its street, for scope), or 404 naming `name`."""
    return await places.community(conn, code, field=name, missing=NotFound)


async def find_lot(conn: asyncpg.Connection, item: str, number: str, name: str) -> asyncpg.Record:
    """A lot is named by its item and its number, or 404 naming `name`."""
    row = await conn.fetchrow(
        "SELECT id, item, lot_number, expires_on FROM lot WHERE item=$1 AND lot_number=$2",
        item,
        number,
    )
    if row is None:
        raise NotFound(f"no lot {number} of {item}", field=name)
    return row


def read_street(actor: Actor, street: str | None = None) -> tuple[bool, str | None]:
    """(limited, street): a street leader reads only their street; district roles read all."""
    authorize(actor, "stock.read", Target(street=street) if street else None)
    if actor.role in STREET_SCOPED:
        return True, actor.street
    return False, street


async def read_depot(conn: asyncpg.Connection, actor: Actor, code: str) -> asyncpg.Record:
    """The depot a reader asked for, refused outside their scope."""
    depot = await find_depot(conn, code)
    authorize(actor, "stock.read", depot_target(depot))
    return depot


# the WHERE of a scoped read of depots d: $1 limited to, $2 a street, $3 one depot
SCOPED_DEPOTS = """
    ($1::boolean IS false OR d.street = $2) AND ($2::varchar IS NULL OR d.street = $2)
    AND ($3::varchar IS NULL OR d.code = $3)
"""


def usable_sum(depot: str, item: str, day: str) -> str:
    """SQL for the usable stock of an item at a depot on a day (lots without an expiry
    or not expired by then): the one definition every read of it shares."""
    return f"""coalesce((SELECT sum(b.qty) FROM stock_balance b JOIN lot l ON l.id = b.lot
              WHERE b.depot = {depot} AND b.item = {item}
                AND (l.expires_on IS NULL OR l.expires_on >= {day})), 0)"""


def standard_of(depot: str, item: str) -> str:
    """SQL for the reserve standard (the minimum to keep) of an item at a depot, or NULL."""
    return f"(SELECT r.minimum FROM reserve_standard r WHERE r.depot = {depot} AND r.item = {item})"


ISSUE_FACTS = f"""
SELECT 'depot' AS what, code, name, street, kind, NULL::float8 AS lat, NULL::float8 AS lon,
    NULL::bigint AS usable, NULL::integer AS minimum
FROM depot WHERE code = $1
UNION ALL
SELECT 'community', code, name, street, NULL, lat, lon, NULL, NULL FROM community WHERE code = $2
UNION ALL
SELECT 'item', i.code, NULL, NULL, NULL, NULL, NULL, {usable_sum("$1", "i.code", "$4")},
    {standard_of("$1", "i.code")}
FROM item i WHERE i.code = ANY($3::varchar[])
"""


@dataclass(frozen=True)
class IssueFacts:
    """What an issue reads before it chooses lots, in one round trip (`ISSUE_FACTS`): the
    depot, the community, the items the catalogue knows, and each item's usable stock at
    the depot and its reserve standard there (what `ledger.Watch` judges crossings on)."""

    depot: asyncpg.Record | None
    community: asyncpg.Record | None
    items: dict[str, asyncpg.Record]

    def the_depot(self, code: str, name: str = "depot") -> asyncpg.Record:
        if self.depot is None:
            raise places.missing_place("depot", code, name, NotFound)
        return self.depot

    def the_community(self, code: str, name: str = "community") -> asyncpg.Record:
        if self.community is None:
            raise places.missing_place("community", code, name, NotFound)
        return self.community


async def issue_facts(
    conn: asyncpg.Connection, depot: str, community: str, items: Sequence[str], on: date
) -> IssueFacts:
    """The depot, community and items an issue names, read together (see `IssueFacts`)."""
    rows = await conn.fetch(ISSUE_FACTS, depot, community, sorted(set(items)), on)
    first = {r["what"]: r for r in rows if r["what"] != "item"}
    found = {r["code"]: r for r in rows if r["what"] == "item"}
    return IssueFacts(first.get("depot"), first.get("community"), found)
