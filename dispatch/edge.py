"""Values checked at the edge, before a handler runs: strict types, ranges and clean text.

Litestar converts a request's values leniently (query strings must become numbers), which
would also take `"qty": "1e3"` as 1,000 units and `"door_checks": "true"` as a boolean. So
every JSON body is decoded here once more, strictly, against the handler's own type: a
string is never a number or a boolean. The typed result is then walked with the schema:

- an integer bound undeclared on a side is bounded there by the 32-bit columns most
  integers are stored in (a field meant for more declares it, e.g. `le=2**63 - 1`);
- a float must be finite; a date or time must lie in the years 1900-2999;
- no text (body, query or path) may hold a control character other than tab and newline:
  PostgreSQL cannot store NUL, and the others are never meant.

Each refusal is a 400 naming the field as the services do (`lines[0].qty`), so an answer
never has to echo what the database layer said.
"""

from __future__ import annotations

import math
import re
from datetime import date, datetime
from functools import cache
from typing import Any

import msgspec
from litestar import Request
from msgspec import inspect as mi

from dispatch.errors import BadRequest

INT32 = 2**31 - 1
YEARS = (1900, 2999)
CONTROL = re.compile(r"[\x00-\x08\x0b-\x1f\x7f]")
_PATH = re.compile(r" - at `\$\.?([^`]*)`$")
_NAMED = re.compile(r"(?:missing required|contains unknown) field `([^`]+)`")
_WRONG_TYPE = re.compile(r"^Expected `([^`]+)`, got `([^`]+)`")


@cache
def _decoder(annotation: Any) -> msgspec.json.Decoder[Any] | None:
    """A strict decoder for a handler's body type, or None for a type msgspec cannot
    decode alone (Litestar's own hooks handle those)."""
    try:
        return msgspec.json.Decoder(annotation, strict=True)
    except TypeError:
        return None


@cache
def _info(annotation: Any) -> mi.Type | None:
    try:
        return mi.type_info(annotation)
    except TypeError:
        return None


def _refusal(exc: msgspec.ValidationError) -> BadRequest:
    message = str(exc)
    found = _PATH.search(message)
    path = found.group(1) if found else ""
    reason = message[: found.start()] if found else message
    named = _NAMED.search(reason)  # a field missing, or one not in the schema
    field = (_join(path, named.group(1)) if named else path) or "body"
    wrong = _WRONG_TYPE.match(reason)
    listed = [{"field": field, "message": reason}]  # as Litestar's own refusals list them
    if wrong and wrong.group(2) in ("str", "float", "bool", "int"):
        return BadRequest(
            f"{field}: {reason}",
            field=field,
            code="wrong_type",
            params={"expected": wrong.group(1), "got": wrong.group(2)},
            errors=listed,
        )
    return BadRequest(f"{field}: {reason}", field=field, errors=listed)


def _join(path: str, name: str) -> str:
    return f"{path}.{name}" if path else name


def _out_of_range(field: str, low: Any, high: Any) -> BadRequest:
    return BadRequest(
        f"{field} must be between {low} and {high}",
        field=field,
        code="out_of_range",
        params={"min": str(low), "max": str(high)},
    )


def check_text(value: str, field: str) -> None:
    if CONTROL.search(value):
        raise BadRequest(
            f"{field} may not contain control characters (such as NUL)",
            field=field,
            code="control_character",
        )


def _int_bounds(info: mi.IntType) -> tuple[int, int]:
    """The declared bounds, the 32-bit ones on a side none is declared for."""
    low = info.ge if info.ge is not None else -INT32 - 1 if info.gt is None else info.gt + 1
    high = info.le if info.le is not None else INT32 if info.lt is None else info.lt - 1
    return low, high


def _check_scalar(value: Any, info: mi.Type, field: str) -> None:
    if isinstance(info, mi.IntType) and isinstance(value, int):
        low, high = _int_bounds(info)
        if not low <= value <= high:
            raise _out_of_range(field, low, high)
    elif isinstance(info, mi.FloatType) and isinstance(value, float):
        if not math.isfinite(value):
            raise _out_of_range(field, "-1e308", "1e308")
    elif isinstance(value, date):  # a datetime is a date too
        if not YEARS[0] <= value.year <= YEARS[1]:
            raise _out_of_range(field, f"{YEARS[0]}-01-01", f"{YEARS[1]}-12-31")
    elif isinstance(value, str):
        check_text(value, field)


def _branch(value: Any, union: mi.UnionType) -> mi.Type | None:
    """The member of a union the decoded value came from."""
    for member in union.types:
        if isinstance(member, mi.StructType | mi.DataclassType) and isinstance(value, member.cls):
            return member
    scalar = {
        bool: mi.BoolType,
        int: mi.IntType,
        float: mi.FloatType,
        str: mi.StrType,
        datetime: mi.DateTimeType,
        date: mi.DateType,
    }.get(type(value))
    for member in union.types:
        if scalar is not None and isinstance(member, scalar):
            return member
    for member in union.types:
        if isinstance(member, mi.ListType | mi.DictType | mi.VarTupleType | mi.SetType):
            return member
    return None


def walk(value: Any, info: mi.Type | None, field: str = "") -> None:
    """Check a decoded value against its schema (see the module's docstring)."""
    if isinstance(info, mi.UnionType):
        info = _branch(value, info)
    if isinstance(info, mi.StructType | mi.DataclassType):
        for f in info.fields:
            walk(getattr(value, f.name), f.type, _join(field, f.encode_name))
    elif isinstance(value, list | tuple | set | frozenset):
        items = getattr(info, "item_type", None)
        for i, item in enumerate(value):
            walk(item, items, f"{field}[{i}]")
    elif isinstance(value, dict):
        for key, item in value.items():
            walk(key, getattr(info, "key_type", None), field or "body")
            walk(item, getattr(info, "value_type", None), _join(field, str(key)))
    else:
        _check_scalar(value, info or mi.AnyType(), field or "body")


def _check_params(request: Request[Any, Any, Any]) -> None:
    for name, value in request.query_params.multi_items():
        check_text(str(value), name)
        check_text(name, name)
    for name, value in request.path_params.items():
        if isinstance(value, str):
            check_text(value, name)
    signature = request.route_handler.parsed_fn_signature.parameters
    for name, definition in signature.items():
        raw = request.query_params.get(name)
        kind = definition.annotation
        if raw is None or not any(t in (date, datetime) for t in (kind, *_members(kind))):
            continue
        try:
            parsed = msgspec.convert(raw, kind, strict=False)
        except (msgspec.ValidationError, TypeError):
            continue  # Litestar names the parameter when it fails to convert it
        _check_scalar(parsed, mi.AnyType(), name)


def _members(annotation: Any) -> tuple[Any, ...]:
    return tuple(getattr(annotation, "__args__", ()))


async def check_request(request: Request[Any, Any, Any]) -> None:
    """The app's `before_request` hook: query and path text, then the JSON body strictly."""
    _check_params(request)
    definition = request.route_handler.parsed_fn_signature.parameters.get("data")
    if definition is None:
        return
    decoder = _decoder(definition.annotation)
    body = await request.body()  # kept by Litestar: the handler's own parsing reuses it
    if decoder is None or not body:
        return
    try:
        value = decoder.decode(body)
    except msgspec.ValidationError as exc:
        raise _refusal(exc) from exc
    except msgspec.DecodeError:
        return  # the guard refused invalid JSON already; Litestar answers anything else
    walk(value, _info(definition.annotation))
