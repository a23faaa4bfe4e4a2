"""The live feed: domain events after commit, in one global order, resumable by id.

Events are appended to a log that keeps at least the last 15 minutes. In one process the
log is an in-memory ring; with REDIS_URL it is a Redis stream shared by every worker and
machine, so a subscriber on one process hears, in order, events caused on another, and a
client that reconnects with `Last-Event-ID` gets everything it missed.

(Litestar Channels was the first choice, but its backends do not expose message ids, and
resuming by id needs them; a Redis stream gives ids and order directly.)
"""

from __future__ import annotations

import asyncio
import json
import re
import time
from collections import deque
from collections.abc import AsyncIterator
from dataclasses import dataclass
from functools import partial
from typing import Annotated, Any, Protocol

from litestar import Request, get
from litestar.params import HeaderParameter, QueryParameter
from litestar.response import ServerSentEvent, ServerSentEventMessage

from dispatch.accounts.policy import Actor, Target
from dispatch.db import Ctx, Event

RETENTION_SECONDS = 15 * 60
MAX_MEMORY_EVENTS = 100_000
HEARTBEAT_SECONDS = 15.0
STREAM_ID = re.compile(r"^\d{1,20}-\d{1,20}$")


@dataclass(frozen=True)
class FeedItem:
    id: str
    payload: dict[str, Any]


class Feed(Protocol):
    async def publish(self, events: list[Event]) -> None: ...

    async def replay(self, after: str) -> list[FeedItem] | None:
        """Items after this id, or None if the id is older than what is kept."""
        ...

    def follow(self, after: str | None) -> AsyncIterator[FeedItem]:
        """Items after this id (after now when None), as they come."""
        ...

    async def ping(self) -> None:
        """Raise if the feed cannot carry events now (for /health)."""
        ...

    async def close(self) -> None: ...


def event_payload(event: Event) -> dict[str, Any]:
    return {
        "kind": event.kind,
        "at": event.at.isoformat(),
        "street": event.street,
        "community": event.community,
        "exercise": event.exercise,
        "person": event.person,
        "data": event.data,
    }


def visible_to(actor: Actor, payload: dict[str, Any], exercise: str | None) -> bool:
    """A subscriber hears only its own world, and there what lies in its scope or is
    addressed to the person they are (a call-out reaches its recipient wherever they are)."""
    if payload.get("exercise") != exercise:
        return False
    person = payload.get("person")
    if person is not None and actor.person_id == person:
        return True
    return actor.covers(Target(payload.get("street"), payload.get("community")))


class MemoryFeed:
    """One process: a ring of recent events with sequence ids."""

    def __init__(self) -> None:
        self._items: deque[tuple[int, float, dict[str, Any]]] = deque(maxlen=MAX_MEMORY_EVENTS)
        self._seq = 0
        self._changed = asyncio.Condition()

    async def publish(self, events: list[Event]) -> None:
        async with self._changed:
            now = time.time()
            for event in events:
                self._seq += 1
                self._items.append((self._seq, now, event_payload(event)))
            while self._items and self._items[0][1] < now - RETENTION_SECONDS:
                self._items.popleft()
            self._changed.notify_all()

    def _newer_than(self, seq: int) -> bool:
        return self._seq > seq

    def _after(self, seq: int) -> list[FeedItem]:
        return [FeedItem(str(s), p) for s, _, p in self._items if s > seq]

    async def replay(self, after: str) -> list[FeedItem] | None:
        try:
            seq = int(after)
        except ValueError:
            return None
        oldest = self._items[0][0] if self._items else self._seq + 1
        if seq < oldest - 1 or seq > self._seq:
            return None
        return self._after(seq)

    async def follow(self, after: str | None) -> AsyncIterator[FeedItem]:
        seq = int(after) if after is not None and after.isdigit() else self._seq
        while True:
            async with self._changed:
                await self._changed.wait_for(partial(self._newer_than, seq))
                items = self._after(seq)
            for item in items:
                seq = int(item.id)
                yield item

    async def ping(self) -> None:
        return None

    async def close(self) -> None:
        return None


class RedisFeed:
    """Several processes: a Redis stream trimmed to the retention window."""

    def __init__(self, url: str, prefix: str) -> None:
        from redis.asyncio import Redis

        self._redis = Redis.from_url(url)
        self._key = f"{prefix}:events"

    async def publish(self, events: list[Event]) -> None:
        if not events:
            return
        keep_after = f"{int((time.time() - RETENTION_SECONDS) * 1000)}-0"
        async with self._redis.pipeline(transaction=True) as pipe:
            for event in events:
                body = json.dumps(event_payload(event), default=str, ensure_ascii=False)
                pipe.xadd(self._key, {"e": body}, minid=keep_after, approximate=True)
            await pipe.execute()

    @staticmethod
    def _items(entries: list[Any]) -> list[FeedItem]:
        return [FeedItem(ident.decode(), json.loads(fields[b"e"])) for ident, fields in entries]

    async def replay(self, after: str) -> list[FeedItem] | None:
        if not STREAM_ID.match(after):
            return None
        first = await self._redis.xrange(self._key, count=1)
        if first and _stream_id(after) < _stream_id(first[0][0].decode()):
            return None  # older than what is kept: the client must reload
        return self._items(await self._redis.xrange(self._key, min=f"({after}"))

    async def follow(self, after: str | None) -> AsyncIterator[FeedItem]:
        last = after or await self._latest_id()
        while True:
            answer = await self._redis.xread({self._key: last}, block=15_000, count=500)
            for _, entries in answer or []:
                for item in self._items(entries):
                    last = item.id
                    yield item

    async def _latest_id(self) -> str:
        newest = await self._redis.xrevrange(self._key, count=1)
        return newest[0][0].decode() if newest else "0-0"

    async def ping(self) -> None:
        await self._redis.ping()

    async def close(self) -> None:
        await self._redis.aclose()


def _stream_id(ident: str) -> tuple[int, int]:
    millis, _, seq = ident.partition("-")
    try:
        return int(millis), int(seq or 0)
    except ValueError:
        return (0, 0)


def make_feed(redis_url: str | None, prefix: str = "dispatch") -> Feed:
    return RedisFeed(redis_url, prefix) if redis_url else MemoryFeed()


async def _with_heartbeat(items: AsyncIterator[FeedItem]) -> AsyncIterator[FeedItem | None]:
    """Yield None when nothing came for a while, so proxies and clients see the line alive."""
    pending: asyncio.Task[FeedItem] | None = None
    try:
        while True:
            if pending is None:
                pending = asyncio.ensure_future(anext(items))
            done, _ = await asyncio.wait({pending}, timeout=HEARTBEAT_SECONDS)
            if not done:
                yield None
                continue
            item, pending = pending.result(), None
            yield item
    finally:
        if pending is not None:
            pending.cancel()


def _message(item: FeedItem, named: bool = True) -> ServerSentEventMessage:
    """`named`: the SSE event name is the kind; unnamed messages all reach a browser's
    `onmessage` (the kind is in the data either way), so a page need not list every kind."""
    return ServerSentEventMessage(
        data=json.dumps(item.payload, ensure_ascii=False, default=str),
        event=str(item.payload["kind"]) if named else None,
        id=item.id,
    )


async def subscription(
    feed: Feed, actor: Actor, exercise: str | None, after: str | None, named: bool = True
) -> AsyncIterator[ServerSentEventMessage]:
    """Replay what was missed since `after`, then follow, filtered to the subscriber's view."""
    yield ServerSentEventMessage(data=None, comment="dispatch live feed", retry=3000)
    if after:
        missed = await feed.replay(after)
        if missed is None:
            yield ServerSentEventMessage(event="reset", data='{"reason": "Last-Event-ID expired"}')
            after = None
        else:
            for item in missed:
                after = item.id
                if visible_to(actor, item.payload, exercise):
                    yield _message(item, named)
    async for beat in _with_heartbeat(feed.follow(after)):
        if beat is None:
            yield ServerSentEventMessage(data=None, comment="keep-alive")
        elif visible_to(actor, beat.payload, exercise):
            yield _message(beat, named)


@get("/api/live", tags=["live"], include_in_schema=True)
async def live_feed(
    request: Request[Any, Any, Any],
    ctx: Ctx,
    last_event_id: Annotated[
        str | None, HeaderParameter(name="Last-Event-ID", max_length=40)
    ] = None,
    after: Annotated[str | None, QueryParameter(max_length=40)] = None,
    named: Annotated[bool, QueryParameter(description="false: no SSE event names")] = True,
) -> ServerSentEvent:
    """Server-sent events after commit, in order, filtered by scope; resume with Last-Event-ID.

    Browsers' EventSource cannot send headers: it may pass `access_token` (and the drill's
    `exercise`) in the query, and `named=false` so every message reaches `onmessage`.
    """
    feed: Feed = request.app.state.feed
    stream = subscription(feed, ctx.actor, ctx.exercise, last_event_id or after, named)
    return ServerSentEvent(stream)
