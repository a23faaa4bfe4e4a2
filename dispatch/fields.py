"""The field types request bodies share across domains: codes of places, items and skills,
notes. One definition each, so a community code or a note is checked the same way whether it
arrives in a stock issue, a request or a person's record."""

from __future__ import annotations

from typing import Annotated

import msgspec

TEXT = r"^[^\x00]*$"  # PostgreSQL text cannot hold NUL: refuse it here, as a 400

StreetCode = Annotated[str, msgspec.Meta(pattern=r"^\d{9}$")]
CommunityCode = Annotated[str, msgspec.Meta(pattern=r"^\d{12}$")]
DepotCode = Annotated[str, msgspec.Meta(pattern=r"^[A-Za-z0-9_\-]{1,16}$")]
ItemCode = Annotated[str, msgspec.Meta(pattern=r"^[A-Z0-9_]{1,20}$")]
SkillCode = Annotated[str, msgspec.Meta(pattern=r"^[a-z][a-z0-9_]{1,39}$")]
Note = Annotated[str, msgspec.Meta(max_length=500, pattern=TEXT)]
Latitude = Annotated[float, msgspec.Meta(ge=-90, le=90)]
Longitude = Annotated[float, msgspec.Meta(ge=-180, le=180)]
