"""Idempotency-Key: a mutating request may be resent safely (tablets on weak networks do).

The first response to a key is stored and replayed to every retry; the same key with a
different request is refused (422); a retry while the first is still running gets 409.
Keys are scoped to the user and the world (real or an exercise) and kept for 48 hours.
A request that fails with a server error releases its key, since nothing was committed.
"""

from __future__ import annotations

import asyncio
import hashlib
import json
from typing import Any

from litestar.types import ASGIApp, Message, Receive, Scope, Send
from piccolo.columns import JSONB, BigSerial, Bytea, Integer, Timestamptz, Varchar
from piccolo.table import Table

from dispatch.accounts.policy import Actor
from dispatch.db import engine

MUTATING = frozenset({"POST", "PUT", "PATCH", "DELETE"})
HEADER = b"idempotency-key"
EXERCISE_HEADER = b"x-exercise"
LEASE = "5 minutes"
KEPT = "48 hours"
MAX_KEY = 200


class IdempotencyRecord(Table, tablename="idempotency_record"):
    id = BigSerial(primary_key=True)
    user_id = Integer()
    key = Varchar(length=200)
    world = Varchar(length=63, default="public")
    method = Varchar(length=10)
    path = Varchar(length=500)
    request_hash = Varchar(length=64)
    state = Varchar(length=10)
    response_status = Integer(null=True)
    response_headers = JSONB(null=True)
    response_body = Bytea(null=True)
    created_at = Timestamptz()
    lease_until = Timestamptz()


def _header(scope: Scope, name: bytes) -> str | None:
    for key, value in scope.get("headers", []):
        if key.lower() == name:
            return str(value.decode("latin-1"))
    return None


async def _read_body(receive: Receive) -> bytes:
    chunks: list[bytes] = []
    while True:
        message = await receive()
        if message["type"] != "http.request":
            break
        chunks.append(message.get("body", b""))
        if not message.get("more_body", False):
            break
    return b"".join(chunks)


def _replaying(body: bytes, receive: Receive) -> Receive:
    """The body was read to hash it; hand it to the app again as if fresh."""
    sent = False

    async def replay() -> Any:
        nonlocal sent
        if not sent:
            sent = True
            return {"type": "http.request", "body": body, "more_body": False}
        return await receive()

    return replay


async def _send_json(send: Send, status: int, body: dict[str, Any], extra: list[Any]) -> None:
    payload = json.dumps(body).encode()
    headers = [
        (b"content-type", b"application/problem+json"),
        (b"content-length", str(len(payload)).encode()),
        *extra,
    ]
    await send({"type": "http.response.start", "status": status, "headers": headers})
    await send({"type": "http.response.body", "body": payload, "more_body": False})


async def _problem(send: Send, status: int, title: str, detail: str) -> None:
    body = {
        "type": "about:blank",
        "title": title,
        "status": status,
        "detail": detail,
        "field": "Idempotency-Key",
    }
    await _send_json(send, status, body, [])


async def _claim(
    user_id: int, key: str, world: str, method: str, path: str, digest: str
) -> dict[str, Any] | None:
    """Take the key (None) or return the existing record, taking it over if its lease ran out."""
    async with engine().transaction() as txn:
        conn = txn.connection
        claimed = await conn.fetchval(
            f"""
            INSERT INTO idempotency_record
                (user_id, key, world, method, path, request_hash, state, created_at, lease_until)
            VALUES ($1, $2, $3, $4, $5, $6, 'running', now(), now() + interval '{LEASE}')
            ON CONFLICT (user_id, world, key) DO NOTHING
            RETURNING id
            """,
            user_id,
            key,
            world,
            method,
            path,
            digest,
        )
        if claimed is not None:
            return None
        row = await conn.fetchrow(
            """
            SELECT *, lease_until < now() AS lease_expired FROM idempotency_record
            WHERE user_id = $1 AND world = $2 AND key = $3
            """,
            user_id,
            world,
            key,
        )
    if row is None:  # released between our insert and select: try again
        return await _claim(user_id, key, world, method, path, digest)
    record = dict(row)
    abandoned = record["state"] == "running" and record["lease_expired"]
    if abandoned and record["request_hash"] == digest and await _take_over(record["id"]):
        return None
    return record


async def _take_over(record_id: int) -> bool:
    """A running record whose lease ran out belongs to a process that died; one retry takes it."""
    async with engine().transaction() as txn:
        taken = await txn.connection.fetchval(
            f"""
            UPDATE idempotency_record SET lease_until = now() + interval '{LEASE}'
            WHERE id = $1 AND state = 'running' AND lease_until < now() RETURNING id
            """,
            record_id,
        )
    return taken is not None


async def _store(
    user_id: int, key: str, world: str, status: int, headers: list[Any], body: bytes
) -> None:
    kept = [
        [k.decode("latin-1"), v.decode("latin-1")]
        for k, v in headers
        if k.lower() not in (b"content-length", b"set-cookie")
    ]
    private = any(k.lower() == b"cache-control" and b"no-store" in v.lower() for k, v in headers)
    async with engine().transaction() as txn:
        if status >= 500 or private:  # nothing committed, or an answer never to be kept
            await txn.connection.execute(
                "DELETE FROM idempotency_record WHERE user_id = $1 AND world = $2 AND key = $3",
                user_id,
                world,
                key,
            )
            return
        await txn.connection.execute(
            """
            UPDATE idempotency_record
            SET state = 'done', response_status = $4, response_headers = $5::jsonb,
                response_body = $6
            WHERE user_id = $1 AND world = $2 AND key = $3
            """,
            user_id,
            world,
            key,
            status,
            json.dumps(kept),
            body,
        )


def _response_of(messages: list[Message]) -> tuple[int, list[Any], bytes]:
    status, headers, chunks = 500, [], []
    for message in messages:
        if message["type"] == "http.response.start":
            status = int(message["status"])
            headers = list(message.get("headers", []))
        elif message["type"] == "http.response.body":
            chunks.append(message.get("body", b""))
    return status, headers, b"".join(chunks)


async def _replay(send: Send, record: dict[str, Any]) -> None:
    body: bytes = record["response_body"] or b""
    headers = [
        (k.encode("latin-1"), v.encode("latin-1"))
        for k, v in json.loads(record["response_headers"] or "[]")
    ]
    headers.append((b"content-length", str(len(body)).encode()))
    headers.append((b"idempotent-replayed", b"true"))
    await send(
        {"type": "http.response.start", "status": record["response_status"], "headers": headers}
    )
    await send({"type": "http.response.body", "body": body, "more_body": False})


async def purge_expired() -> int:
    """Forget keys older than the retention; called at start-up."""
    async with engine().transaction() as txn:
        result: str = await txn.connection.execute(
            f"DELETE FROM idempotency_record WHERE created_at < now() - interval '{KEPT}'"
        )
    return int(result.split()[-1])


class IdempotencyMiddleware:
    """Runs after authentication, so keys belong to the authenticated user."""

    def __init__(self, app: ASGIApp) -> None:
        self.app = app

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        key = _header(scope, HEADER) if scope["type"] == "http" else None
        user = scope.get("user")
        if (
            key is None
            or scope.get("method") not in MUTATING
            or not isinstance(user, Actor)
            or user.user_id is None
        ):
            await self.app(scope, receive, send)
            return
        if not key.strip() or len(key) > MAX_KEY or not key.isprintable():
            await _problem(
                send, 400, "Invalid request", "Idempotency-Key must be 1-200 printable characters"
            )
            return
        await self._once(scope, receive, send, user.user_id, key)

    async def _once(
        self, scope: Scope, receive: Receive, send: Send, user_id: int, key: str
    ) -> None:
        body = await _read_body(receive)
        world = _header(scope, EXERCISE_HEADER) or "public"
        method = str(scope.get("method"))
        path = str(scope["path"])
        query = scope.get("query_string", b"")
        digest = hashlib.sha256(
            method.encode() + b" " + path.encode() + b"?" + query + b"\n" + body
        ).hexdigest()
        record = await _claim(user_id, key, world[:63], method, path, digest)
        if record is not None:
            await self._answer_retry(send, record, digest)
            return
        held: list[Message] = []

        async def hold(message: Message) -> None:
            held.append(message)

        try:
            await self.app(scope, _replaying(body, receive), hold)
        finally:
            # Store first, answer second: a retry sent the moment the answer arrives must
            # find the stored answer, not a key that still looks "running".
            status, headers, content = _response_of(held)
            await asyncio.shield(_store(user_id, key, world[:63], status, headers, content))
        for message in held:
            await send(message)

    @staticmethod
    async def _answer_retry(send: Send, record: dict[str, Any], digest: str) -> None:
        if record["request_hash"] != digest:
            await _problem(
                send,
                422,
                "Idempotency-Key reused",
                "this Idempotency-Key was used for a different request; use a new key",
            )
        elif record["state"] == "running":
            await _problem(
                send,
                409,
                "Request in progress",
                "a request with this Idempotency-Key is still being processed; retry later",
            )
        else:
            await _replay(send, record)
