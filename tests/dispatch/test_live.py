"""The live feed: events after commit, in order, scoped, resumable; across processes via Redis."""

from __future__ import annotations

import asyncio
import contextlib
import json
import os
import queue
import threading
import uuid
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from typing import Any

import httpx
import pytest

from dispatch.accounts.policy import Role
from tests.support import client, create_user, running_server, sql

REDIS_URL = os.environ.get("REDIS_URL", "redis://127.0.0.1:6379/0")


@dataclass
class Message:
    id: str | None
    event: str | None
    data: dict[str, Any]


class Subscriber:
    """Reads an SSE stream on its own thread and event loop; messages land in a queue."""

    def __init__(self, base_url: str, token: str, last_event_id: str | None = None) -> None:
        self.messages: queue.Queue[Message] = queue.Queue()
        headers = {"Authorization": token, "Accept": "text/event-stream"}
        if last_event_id:
            headers["Last-Event-ID"] = last_event_id
        self._ready = threading.Event()
        self._loop = asyncio.new_event_loop()
        self._task: asyncio.Task[None] | None = None
        self._thread = threading.Thread(target=self._run, args=(base_url, headers), daemon=True)
        self._thread.start()
        assert self._ready.wait(10), "subscription did not open"

    def _run(self, base_url: str, headers: dict[str, str]) -> None:
        self._task = self._loop.create_task(self._read(base_url, headers))
        with contextlib.suppress(asyncio.CancelledError):
            self._loop.run_until_complete(self._task)
        self._loop.close()

    async def _read(self, base_url: str, headers: dict[str, str]) -> None:
        async with (
            httpx.AsyncClient(base_url=base_url, timeout=None) as http,
            http.stream("GET", "/api/live", headers=headers) as response,
        ):
            assert response.status_code == 200
            self._ready.set()
            fields: dict[str, str] = {}
            async for line in response.aiter_lines():
                if line == "":
                    if "data" in fields:
                        data = json.loads(fields["data"])
                        self.messages.put(Message(fields.get("id"), fields.get("event"), data))
                    fields = {}
                elif not line.startswith(":") and ":" in line:
                    key, _, value = line.partition(":")
                    fields[key] = value.lstrip(" ")

    def take(self, n: int, timeout: float = 15) -> list[Message]:
        return [self.messages.get(timeout=timeout) for _ in range(n)]

    def nothing_more(self, wait: float = 1.5) -> bool:
        try:
            self.messages.get(timeout=wait)
        except queue.Empty:
            return True
        return False

    def close(self) -> None:
        """Drop the connection, as a tablet losing its network would."""
        if self._task is not None:
            self._loop.call_soon_threadsafe(self._task.cancel)
        self._thread.join(timeout=5)


@contextmanager
def subscribed(base_url: str, username: str, last: str | None = None) -> Iterator[Subscriber]:
    with client(base_url, username) as http:
        token = str(http.headers["Authorization"])
    sub = Subscriber(base_url, token, last)
    try:
        yield sub
    finally:
        sub.close()


def _communities(street: str, n: int) -> list[dict[str, Any]]:
    return sql(
        "SELECT c.code, s.lat, s.lon FROM community c JOIN street s ON s.code=c.street "
        "WHERE c.street=$1 ORDER BY c.code LIMIT $2",
        street,
        n,
    )


def _move(http: httpx.Client, place: dict[str, Any], step: int) -> None:
    body = {"lat": place["lat"] + 0.0001 * step, "lon": place["lon"], "note": f"step {step}"}
    response = http.put(f"/api/communities/{place['code']}/coordinates", json=body)
    assert response.status_code == 200, response.text


@pytest.fixture(scope="module")
def commander() -> str:
    return create_user(Role.COMMANDER)


def test_subscriber_hears_events_after_commit(server: str, commander: str) -> None:
    place = _communities("110101003", 1)[0]
    with subscribed(server, commander) as sub, client(server, commander) as http:
        _move(http, place, 1)
        (message,) = sub.take(1)
    assert message.event == "community.moved"
    assert message.data["data"]["code"] == place["code"]
    assert message.data["street"] == "110101003"
    assert message.id


def test_street_leader_hears_only_their_street(server: str, commander: str) -> None:
    mine, theirs = _communities("110101004", 1)[0], _communities("110101005", 1)[0]
    leader = create_user(Role.STREET_LEADER, street="110101004")
    with subscribed(server, leader) as sub, client(server, commander) as http:
        _move(http, theirs, 2)
        _move(http, mine, 2)
        _move(http, theirs, 3)
        http.post(
            "/api/users",
            json={
                "username": uuid.uuid4().hex[:12],
                "password": "long-enough-pw",
                "role": "viewer",
            },
        )
        (message,) = sub.take(1)
        assert sub.nothing_more()
    assert message.data["data"]["code"] == mine["code"]


def test_reconnect_with_last_event_id_misses_nothing(server: str, commander: str) -> None:
    places = _communities("110101006", 6)
    with client(server, commander) as http:
        with subscribed(server, commander) as sub:
            _move(http, places[0], 4)
            (first,) = sub.take(1)
        for place in places[1:]:  # while disconnected
            _move(http, place, 4)
        with subscribed(server, commander, last=first.id) as again:
            missed = again.take(5)
    assert [m.data["data"]["code"] for m in missed] == [p["code"] for p in places[1:]]


def _redis_available() -> bool:
    try:
        import redis

        redis.Redis.from_url(REDIS_URL, socket_connect_timeout=2).ping()
    except Exception:
        return False
    return True


@pytest.mark.e2e
def test_two_processes_share_the_feed_through_redis(commander: str) -> None:
    if not _redis_available():
        pytest.skip(f"no Redis at {REDIS_URL}: cross-process feed needs one")
    env = {"REDIS_URL": REDIS_URL, "DISPATCH_REDIS_PREFIX": f"test-{uuid.uuid4().hex[:8]}"}
    places = _communities("110101007", 8)
    with running_server(env) as a, running_server(env) as b, client(b, commander) as on_b:
        with subscribed(a, commander) as sub:
            for step, place in enumerate(places[:4]):
                _move(on_b, place, 10 + step)
            got = sub.take(4)
        assert [m.data["data"]["code"] for m in got] == [p["code"] for p in places[:4]]
        for step, place in enumerate(places[4:]):  # the subscriber is gone
            _move(on_b, place, 20 + step)
        with subscribed(a, commander, last=got[-1].id) as again:
            rest = again.take(4)
            assert again.nothing_more()
    assert [m.data["data"]["code"] for m in rest] == [p["code"] for p in places[4:]]
    ids = [m.id for m in got + rest]
    assert len(set(ids)) == 8


def test_expired_last_event_id_says_reset(server: str, commander: str) -> None:
    with subscribed(server, commander, last="999999999") as sub, client(server, commander) as h:
        _move(h, _communities("110101008", 1)[0], 5)
        first = sub.take(1)[0]
    assert first.event == "reset"


@pytest.mark.e2e
def test_serve_with_two_workers_shares_one_feed(commander: str) -> None:
    """`dispatch serve --workers 2`: whichever worker answers, subscribers hear every event."""
    if not _redis_available():
        pytest.skip(f"no Redis at {REDIS_URL}: several workers need one")
    env = {"REDIS_URL": REDIS_URL, "DISPATCH_REDIS_PREFIX": f"test-{uuid.uuid4().hex[:8]}"}
    places = _communities("110101012", 6)
    with running_server(env, workers=2) as base, subscribed(base, commander) as sub:
        with client(base, commander) as http:
            for step, place in enumerate(places):
                with httpx.Client(base_url=base, headers=dict(http.headers)) as fresh:
                    _move(fresh, place, 30 + step)  # new connections: either worker answers
        got = sub.take(6)
    assert [m.data["data"]["code"] for m in got] == [p["code"] for p in places]


def test_street_leader_hears_stock_moving_at_their_depot(server: str, commander: str) -> None:
    """A receipt, by hand or from an imported list, is announced with the depot's street
    (it carried none, so a street leader's feed never heard their own stock move)."""
    leader = create_user(Role.STREET_LEADER, street="110101009")
    lot = f"L{uuid.uuid4().hex[:6]}"
    lines = [{"item": "WATER", "lot": lot, "qty": 2, "expires_on": "2099-12-31"}]
    sheet = f"depot,item,lot,expires_on,qty\nD110101009,WATER,I{lot},2099-12-31,3\n"
    with subscribed(server, leader) as sub, client(server, commander) as http:
        other = http.post("/api/stock/receipts", json={"depot": "D110101010", "lines": lines})
        mine = http.post("/api/stock/receipts", json={"depot": "D110101009", "lines": lines})
        imported = http.post(
            "/api/stock/imports/receipts", files={"data": ("r.csv", sheet.encode(), "text/csv")}
        )
        assert (other.status_code, mine.status_code, imported.status_code) == (201, 201, 201)
        heard: list[Message] = []
        while len(heard) < 2:  # stock alerts of the same depot may come between
            heard += [m for m in sub.take(1) if m.event == "stock.moved"]
        assert not [m for m in _drain(sub) if m.event == "stock.moved"]
    assert [m.data["street"] for m in heard] == ["110101009", "110101009"]
    assert heard[0].data["data"]["movements"] == [m["id"] for m in mine.json()["movements"]]
    assert heard[1].data["data"]["movements"] == imported.json()["movements"]


def _drain(sub: Subscriber, wait: float = 1.5) -> list[Message]:
    got = []
    with contextlib.suppress(queue.Empty):
        while True:
            got.append(sub.messages.get(timeout=wait))
    return got
