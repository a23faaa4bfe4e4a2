"""Validation of a `call` event (a 12345 call becoming a ticket): the caller, a synthetic
phone, where (a community by code or exact name, or an address matched against the
district's names exactly as the hotline matches it, so what the check accepts is where the
replay's ticket goes), category, urgency, content, and the request it may imply."""

from __future__ import annotations

from functools import cached_property
from typing import Any

from yaml.nodes import Node

from dispatch.exercises.scenario.model import (
    CALL_CATEGORIES,
    PRIORITIES,
    SYNTHETIC_PHONE,
    URGENCIES,
    URGENCY_PRIORITY,
    ImpliedRequest,
)
from dispatch.exercises.scenario.reading import Fields, join_path
from dispatch.exercises.scenario.world import WorldChecks
from dispatch.hotline.matching import Match, Named, match_address

# the longest texts a ticket takes (hotline schemas: caller name, address, content)
CALLER_MAX, ADDRESS_MAX, CONTENT_MAX = 60, 200, 2000
QUANTITY_MAX = 1_000_000
CALL_REQUIRED = ("caller", "category", "urgency", "content")
CALL_OPTIONAL = ("phone", "community", "address", "incident", "request")


class CallChecks(WorldChecks):
    """A call's fields; the incident it names is checked with the timeline."""

    @cached_property
    def _named(self) -> tuple[list[Named], list[Named]]:
        """The reference's communities (with their streets) and streets, as matching reads
        them."""
        ref = self.ref
        communities = [
            Named(code, name, ref.community_streets.get(code))
            for code, name in sorted(ref.communities.items())
        ]
        streets = [Named(code, name) for code, name in sorted(ref.streets.items())]
        return communities, streets

    def match(self, address: str) -> Match:
        communities, streets = self._named
        return match_address(address, communities, streets)

    def bounded_text(self, node: Node, path: str, longest: int) -> str | None:
        value = self.text(node, path)
        if value is None:
            return None
        if len(value) > longest:
            self.fail(node, path, f"must be at most {longest} characters, not {len(value)}")
            return None
        if "\x00" in value:
            self.fail(node, path, "must not hold a NUL character")
            return None
        return value

    def phone(self, node: Node, path: str) -> str | None:
        value = self.raw(node, path)
        if value is None:
            return None
        digits = value.replace(" ", "").replace("-", "")
        if not SYNTHETIC_PHONE.match(digits):
            self.fail(
                node,
                path,
                f"bad phone {value!r}: scenarios use synthetic numbers only, 11 digits "
                "starting with 100 (no real mobile number does), e.g. 10012345678",
            )
            return None
        return digits

    def call_fields(self, f: Fields, path: str) -> dict[str, Any] | None:
        """The call's fields, or None after saying what is wrong with them."""

        def get(key: str, convert: Any) -> Any:
            return convert(f[key][1], join_path(path, key)) if key in f else None

        out: dict[str, Any] = {
            "caller": get("caller", lambda n, p: self.bounded_text(n, p, CALLER_MAX)),
            "category": get(
                "category", lambda n, p: self.choice(n, p, CALL_CATEGORIES, "category")
            ),
            "urgency": get("urgency", lambda n, p: self.choice(n, p, URGENCIES, "urgency")),
            "content": get("content", lambda n, p: self.bounded_text(n, p, CONTENT_MAX)),
        }
        ok = all(v is not None for v in out.values())
        optional = {
            "phone": self.phone,
            "incident": self.text,
            "address": lambda n, p: self.bounded_text(n, p, ADDRESS_MAX),
            "community": self.community,
        }
        for key, convert in optional.items():
            if key in f:
                out[key] = get(key, convert)
                ok = ok and out[key] is not None
        ok = self._call_place(f, path, out) and ok
        if "request" in f:
            urgency = out["urgency"] or "normal"
            out["request"] = self.implied_request(
                f["request"][1], join_path(path, "request"), urgency
            )
            ok = ok and out["request"] is not None
            if "incident" not in f:
                self.fail(
                    f["request"][0],
                    join_path(path, "incident"),
                    "a call that implies a request names its incident (the request's)",
                )
                ok = False
            elif out.get("community") is None and out.get("street") is not None:
                self.fail(
                    f["request"][0],
                    join_path(path, "request"),
                    "the request needs the call's community, but the address names only "
                    f"a street ({self.ref.streets[out['street']]}): give community",
                )
                ok = False
        return out if ok else None

    def _call_place(self, f: Fields, path: str, out: dict[str, Any]) -> bool:
        """Where the call is: its community given (and its street), else the community or
        street its address names; False after saying why there is none."""
        if "community" in f:
            code = out.get("community")
            out["street"] = None if code is None else self.ref.community_streets.get(code)
            return True
        if "address" not in f:
            first = next(iter(f.values()))[0]
            self.fail(first, path, "needs a community (code or exact name) or an address")
            return False
        address = out.get("address")
        if address is None:
            return False
        found = self.match(address)
        if found.street is None:
            self.fail(
                f["address"][1],
                join_path(path, "address"),
                f"address {address!r} names no community or street of the district "
                "(matched as the hotline matches: a community's name, with or without 社区; "
                "a two-character stem only with its street): give community",
            )
            return False
        out["community"], out["street"] = found.community, found.street
        out["matched"] = True
        return True

    def implied_request(self, node: Node, path: str, urgency: str) -> ImpliedRequest | None:
        fields = self.mapping(node, path, ("item", "quantity"), ("priority",))
        if fields is None or not {"item", "quantity"} <= fields.keys():
            return None
        item = self.item(fields["item"][1], join_path(path, "item"))
        quantity = self.integer(fields["quantity"][1], join_path(path, "quantity"))
        if quantity is not None and quantity > QUANTITY_MAX:
            self.fail(
                fields["quantity"][1],
                join_path(path, "quantity"),
                f"must be at most {QUANTITY_MAX}",
            )
            quantity = None
        priority: str | None = URGENCY_PRIORITY[urgency]
        if "priority" in fields:
            priority = self.choice(
                fields["priority"][1], join_path(path, "priority"), PRIORITIES, "priority"
            )
        if item is None or quantity is None or priority is None:
            return None
        return ImpliedRequest(item, quantity, priority)
