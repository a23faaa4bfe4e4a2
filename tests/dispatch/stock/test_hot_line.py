"""The hot line: 50 concurrent clients send 400 one-unit issues of a line holding 250,
through a real server process. Exactly 250 succeed, 150 get 409, nothing goes negative and
the ledger sums to every balance. Five seeds shuffle the order and timing."""

from __future__ import annotations

import asyncio
import os
import random
from typing import Any

import asyncpg
import httpx
import pytest

from dispatch.accounts.policy import Role
from tests.dispatch.stock.helpers import (
    HOME,
    HOME_DEPOT,
    assert_ledger_matches,
    balances,
    community_of,
    in_days,
    item_name,
    new_item,
    receive,
)
from tests.support import create_user, sql

CLIENTS = 50
REQUESTS = 400
STOCK = 250


@pytest.fixture(scope="module")
def tokens(server: str) -> list[str]:
    """One user and one access token per client (users cloned from one, so the password is
    hashed once; tokens signed with the run's key, as login would)."""
    from dispatch.accounts.tokens import issue_pair
    from dispatch.settings import get_settings

    first = create_user(Role.COMMANDER)
    rows = sql(
        "INSERT INTO app_user (username, display_name, password_hash, role, created_at) "
        "SELECT u.username || '_' || n, u.display_name, u.password_hash, u.role, u.created_at "
        "FROM app_user u, generate_series(1, $2) n WHERE u.username = $1 RETURNING id",
        first,
        CLIENTS - 1,
    )
    ids = [int(sql("SELECT id FROM app_user WHERE username=$1", first)[0]["id"])]
    ids += [int(r["id"]) for r in rows]
    settings = get_settings()
    found = [issue_pair(settings.secret_key, i, 15, 1).access_token for i in ids]
    with httpx.Client(base_url=server, timeout=30) as http:
        me = http.get("/api/auth/me", headers={"Authorization": f"Bearer {found[-1]}"})
        assert me.status_code == 200, me.text
    return found


async def _storm(
    server: str, tokens: list[str], item: str, community: str, seed: int
) -> list[httpx.Response]:
    rng = random.Random(seed)
    order = list(range(REQUESTS))
    rng.shuffle(order)
    shares = [order[i::CLIENTS] for i in range(CLIENTS)]
    delays = {n: rng.uniform(0, 0.02) for n in order}
    body = {
        "depot": HOME_DEPOT,
        "community": community,
        "purpose": "hot line",
        "lines": [{"item": item, "qty": 1}],
    }
    lowest: list[int] = []
    stop = asyncio.Event()

    async def watch() -> None:  # the balance, sampled while the storm runs
        conn = await asyncpg.connect(os.environ["DATABASE_URL"])
        try:
            while not stop.is_set():
                lowest.append(
                    await conn.fetchval("SELECT min(qty) FROM stock_balance WHERE item=$1", item)
                )
                await asyncio.sleep(0.005)
        finally:
            await conn.close()

    async def one_client(token: str, share: list[int]) -> list[httpx.Response]:
        headers = {"Authorization": f"Bearer {token}"}
        got = []
        async with httpx.AsyncClient(base_url=server, headers=headers, timeout=60) as http:
            for n in share:
                await asyncio.sleep(delays[n])
                got.append(
                    await http.post(
                        "/api/stock/issues", json=body, headers={"Idempotency-Key": f"{item}-{n}"}
                    )
                )
        return got

    watcher = asyncio.create_task(watch())
    results = await asyncio.gather(*(one_client(t, s) for t, s in zip(tokens, shares, strict=True)))
    stop.set()
    await watcher
    assert min(lowest) >= 0
    return [r for group in results for r in group]


@pytest.mark.parametrize("seed", [1, 2, 3, 4, 5])
def test_hot_line(server: str, tokens: list[str], seed: int) -> None:
    item = new_item()
    receive(HOME_DEPOT, item, f"HOT{seed}", STOCK, in_days(100))
    responses = asyncio.run(_storm(server, tokens, item, community_of(HOME), seed))
    statuses = [r.status_code for r in responses]
    assert statuses.count(201) == STOCK, {s: statuses.count(s) for s in set(statuses)}
    assert statuses.count(409) == REQUESTS - STOCK
    refused = next(r.json() for r in responses if r.status_code == 409)
    assert (refused["item"], refused["depot"], refused["asked"], refused["available"]) == (
        item,
        HOME_DEPOT,
        1,
        0,
    )
    assert balances(item) == {(HOME_DEPOT, f"HOT{seed}"): 0}
    assert_ledger_matches(item)


async def _crossed(server: str, tokens: list[str], items: tuple[str, str], community: str) -> Any:
    """Every client sends issues of both items, half of them in the order (A, B), half in
    (B, A), all at once: with rows locked line by line in request order two of them would
    each hold one row and wait for the other's."""
    a, b = items

    async def one_client(i: int, token: str) -> list[httpx.Response]:
        headers = {"Authorization": f"Bearer {token}"}
        order = [a, b] if i % 2 == 0 else [b, a]
        body = {
            "depot": HOME_DEPOT,
            "community": community,
            "purpose": "crossed lines",
            "lines": [{"item": item, "qty": 1} for item in order],
        }
        async with httpx.AsyncClient(base_url=server, headers=headers, timeout=60) as http:
            return [
                await http.post(
                    "/api/stock/issues", json=body, headers={"Idempotency-Key": f"{a}-{i}-{n}"}
                )
                for n in range(4)
            ]

    results = await asyncio.gather(*(one_client(i, t) for i, t in enumerate(tokens)))
    return [r for group in results for r in group]


def test_crossed_line_orders_never_deadlock(server: str, tokens: list[str]) -> None:
    items = (new_item(), new_item())
    for n, item in enumerate(items):
        receive(HOME_DEPOT, item, f"X{n}", 1000, in_days(100))
    responses = asyncio.run(_crossed(server, tokens, items, community_of(HOME)))
    statuses = [r.status_code for r in responses]
    retried = [r for r in responses if r.status_code == 409 and r.json().get("retry")]
    print(f"\ncrossed: {len(responses)} issues, {len(retried)} needed a retry")
    assert statuses == [201] * CLIENTS * 4, {s: statuses.count(s) for s in set(statuses)}
    assert not retried  # no deadlock was detected and rolled back
    left = balances(items[0]) | balances(items[1])
    assert left == {(HOME_DEPOT, "X0"): 1000 - CLIENTS * 4, (HOME_DEPOT, "X1"): 1000 - CLIENTS * 4}
    assert_ledger_matches(items[0])
    assert_ledger_matches(items[1])


def test_every_short_line_is_named_in_one_refusal(server: str, tokens: list[str]) -> None:
    short_a, short_b, enough = new_item(), new_item(), new_item()
    receive(HOME_DEPOT, short_a, "S0", 3, in_days(100))
    receive(HOME_DEPOT, enough, "S1", 50, in_days(100))
    body = {
        "depot": HOME_DEPOT,
        "community": community_of(HOME),
        "purpose": "every shortage",
        "lines": [
            {"item": short_a, "qty": 5},
            {"item": enough, "qty": 10},
            {"item": short_b, "qty": 2},
        ],
    }
    headers = {"Authorization": f"Bearer {tokens[0]}"}
    answer = httpx.post(server + "/api/stock/issues", json=body, headers=headers, timeout=30)
    assert answer.status_code == 409
    problem = answer.json()
    assert problem["code"] == "stock.shortages" and problem["params"]["count"] == 2
    listed = [(s["item"], s["asked"], s["available"], s["field"]) for s in problem["shortages"]]
    assert listed == [(short_a, 5, 3, "lines[0].qty"), (short_b, 2, 0, "lines[2].qty")]
    assert (problem["item"], problem["asked"], problem["available"]) == (short_a, 5, 3)
    assert f"{item_name(short_a)} 需要 5" in problem["params"]["lines"]
    assert balances(enough) == {(HOME_DEPOT, "S1"): 50}  # nothing of the request was written
