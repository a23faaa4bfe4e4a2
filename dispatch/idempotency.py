"""Idempotency-Key: a mutating request may be resent safely (tablets on weak networks do).

A keyed request runs as one transaction (`db.unit_of_work`): its key's record is inserted
first, under the unique index (user, world, key), the commands run beside it, and the
answer is stored in it before the one commit. So after a crash at any instant the key
either has no record (nothing was written: a retry runs) or a committed one holding the
answer (a retry replays it). A concurrent duplicate waits on that index for the first to
end, never on a lease; if the first is still running after `WAIT_FOR_FIRST` it is told
to retry (409 `retry` with `Retry-After`). A refusal (4xx) undoes the commands and keeps
only the record, so its retry gets the same refusal; a server error or a transaction that
met a concurrent change keeps nothing. The same key with another request is refused
(422). Keys are scoped to the user and the world (real or an exercise, by its canonical
id) and kept for 48 hours.
"""

from __future__ import annotations

import hashlib
import json
import logging
from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any

import asyncpg
from litestar.types import ASGIApp, Message, Receive, Scope, Send
from litestar.utils.scope.state import ScopeState
from piccolo.columns import JSONB, BigSerial, Bytea, Integer, Timestamptz, Varchar
from piccolo.table import Table

from dispatch.accounts.policy import Actor
from dispatch.audit import AuditRow, audit_columns, audits_insert, write_audits
from dispatch.db import Replan, Unit, engine, unit_of_work
from dispatch.errors import is_outage, outage_body
from dispatch.exercises.schemas import exercise_schema

log = logging.getLogger("dispatch.idempotency")

MUTATING = frozenset({"POST", "PUT", "PATCH", "DELETE"})
HEADER = b"idempotency-key"
EXERCISE_HEADER = b"x-exercise"
KEPT = "48 hours"
MAX_KEY = 200
WAIT_FOR_FIRST = "5s"  # how long a duplicate waits for the first request with its key
RETRY_AFTER = 2  # seconds a client waits before sending a duplicate still running again


class IdempotencyRecord(Table, tablename="idempotency_record"):
    id = BigSerial(primary_key=True)
    user_id = Integer()
    key = Varchar(length=200)
    world = Varchar(length=63, default="public")
    method = Varchar(length=10)
    path = Varchar(length=500)
    request_hash = Varchar(length=64)
    response_status = Integer()
    response_headers = JSONB(null=True)
    response_body = Bytea(null=True)
    created_at = Timestamptz()


@dataclass(frozen=True)
class Keyed:
    """Who sent which key for which request, in which world."""

    user_id: int
    key: str
    world: str
    method: str
    path: str
    digest: str


@dataclass(frozen=True)
class Answer:
    status: int
    headers: list[Any]
    body: bytes

    @property
    def private(self) -> bool:
        """An answer never to be kept (a revealed phone number, a retry hint)."""
        return any(
            k.lower() == b"cache-control" and b"no-store" in v.lower() for k, v in self.headers
        )


def _header(scope: Scope, name: bytes) -> str | None:
    for key, value in scope.get("headers", []):
        if key.lower() == name:
            return str(value.decode("latin-1"))
    return None


def world_of(scope: Scope) -> str:
    """The world a request acts in, spelled one way (`7`, `ex_7` and `007` are one
    exercise), so the same key in the same exercise is the same key."""
    header = _header(scope, EXERCISE_HEADER)
    if header is None:
        return "public"
    return exercise_schema(header) or header.strip()[:63]


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
    payload = json.dumps(body, ensure_ascii=False).encode()
    headers = [
        (b"content-type", b"application/problem+json"),
        (b"content-length", str(len(payload)).encode()),
        *extra,
    ]
    await send({"type": "http.response.start", "status": status, "headers": headers})
    await send({"type": "http.response.body", "body": payload, "more_body": False})


async def _problem(
    send: Send, status: int, title: str, detail: str, code: str, **members: Any
) -> None:
    body = {
        "type": "about:blank",
        "title": title,
        "status": status,
        "detail": detail,
        "field": "Idempotency-Key",
        "code": code,
        "params": {"field": "Idempotency-Key"},
        **members,
    }
    extra = (
        [(b"retry-after", str(members["retry_after"]).encode())] if "retry_after" in members else []
    )
    await _send_json(send, status, body, extra)


CLAIM = """
WITH waiting AS MATERIALIZED (  -- the insert may wait on the index: at most $7
    SELECT current_setting('lock_timeout') AS was, set_config('lock_timeout', $7, true)
)
INSERT INTO public.idempotency_record
    (user_id, key, world, method, path, request_hash, response_status, created_at)
SELECT $1, $2, $3, $4, $5, $6, 0, now() FROM waiting
ON CONFLICT (user_id, world, key) DO NOTHING
RETURNING id, set_config('lock_timeout', (SELECT was FROM waiting), true)
"""


async def _claim(conn: asyncpg.Connection, keyed: Keyed) -> asyncpg.Record | None:
    """Insert the key's record (None), or return the committed one a first request left.

    A first request still running holds the index entry: the insert waits for it to end,
    at most WAIT_FOR_FIRST (then LockNotAvailableError). The wait's limit is set and put
    back by the insert itself (`CLAIM`), so claiming is one round trip, and the savepoint
    a refusal rolls back to one more.
    """
    claimed = await conn.fetchval(
        CLAIM,
        keyed.user_id,
        keyed.key,
        keyed.world,
        keyed.method,
        keyed.path,
        keyed.digest,
        WAIT_FOR_FIRST,
    )
    if claimed is not None:
        # the savepoint a refusal rolls back to: after the key's record, before the app
        await conn.execute("SAVEPOINT request")
        return None
    record: asyncpg.Record | None = await conn.fetchrow(
        "SELECT * FROM public.idempotency_record WHERE user_id = $1 AND world = $2 AND key = $3",
        keyed.user_id,
        keyed.world,
        keyed.key,
    )
    return record


ANSWER_STORE = """
UPDATE public.idempotency_record
SET response_status = $4, response_headers = $5::jsonb, response_body = $6
WHERE user_id = $1 AND world = $2 AND key = $3
"""


async def _store(
    conn: asyncpg.Connection, keyed: Keyed, answer: Answer, audits: Sequence[AuditRow]
) -> None:
    """The answer beside the key, and the request's audit rows, in one statement."""
    kept = [
        [k.decode("latin-1"), v.decode("latin-1")]
        for k, v in answer.headers
        if k.lower() not in (b"content-length", b"set-cookie")
    ]
    args: list[Any] = [
        keyed.user_id,
        keyed.world,
        keyed.key,
        answer.status,
        json.dumps(kept),
        answer.body,
    ]
    sql = ANSWER_STORE
    if audits:
        sql = f"WITH audited AS ({audits_insert(7)}) {ANSWER_STORE}"
        args += audit_columns(audits)
    await conn.execute(sql, *args)


async def _forget(conn: asyncpg.Connection, keyed: Keyed) -> None:
    await conn.execute(
        "DELETE FROM public.idempotency_record WHERE user_id = $1 AND world = $2 AND key = $3",
        keyed.user_id,
        keyed.world,
        keyed.key,
    )


def _answer_of(messages: list[Message]) -> Answer:
    status, headers, chunks = 500, [], []
    for message in messages:
        if message["type"] == "http.response.start":
            status = int(message["status"])
            headers = list(message.get("headers", []))
        elif message["type"] == "http.response.body":
            chunks.append(message.get("body", b""))
    return Answer(status, headers, b"".join(chunks))


async def _replay(send: Send, record: asyncpg.Record) -> None:
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


class _Again(Exception):
    """Roll the unit back whole and run the request again, carefully (see `Replan`)."""


class _Discard(Exception):
    """Leave the unit of work by rolling it back whole: nothing of the request is kept.

    Carries the answer (its ASGI messages) to send once the rollback is done, if any."""


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
                send,
                400,
                "Invalid request",
                "Idempotency-Key must be 1-200 printable characters",
                "idempotency.bad_key",
            )
            return
        body = await _read_body(receive)
        keyed = _keyed(scope, user.user_id, key, body)
        await self._once(scope, body, receive, send, keyed)

    async def _once(
        self, scope: Scope, body: bytes, receive: Receive, send: Send, keyed: Keyed
    ) -> None:
        """Run the request once in a unit of work; a second time, carefully, when a write
        it held back to the end found its choice no longer held (`Replan`): the first
        try then kept nothing and answered nothing."""
        try:
            await self._try(scope, _replaying(body, receive), send, keyed, careful=False)
        except _Again:
            # the first try's answer was held, never sent: Litestar must not think it was
            ScopeState.from_scope(scope).response_started = False
            await self._try(scope, _replaying(body, receive), send, keyed, careful=True)

    async def _try(
        self, scope: Scope, receive: Receive, send: Send, keyed: Keyed, *, careful: bool
    ) -> None:
        held: list[Message] = []
        found: asyncpg.Record | None = None
        snapshot = bool(getattr(scope.get("route_handler"), "opt", {}).get("snapshot"))
        try:
            async with unit_of_work(snapshot=snapshot) as unit:
                unit.careful = careful
                found = await _claim(unit.connection, keyed)
                if found is not None:
                    raise _Discard
                held = await self._run(scope, receive, unit, keyed)
        except _Discard as discarded:
            held = list(discarded.args[0]) if discarded.args else []
        except asyncpg.exceptions.LockNotAvailableError:
            await _still_running(send)
            return
        except Exception as exc:
            if not is_outage(exc):
                raise
            await _outage(send)
            return
        if found is not None:
            await self._answer_retry(send, found, keyed.digest)
            return
        for message in held:
            await send(message)

    async def _run(self, scope: Scope, receive: Receive, unit: Unit, keyed: Keyed) -> list[Message]:
        """The app inside the unit, after the savepoint `request` (see _claim): a refusal
        rolls back to it and keeps only the key's record with the refusal; an error or a
        retry hint keeps nothing (raised as _Discard, with the answer held to be sent)."""
        held: list[Message] = []

        async def hold(message: Message) -> None:
            held.append(message)

        conn = unit.connection
        await self.app(scope, receive, hold)
        if unit.replan:  # a held-back write found its choice changed: run again, carefully
            raise _Again
        answer = _answer_of(held)
        if answer.status < 400 and unit.failed:  # a handler went on after a failed command
            log.error(
                "%s %s answered %s after a failed command: kept nothing",
                keyed.method,
                keyed.path,
                answer.status,
            )
            raise _Discard(_failed())
        if answer.status >= 500 or (answer.private and answer.status >= 400):
            raise _Discard(held)
        if answer.status >= 400:
            await conn.execute("ROLLBACK TO SAVEPOINT request")
            unit.events.clear()
            unit.audits.clear()
            unit.last.clear()
        if answer.private:
            await write_audits(conn, unit.audits)
            await _forget(conn, keyed)
        else:
            await _store(conn, keyed, answer, unit.audits)
        try:
            await unit.run_last()  # the hot rows last: held for one statement and the commit
        except Replan:
            raise _Again from None
        return held

    @staticmethod
    async def _answer_retry(send: Send, record: asyncpg.Record, digest: str) -> None:
        if record["request_hash"] != digest:
            await _problem(
                send,
                422,
                "Idempotency-Key reused",
                "this Idempotency-Key was used for a different request; use a new key",
                "idempotency.key_reused",
            )
        else:
            await _replay(send, record)


def _keyed(scope: Scope, user_id: int, key: str, body: bytes) -> Keyed:
    method = str(scope.get("method"))
    path = str(scope["path"])
    query = scope.get("query_string", b"")
    digest = hashlib.sha256(
        method.encode() + b" " + path.encode() + b"?" + query + b"\n" + body
    ).hexdigest()
    return Keyed(user_id, key, world_of(scope), method, path, digest)


def _failed() -> list[Message]:
    """A 500 answer of the middleware's own, as ASGI messages."""
    body = {
        "type": "about:blank",
        "title": "Internal error",
        "status": 500,
        "detail": "The server could not complete the request; it has been logged.",
        "code": "internal_error",
    }
    payload = json.dumps(body).encode()
    headers = [
        (b"content-type", b"application/problem+json"),
        (b"content-length", str(len(payload)).encode()),
    ]
    return [
        {"type": "http.response.start", "status": 500, "headers": headers},
        {"type": "http.response.body", "body": payload, "more_body": False},
    ]


async def _still_running(send: Send) -> None:
    await _problem(
        send,
        409,
        "Request in progress",
        "a request with this Idempotency-Key is still being processed; send it again shortly",
        "idempotency.in_progress",
        retry=True,
        retry_after=RETRY_AFTER,
    )


async def _outage(send: Send) -> None:
    body, retry_after = outage_body()
    await _send_json(send, 503, body, [(b"retry-after", str(retry_after).encode())])
