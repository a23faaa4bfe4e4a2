"""The one lookup of a community, street or depot by its code, for every service.

Each lookup returns the row (with the street, so the caller can authorise against it) or
refuses with the caller's error class and field: `NotFound` reads "no community X", any other
class (an input error unless told) "unknown community X". `community_target` and
`depot_target` give the scope a row falls in.
"""

from __future__ import annotations

from collections.abc import Sequence

import asyncpg

from dispatch.accounts.policy import Target
from dispatch.errors import DomainError, InvalidInput, NotFound

__all__ = [
    "communities",
    "community",
    "community_target",
    "depot",
    "depot_or_none",
    "depot_target",
    "missing_place",
    "street",
]

COMMUNITY = "SELECT code, name, street, lat, lon FROM community WHERE code"
DEPOT = "SELECT code, name, street, kind FROM depot WHERE code"
STREET = "SELECT code, name, lat, lon FROM street WHERE code"


def missing_place(kind: str, code: str, field: str, missing: type[DomainError]) -> DomainError:
    """The refusal of a code that names no place: NotFound reads "no depot X", any other
    class "unknown depot X"."""
    said = "no" if issubclass(missing, NotFound) else "unknown"
    return missing(f"{said} {kind} {code}", field=field)


async def _one(
    conn: asyncpg.Connection,
    select: str,
    kind: str,
    code: str,
    field: str,
    missing: type[DomainError],
) -> asyncpg.Record:
    row = await conn.fetchrow(f"{select}=$1", code)
    if row is None:
        raise missing_place(kind, code, field, missing)
    return row


async def community(
    conn: asyncpg.Connection,
    code: str,
    *,
    field: str = "community",
    missing: type[DomainError] = InvalidInput,
) -> asyncpg.Record:
    """The community a code names: code, name, street, lat, lon."""
    return await _one(conn, COMMUNITY, "community", code, field, missing)


async def communities(
    conn: asyncpg.Connection, codes: Sequence[str], *, field: str = "communities"
) -> dict[str, asyncpg.Record]:
    """Several communities by code; the first unknown one is refused as `field[i]`."""
    rows = await conn.fetch(f"{COMMUNITY} = ANY($1)", list(codes))
    found = {r["code"]: r for r in rows}
    for i, code in enumerate(codes):
        if code not in found:
            raise missing_place("community", code, f"{field}[{i}]", InvalidInput)
    return found


async def depot_or_none(conn: asyncpg.Connection, code: str) -> asyncpg.Record | None:
    """The depot a code names (code, name, street, kind), or None: for sheets that collect
    every row's problem instead of stopping at the first."""
    row: asyncpg.Record | None = await conn.fetchrow(f"{DEPOT}=$1", code)
    return row


async def depot(
    conn: asyncpg.Connection,
    code: str,
    *,
    field: str = "depot",
    missing: type[DomainError] = InvalidInput,
) -> asyncpg.Record:
    """The depot a code names: code, name, street, kind."""
    row = await depot_or_none(conn, code)
    if row is None:
        raise missing_place("depot", code, field, missing)
    return row


async def street(
    conn: asyncpg.Connection,
    code: str,
    *,
    field: str = "street",
    missing: type[DomainError] = InvalidInput,
) -> asyncpg.Record:
    """The street a code names: code, name, lat, lon (its centre)."""
    return await _one(conn, STREET, "street", code, field, missing)


def community_target(row: asyncpg.Record) -> Target:
    """A community is in its street's scope and its own."""
    return Target(street=row["street"], community=row["code"])


def depot_target(row: asyncpg.Record) -> Target:
    """The district reserve has no street: only district-wide roles reach it."""
    return Target(street=row["street"])
