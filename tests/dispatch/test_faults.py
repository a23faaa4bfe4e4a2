"""Crashes under load: a server on a PostgreSQL of its own, 16 clients sending keyed
receipts and issues; the postmaster is killed (`kill -9`) mid-load and restarted 5 s later,
then one of the two workers is killed. Afterwards every acknowledged key has exactly one
effect, every key unresolved at the kill is resolved by a retry within 10 s of PostgreSQL
being back, no answer was a 500 and none was plain text.

The clients behave as the tablet outbox does: an action keeps its key for every resend;
a 503 or a 409 marked `retry` is sent again after its Retry-After, a lost connection at
once; any other answer resolves the action.
"""

from __future__ import annotations

import asyncio
import contextlib
import os
import shutil
import signal
import subprocess
import sys
import time
from collections.abc import Iterator
from dataclasses import dataclass, field
from datetime import date, timedelta
from pathlib import Path
from typing import Any

import asyncpg
import httpx
import psutil
import pytest

from dispatch.db import with_database
from tests.conftest import TEST_DATA
from tests.support import PASSWORD, SERVER_LOGS, SERVER_PROCESSES, running_server

# the in-flight actions must resolve within 10 s of PostgreSQL being back: alone, so that
# another test's load is not what is measured
pytestmark = pytest.mark.serial

CLI = [sys.executable, "-m", "dispatch.cli"]
CLIENTS = 16
DEPOT = "D110101001"
STREET = "110101001"
ITEM = "WATER"
SEEDED = 1_000_000
EXPIRES = (date.today() + timedelta(days=300)).isoformat()
KILL_AT = 3.0  # seconds of load before PostgreSQL is killed
DOWN_FOR = 5.0


@dataclass
class OwnPostgres:
    """A PostgreSQL of this test's own (pgserver's binaries), which it may kill."""

    data: Path
    url: str
    server: Any

    def pid(self) -> int:
        return int((self.data / "postmaster.pid").read_text().split()[0])

    def kill(self) -> None:
        os.kill(self.pid(), signal.SIGKILL)

    def start(self) -> None:
        """Start it again on the same data; a killed postmaster's backends may still be on
        their way out for a moment, so starting is tried until it takes."""
        deadline = time.monotonic() + 30
        while True:
            try:
                self.server.ensure_pgdata_inited()  # (as root: the folders' permissions)
                self.server.ensure_postgres_running()
                return
            except (subprocess.CalledProcessError, subprocess.TimeoutExpired):
                if time.monotonic() > deadline:
                    raise
                time.sleep(0.3)

    def stop(self) -> None:
        from pgserver._commands import pg_ctl

        with contextlib.suppress(subprocess.CalledProcessError):
            pg_ctl(["-m", "immediate", "stop"], pgdata=self.data, user=self.server.system_user)


@pytest.fixture(scope="module")
def own_postgres() -> Iterator[OwnPostgres]:
    import pgserver

    # beside the suite's embedded PostgreSQL (pytest's own temporary folders are private to
    # root, and pgserver runs PostgreSQL as another user when the tests run as root)
    data = TEST_DATA / f"fault-{os.getpid()}" / "pg"
    shutil.rmtree(data.parent, ignore_errors=True)
    data.parent.mkdir(parents=True)
    server = pgserver.get_server(str(data), cleanup_mode=None)
    server.psql("CREATE DATABASE fault;")
    own = OwnPostgres(data, with_database(str(server.get_uri()), "fault"), server)
    env = {**os.environ, "DATABASE_URL": own.url}
    for args in (["migrate"], ["load-reference"]):
        subprocess.run([*CLI, *args], env=env, check=True, capture_output=True)
    subprocess.run(
        [*CLI, "users", "create", "fault_commander", "--role", "commander", "--password", PASSWORD],
        env=env,
        check=True,
        capture_output=True,
    )
    try:
        yield own
    finally:
        own.stop()
        shutil.rmtree(data.parent, ignore_errors=True)


@dataclass
class Action:
    key: str
    path: str
    body: dict[str, Any]
    sent_at: float = 0.0
    resolved_at: float | None = None
    status: int | None = None


@dataclass
class Load:
    """What the clients saw: every answer's status and type, and every action's fate."""

    actions: list[Action] = field(default_factory=list)
    statuses: list[int] = field(default_factory=list)
    plain: list[str] = field(default_factory=list)
    lost_connections: int = 0
    stop: asyncio.Event = field(default_factory=asyncio.Event)


def _body(client: int, n: int, community: str) -> tuple[str, dict[str, Any]]:
    if n % 2 == 0:
        line = {"item": ITEM, "lot": f"F{client:02d}", "qty": 2, "expires_on": EXPIRES}
        return "/api/stock/receipts", {"depot": DEPOT, "lines": [line]}
    line = {"item": ITEM, "qty": 1}
    body = {"depot": DEPOT, "community": community, "purpose": "fault test", "lines": [line]}
    return "/api/stock/issues", body


async def _settle(http: httpx.AsyncClient, action: Action, load: Load) -> None:
    """Send the action (same key every time) until an answer resolves it."""
    while True:
        try:
            answer = await http.post(
                action.path, json=action.body, headers={"Idempotency-Key": action.key}
            )
        except httpx.TransportError:
            load.lost_connections += 1
            await asyncio.sleep(0.1)
            continue
        load.statuses.append(answer.status_code)
        kind = answer.headers.get("content-type", "")
        if "json" not in kind:
            load.plain.append(f"{answer.status_code} {kind} {answer.text[:80]!r}")
        retry = answer.status_code == 503 or (
            answer.status_code == 409 and answer.json().get("retry") is True
        )
        if not retry:
            action.status, action.resolved_at = answer.status_code, time.monotonic()
            return
        await asyncio.sleep(float(answer.headers.get("Retry-After", "1")))


async def _client(base: str, token: str, client: int, community: str, load: Load) -> None:
    headers = {"Authorization": f"Bearer {token}"}
    async with httpx.AsyncClient(base_url=base, headers=headers, timeout=30) as http:
        n = 0
        while not load.stop.is_set():
            path, body = _body(client, n, community)
            action = Action(f"fault-{client}-{n}", path, body, time.monotonic())
            load.actions.append(action)
            await _settle(http, action, load)
            n += 1


def _worker_pids(server_pid: int) -> list[int]:
    """The uvicorn workers under the server's supervisor (not multiprocessing's helper)."""
    children = psutil.Process(server_pid).children(recursive=False)
    return [c.pid for c in children if "resource_tracker" not in " ".join(c.cmdline())]


async def _login(base: str) -> str:
    async with httpx.AsyncClient(base_url=base, timeout=30) as http:
        answer = await http.post(
            "/api/auth/login", json={"username": "fault_commander", "password": PASSWORD}
        )
        answer.raise_for_status()
        token: str = answer.json()["access_token"]
        lines = [{"item": ITEM, "lot": "SEED", "qty": SEEDED, "expires_on": EXPIRES}]
        seed = {"depot": DEPOT, "lines": lines}
        headers = {"Authorization": f"Bearer {token}", "Idempotency-Key": "fault-seed"}
        (await http.post("/api/stock/receipts", json=seed, headers=headers)).raise_for_status()
    return token


async def _scene(base: str, pg: OwnPostgres, server_pid: int) -> tuple[Load, float, list[Action]]:
    token = await _login(base)
    conn = await asyncpg.connect(pg.url)
    community = await conn.fetchval("SELECT min(code) FROM community WHERE street=$1", STREET)
    await conn.close()
    load = Load()
    clients = [
        asyncio.create_task(_client(base, token, c, community, load)) for c in range(CLIENTS)
    ]
    await asyncio.sleep(KILL_AT)
    pg.kill()
    in_flight = [a for a in load.actions if a.resolved_at is None]
    await asyncio.sleep(DOWN_FOR)
    await asyncio.to_thread(pg.start)
    back_at = time.monotonic()
    await asyncio.sleep(4)
    workers = _worker_pids(server_pid)
    assert len(workers) >= 2, workers
    os.kill(workers[0], signal.SIGKILL)
    await asyncio.sleep(4)
    load.stop.set()
    await asyncio.wait_for(asyncio.gather(*clients), timeout=60)
    return load, back_at, in_flight


def test_kill_9_of_postgres_and_of_a_worker_loses_no_write_and_doubles_none(
    own_postgres: OwnPostgres,
) -> None:
    env = {"DATABASE_URL": own_postgres.url}
    with running_server(env, workers=2) as base:
        server_pid = SERVER_PROCESSES[base].pid
        server_log = SERVER_LOGS[-1]
        load, back_at, in_flight = asyncio.run(_scene(base, own_postgres, server_pid))

    counts = {s: load.statuses.count(s) for s in sorted(set(load.statuses))}
    slowest = max((a.resolved_at or 0) - back_at for a in in_flight) if in_flight else 0
    print(  # the figures of this run, for whoever reads the test's output
        f"\nfault: {len(load.actions)} actions, answers {counts}, "
        f"{load.lost_connections} lost connections, {len(in_flight)} in flight at the kill, "
        f"the last of them resolved {slowest:.1f} s after PostgreSQL was back"
    )
    assert 500 not in load.statuses, (counts, _errors_logged(server_log))
    assert not load.plain, load.plain[:5]
    assert 503 in load.statuses  # the outage was seen, and answered as one
    assert in_flight, "no action was in flight at the kill"
    late = [a.key for a in in_flight if a.resolved_at is None or a.resolved_at - back_at > 10]
    assert not late, late[:10]
    ok = [a for a in load.actions if a.status is not None and a.status < 300]
    assert len(ok) > 100, len(ok)
    assert all(a.status in (201, 200) for a in load.actions), {a.status for a in load.actions}
    effects = asyncio.run(_effects(own_postgres.url))
    twice = {a.key: effects.get(a.key, 0) for a in ok if effects.get(a.key, 0) != 1}
    assert not twice, list(twice.items())[:10]  # every acknowledged key: exactly one movement
    assert set(effects) <= {a.key for a in ok} | {"fault-seed"}


async def _effects(url: str) -> dict[str, int]:
    """Movements per key, and the ledger still summing to the balance."""
    conn = await asyncpg.connect(url)
    try:
        rows = await conn.fetch(
            "SELECT idempotency_key AS key, count(*) AS n FROM stock_movement "
            "WHERE idempotency_key IS NOT NULL GROUP BY idempotency_key"
        )
        ledger = await conn.fetchval(
            "SELECT sum(qty) FROM stock_movement WHERE depot=$1 AND item=$2", DEPOT, ITEM
        )
        balance = await conn.fetchval(
            "SELECT sum(qty) FROM stock_balance WHERE depot=$1 AND item=$2", DEPOT, ITEM
        )
        assert ledger == balance
    finally:
        await conn.close()
    return {r["key"]: int(r["n"]) for r in rows}


def _errors_logged(log: Path) -> str:
    """What the server logged of its errors: the traceback of a 500 says where it came from."""
    lines = log.read_text(errors="replace").splitlines()
    starts = [i for i, line in enumerate(lines) if "unhandled error" in line or "500" in line]
    return "\n".join("\n".join(lines[i : i + 40]) for i in starts[:3])[-6000:]
