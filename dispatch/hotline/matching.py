"""Which community an address names: pure, over the communities' and streets' names.

A caller says "东四六条社区 12号" or "北京市东城区和平里七区 3号楼": the community is the one
whose name appears in the text, with or without its 社区 suffix. The longest name found
wins (东花市南里东区 over 东花市南里). A bare stem of two characters (二区, 光明) is too
common a word to trust on its own: it counts only when the text names the community's
street too. Two different communities found at the same length are ambiguous: none is
chosen and a person chooses. A street named without any community of it still gives the
street, so the ticket can go to that street's office.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass

COMMUNITY_SUFFIX = "社区"
STREET_SUFFIX = "街道"
SHORT_STEM = 2  # a stem this short needs its street named as well


@dataclass(frozen=True)
class Named:
    code: str
    name: str
    street: str | None = None  # a community's street


@dataclass(frozen=True)
class Match:
    street: str | None
    community: str | None


def _stem(name: str, suffix: str) -> str:
    return name[: -len(suffix)] if name.endswith(suffix) and len(name) > len(suffix) else name


def streets_named(text: str, streets: Sequence[Named]) -> set[str]:
    """Streets whose name (with or without 街道) appears in the text."""
    return {s.code for s in streets if _stem(s.name, STREET_SUFFIX) in text}


def _community_hits(
    text: str, communities: Sequence[Named], named: set[str], street_stems: set[str]
) -> dict[str, int]:
    """community code -> length of the longest of its names found in the text. A stem that
    is also a street's (和平里) is the street's unless 社区 follows it."""
    hits: dict[str, int] = {}
    for c in communities:
        stem = _stem(c.name, COMMUNITY_SUFFIX)
        if c.name in text:
            hits[c.code] = len(c.name)
        elif (
            stem in text
            and stem not in street_stems
            and (len(stem) > SHORT_STEM or c.street in named)
        ):
            hits[c.code] = len(stem)
    return hits


def match_address(
    text: str | None, communities: Sequence[Named], streets: Sequence[Named]
) -> Match:
    """The community (and its street) the address names, else the street alone, else
    nothing; see the module's docstring for the rules."""
    if not text:
        return Match(None, None)
    text = "".join(text.split())
    named = streets_named(text, streets)
    street_stems = {_stem(s.name, STREET_SUFFIX) for s in streets}
    hits = _community_hits(text, communities, named, street_stems)
    if named:  # a community of a street the text names beats one of another street
        street_of = {c.code: c.street for c in communities}
        inside = {code: n for code, n in hits.items() if street_of[code] in named}
        hits = inside or hits
    if hits:
        best = max(hits.values())
        found = [code for code, n in hits.items() if n == best]
        if len(found) == 1:
            street = next(c.street for c in communities if c.code == found[0])
            return Match(street, found[0])
    if len(named) == 1:
        return Match(next(iter(named)), None)
    return Match(None, None)
