"""The field types requests share across domains: codes of places, items and skills, notes in
bodies; ids and codes in paths and queries; the Idempotency-Key header. One definition each, so
a community code, an id or a key is checked the same way whether it arrives in a stock issue,
a request, a plan or a person's record."""

from __future__ import annotations

from typing import Annotated, Any

import msgspec
from litestar import Request
from litestar.openapi.spec import Example
from litestar.params import Parameter

TEXT = r"^[^\x00]*$"  # PostgreSQL text cannot hold NUL: refuse it here, as a 400

StreetCode = Annotated[str, msgspec.Meta(pattern=r"^\d{9}$")]
CommunityCode = Annotated[str, msgspec.Meta(pattern=r"^\d{12}$")]
DepotCode = Annotated[str, msgspec.Meta(pattern=r"^[A-Za-z0-9_\-]{1,16}$")]
ItemCode = Annotated[str, msgspec.Meta(pattern=r"^[A-Z0-9_]{1,20}$")]
SkillCode = Annotated[str, msgspec.Meta(pattern=r"^[a-z][a-z0-9_]{1,39}$")]
Note = Annotated[str, msgspec.Meta(max_length=500, pattern=TEXT)]
Latitude = Annotated[float, msgspec.Meta(ge=-90, le=90)]
Longitude = Annotated[float, msgspec.Meta(ge=-180, le=180)]

# --- path and query parameters ------------------------------------------------------------

CODE = r"^[A-Za-z0-9_\-]+$"  # a code in a path or query: letters, digits, _ and -
Id = Annotated[int, Parameter(ge=1, le=2**63 - 1, examples=[Example(value=1)])]  # bigint ids
# the people registry's tables (units, pairings, people, teams) have int4 ids
SmallId = Annotated[int, Parameter(ge=1, le=2**31 - 1, examples=[Example(value=1)])]
CommunityPath = Annotated[str, Parameter(max_length=12, examples=[Example(value="110101001001")])]
DepotPath = Annotated[
    str, Parameter(max_length=16, pattern=CODE, examples=[Example(value="D110101001")])
]
ItemPath = Annotated[str, Parameter(max_length=20, pattern=CODE, examples=[Example(value="WATER")])]


def idempotency_key(request: Request[Any, Any, Any]) -> str | None:
    """The request's Idempotency-Key header; an empty one is no key."""
    return request.headers.get("idempotency-key") or None
