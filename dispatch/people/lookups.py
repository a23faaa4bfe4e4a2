"""What every people module shares: masking of personal data, the day on the Shanghai clock,
the community lookup with its scope target, the scope a list is limited to, and the
hours-today query duty and matching both count with.

Personal data: phones and addresses are masked in every view, audit row and event; only the
reveal commands (`registry.reveal_person`, `care.reveal_care_household`) return them whole.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from datetime import date, datetime
from typing import Any

import asyncpg

from dispatch.accounts.policy import Actor, Target, authorize
from dispatch.clock import SHANGHAI
from dispatch.errors import InvalidInput, NotFound
from dispatch.places import lookups as places

# hours each person has been checked in today ($1: start of the day, $2: now), by person
HOURS_TODAY = """
    SELECT person_id,
           sum(extract(epoch FROM least(coalesce(checked_out_at, $2), $2)
                                  - greatest(checked_in_at, $1)) / 3600.0)::float8 AS hours
    FROM check_in WHERE checked_in_at < $2 AND coalesce(checked_out_at, $2) > $1
"""


def mask_phone(phone: str | None) -> str | None:
    """`100****1234`: enough to tell two people apart on a call list, not to dial."""
    if not phone:
        return None
    if len(phone) < 8:
        return "****"
    return f"{phone[:3]}****{phone[-4:]}"


_FIRST_DIGIT = re.compile(r"\d")


def mask_address(address: str | None) -> str | None:
    """Keep the place (up to the first number, at most 12 characters), hide the door."""
    if not address:
        return None
    found = _FIRST_DIGIT.search(address)
    keep = address[: found.start()] if found and found.start() > 0 else address[: len(address) // 3]
    return keep[:12].rstrip() + "****"


def local_day(now: datetime) -> date:
    """The calendar day in Beijing: agreements, hours and exports count by it."""
    return now.astimezone(SHANGHAI).date()


def day_start(now: datetime) -> datetime:
    """Midnight in Beijing of `now`'s day: where "hours today" start."""
    day = local_day(now)
    return datetime(day.year, day.month, day.day, tzinfo=SHANGHAI)


# --- scope -------------------------------------------------------------------------------


@dataclass(frozen=True)
class Place:
    code: str
    name: str
    street: str
    lat: float
    lon: float

    @property
    def target(self) -> Target:
        return Target(street=self.street, community=self.code)


async def find_place(
    conn: asyncpg.Connection, code: str, *, field: str = "community", missing: type = InvalidInput
) -> Place:
    """A community by code, refused with `missing` (an input error unless told) if unknown."""
    return Place(**dict(await places.community(conn, code, field=field, missing=missing)))


async def check_street(conn: asyncpg.Connection, code: str, field: str = "street") -> None:
    """Refuse an unknown street code."""
    await places.street(conn, code, field=field)


async def limit_to_scope(
    conn: asyncpg.Connection,
    actor: Actor,
    action: str,
    street: str | None,
    community: str | None,
) -> tuple[str | None, str | None]:
    """The (street, community) a list is limited to: what was asked, inside the actor's scope.

    Asking for something outside the scope is refused (403); asking for nothing gives the
    actor's own street or community, or the district for district-wide roles.
    """
    authorize(actor, action)
    if community is not None:
        place = await find_place(conn, community, missing=NotFound)
        authorize(actor, action, place.target)
        return None, community
    if street is not None:
        authorize(actor, action, Target(street=street))
        return street, None
    if actor.is_district_wide:
        return None, None
    if actor.street is not None:
        return actor.street, None
    return None, actor.community


def authorize_row(actor: Actor, action: str, row: asyncpg.Record | dict[str, Any]) -> None:
    """Authorise an action on a row by its own street and community columns."""
    authorize(actor, action, Target(street=row["street"], community=row["community"]))
