"""Where a plan's goods are handed over: a community's committee (居委会), or a shelter
(安置点) of the community when the request is the shelter's.

A delivery run stops at a place; a shelter is a place of its own, so its stop is keyed
apart from its community's committee: the committee's key is the community code, as it
always was (a plan without shelter requests routes, and reads, exactly as before), and a
shelter's is the code with `@` and the shelter's id. Plan lines keep their `community`
(the transfer's receiving community, the street's scope) and name the shelter beside it.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any

__all__ = ["ShelterPlace", "place_fields", "place_key"]

SEP = "@"  # never in a community code (twelve digits)


@dataclass(frozen=True)
class ShelterPlace:
    """The shelter a demand is delivered at: its id, zh-CN name and location."""

    id: int
    name: str
    lat: float
    lon: float


def place_key(community: str, shelter: int | None) -> str:
    """The stop key's place: the community's committee, or a shelter in it."""
    return community if shelter is None else f"{community}{SEP}{shelter}"


def place_fields(key: str, names: Mapping[int, str]) -> dict[str, Any]:
    """A run stop's place as shown: `community`, and `shelter` with `shelter_name` when the
    stop is a shelter (absent otherwise, so a committee's stop reads as it always did)."""
    community, _, shelter = key.partition(SEP)
    if not shelter:
        return {"community": community}
    return {
        "community": community,
        "shelter": int(shelter),
        "shelter_name": names.get(int(shelter)),
    }
