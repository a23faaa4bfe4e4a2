"""The request guard: every request's body is bounded and well-formed before anything reads it.

It runs outermost after the metrics, before authentication and before the idempotency
middleware, so no one (not even an anonymous caller, and not a request with an
Idempotency-Key) can make the server hold more than the limit: a declared length over it is
refused at once, a streamed body as soon as it passes it. A JSON body is then scanned for
nesting (a decoder recursing through `[[[[…]]]]` must never run) and decoded once to tell
invalid JSON apart, both refused as 400 naming the body. What passes is handed on as if
freshly received.
"""

from __future__ import annotations

import re
from typing import Any

import msgspec
from litestar import Request
from litestar.types import ASGIApp, Receive, Scope, Send

from dispatch.errors import BadRequest, DomainError, PayloadTooLarge, domain_error_handler
from dispatch.settings import Settings, get_settings

UPLOAD = "upload"  # a route handler's `opt` flag: its body is a file, with the larger limit
BODY = "body"
_STRING = re.compile(rb'"[^"\\]*(?:\\.[^"\\]*)*"')  # a JSON string, escapes included
_NOT_BRACKETS = bytes(b for b in range(256) if b not in b"[]{}")
_INNERMOST = re.compile(rb"\[\]|\{\}")  # a pair with nothing between


def json_depth_exceeds(body: bytes, limit: int) -> bool:
    """Whether brackets outside strings nest deeper than `limit`. Each pass removes every
    innermost pair at once (one scan, so a pass takes off exactly one level), so a body of
    depth d empties in d passes; C-speed byte operations throughout, never a recursion."""
    brackets = _STRING.sub(b"", body).translate(None, _NOT_BRACKETS)
    for _ in range(limit):
        shorter = _INNERMOST.sub(b"", brackets)
        if shorter == brackets:
            return False  # empty, or unbalanced: the decoder will say it is invalid
        brackets = shorter
    return _INNERMOST.sub(b"", brackets) != brackets


def _declared_length(scope: Scope) -> int | None:
    for name, value in scope.get("headers", []):
        if name.lower() == b"content-length":
            try:
                return int(value)
            except ValueError as exc:
                raise BadRequest(
                    "Content-Length is not a number", field="Content-Length", code="bad_length"
                ) from exc
    return None


def _too_large(limit: int) -> PayloadTooLarge:
    return PayloadTooLarge(
        f"the request body is larger than {limit} bytes",
        field=BODY,
        params={"limit": limit, "limit_mb": round(limit / 2**20, 1)},
    )


async def _read_within(receive: Receive, limit: int) -> tuple[bytes, list[Any]]:
    """The body, counted chunk by chunk: refused the moment it passes the limit, so no more
    than one chunk beyond it is ever held. Messages other than body chunks (a disconnect)
    are kept to be handed on."""
    chunks: list[bytes] = []
    size = 0
    while True:
        message = await receive()
        if message["type"] != "http.request":
            return b"".join(chunks), [message]
        chunk = message.get("body", b"")
        size += len(chunk)
        if size > limit:
            raise _too_large(limit)
        chunks.append(chunk)
        if not message.get("more_body", False):
            return b"".join(chunks), []


def _replaying(body: bytes, rest: list[Any], receive: Receive) -> Receive:
    """The body was read here; the app (and the idempotency middleware) read it again."""
    pending: list[Any] = [{"type": "http.request", "body": body, "more_body": False}, *rest]

    async def replay() -> Any:
        if pending:
            return pending.pop(0)
        return await receive()

    return replay


def _takes_json(handler: Any) -> bool:
    signature = getattr(handler, "parsed_fn_signature", None)
    return signature is not None and "data" in signature.parameters


def check_json(body: bytes, max_depth: int) -> None:
    """400 naming the body for JSON nested deeper than allowed or not JSON at all."""
    if json_depth_exceeds(body, max_depth):
        raise BadRequest(
            f"the JSON body is nested deeper than {max_depth} levels",
            field=BODY,
            code="json_too_deep",
            params={"limit": max_depth},
        )
    try:
        msgspec.json.decode(body)
    except msgspec.DecodeError as exc:
        raise BadRequest(
            f"the body is not valid JSON: {exc}", field=BODY, code="invalid_json"
        ) from exc


class RequestGuard:
    """Body size and JSON shape for every route (see the module's docstring)."""

    def __init__(self, app: ASGIApp, settings: Settings | None = None) -> None:
        self.app = app
        self.settings = settings or get_settings()

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        try:
            body, rest = await self._checked_body(scope, receive)
        except DomainError as exc:  # answered here, so the metrics count it as sent
            request: Request[Any, Any, Any] = Request(scope, receive)
            response = domain_error_handler(request, exc)
            await response.to_asgi_response(None, request)(scope, receive, send)
            return
        await self.app(scope, _replaying(body, rest, receive), send)

    async def _checked_body(self, scope: Scope, receive: Receive) -> tuple[bytes, list[Any]]:
        handler = scope.get("route_handler")
        upload = bool(getattr(handler, "opt", {}).get(UPLOAD))
        limit = self.settings.upload_body_max_bytes if upload else self.settings.json_body_max_bytes
        declared = _declared_length(scope)
        if declared is not None and declared > limit:
            raise _too_large(limit)  # refused before a byte of it is read
        body, rest = await _read_within(receive, limit)
        if body and not upload and _takes_json(handler):
            check_json(body, self.settings.json_max_depth)
        return body, rest
