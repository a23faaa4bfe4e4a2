"""`dispatch bench stock`: the stock API under concurrent load, beside raw asyncpg.

N clients send one-unit issues of one hot line (the worst case: every request waits for the
same balance row) through the HTTP API; then N raw asyncpg connections do the same guarded
update + ledger insert with nothing else around it. Both run in the same process, against
the same database, so their ratio says what the service layer costs.
"""

from __future__ import annotations

import asyncio
import os
import secrets
import shutil
import socket
import subprocess
import sys
import tempfile
import time
from collections.abc import Awaitable, Callable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path

import asyncpg
import httpx

DEPOT = "D110101001"
ITEM = "SANDBAG"
COMMUNITY = "110101001001"


@dataclass
class Run:
    name: str
    ops: int
    ok: int
    seconds: float
    latencies: list[float]

    @property
    def per_second(self) -> float:
        return self.ok / self.seconds if self.seconds else 0.0

    def percentile(self, p: float) -> float:
        if not self.latencies:
            return 0.0
        ordered = sorted(self.latencies)
        return ordered[min(len(ordered) - 1, int(p / 100 * len(ordered)))] * 1000


async def _drive(clients: int, ops: int, one: Callable[[int], Awaitable[bool]], name: str) -> Run:
    latencies: list[float] = []
    ok = 0
    queue = iter(range(ops))

    async def worker(slot: int) -> None:
        nonlocal ok
        for _ in queue:  # one shared queue: a free client takes the next operation
            started = time.perf_counter()
            if await one(slot):
                ok += 1
            latencies.append(time.perf_counter() - started)

    started = time.perf_counter()
    await asyncio.gather(*(worker(i) for i in range(clients)))
    return Run(name, ops, ok, time.perf_counter() - started, latencies)


async def http_run(base_url: str, token: str, clients: int, ops: int) -> Run:
    body = {
        "depot": DEPOT,
        "community": COMMUNITY,
        "purpose": "benchmark",
        "lines": [{"item": ITEM, "qty": 1, "lot": "BENCH-HTTP"}],
    }
    headers = {"Authorization": f"Bearer {token}"}
    pool = [
        httpx.AsyncClient(base_url=base_url, headers=headers, timeout=120) for _ in range(clients)
    ]

    async def one(slot: int) -> bool:
        response = await pool[slot].post(
            "/api/stock/issues", json=body, headers={"Idempotency-Key": secrets.token_hex(12)}
        )
        return response.status_code == 201

    try:
        return await _drive(clients, ops, one, "HTTP API (issue, 1 unit)")
    finally:
        await asyncio.gather(*(c.aclose() for c in pool))


async def raw_run(database_url: str, clients: int, ops: int) -> Run:
    conns = [await asyncpg.connect(database_url) for _ in range(clients)]
    lot = await conns[0].fetchval(
        "SELECT id FROM lot WHERE item=$1 AND lot_number='BENCH-RAW'", ITEM
    )

    async def one(slot: int) -> bool:
        conn = conns[slot]
        async with conn.transaction():
            left = await conn.fetchval(
                "UPDATE stock_balance SET qty = qty - 1 WHERE depot=$1 AND lot=$2 AND qty >= 1 "
                "RETURNING qty",
                DEPOT,
                lot,
            )
            if left is None:
                return False
            await conn.execute(
                "INSERT INTO stock_movement (at, kind, depot, item, lot, qty, community, purpose,"
                " actor) VALUES (now(), 'issue', $1, $2, $3, -1, $4, 'benchmark', 'bench')",
                DEPOT,
                ITEM,
                lot,
                COMMUNITY,
            )
        return True

    try:
        return await _drive(clients, ops, one, "raw asyncpg (guarded update + insert)")
    finally:
        await asyncio.gather(*(c.close() for c in conns))


def _free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


@contextmanager
def serving(database_url: str, log: Path) -> Iterator[str]:
    """A server process of its own on a free port, on the given database."""
    port = _free_port()
    env = {**os.environ, "DATABASE_URL": database_url}
    with log.open("wb") as out:
        proc = subprocess.Popen(
            [sys.executable, "-m", "dispatch.cli", "serve", "--port", str(port)],
            env=env,
            stdout=out,
            stderr=subprocess.STDOUT,
        )
    base_url = f"http://127.0.0.1:{port}"
    try:
        deadline = time.monotonic() + 60
        while True:
            if proc.poll() is not None:
                raise RuntimeError(f"server exited early; see {log}")
            try:
                if httpx.get(base_url + "/health", timeout=1).status_code == 200:
                    break
            except httpx.HTTPError:
                pass
            if time.monotonic() > deadline:
                raise RuntimeError(f"server not healthy in 60 s; see {log}")
            time.sleep(0.2)
        yield base_url
    finally:
        proc.terminate()
        try:
            proc.wait(timeout=10)
        except subprocess.TimeoutExpired:
            proc.kill()


async def prepare_database(database_url: str, ops: int) -> str:
    """Migrate, load, make a bench commander and stock both lines; returns the password."""
    from dispatch.accounts.policy import SYSTEM, Role
    from dispatch.accounts.schemas import UserCreate
    from dispatch.accounts.service import create_user
    from dispatch.cli import migrate_database
    from dispatch.clock import WallClock
    from dispatch.db import Context
    from dispatch.places.service import load_reference
    from dispatch.settings import get_settings
    from dispatch.stock.schemas import ReceiptCreate, ReceiptLine
    from dispatch.stock.service import load_catalogue, receive

    ctx = Context(SYSTEM, WallClock())
    await migrate_database()
    await load_reference(ctx, get_settings().reference_dir)
    await load_catalogue(ctx, get_settings().reference_dir)
    password = secrets.token_urlsafe(12)
    user = UserCreate(username="bench", password=password, role=Role.COMMANDER)
    await create_user(ctx, user)
    lines = [ReceiptLine(item=ITEM, lot=f"BENCH-{k}", qty=ops) for k in ("HTTP", "RAW")]
    await receive(ctx, ReceiptCreate(depot=DEPOT, lines=lines))
    return password


def throwaway_database() -> tuple[str, str]:
    """(server url, new database url) on DATABASE_URL's server or the embedded one."""
    from dispatch.db import create_database, embedded_url
    from dispatch.settings import get_settings

    settings = get_settings()
    server = settings.database_url or embedded_url(settings.data_dir, "postgres")
    name = f"dispatch_bench_{os.getpid()}"
    return server, asyncio.run(create_database(server, name, drop_first=True))


def drop_database(server: str, url: str) -> None:
    from dispatch.db import drop_database as drop

    asyncio.run(drop(server, url.rsplit("/", 1)[-1]))


def login(base_url: str, username: str, password: str) -> str:
    response = httpx.post(
        base_url + "/api/auth/login", json={"username": username, "password": password}
    )
    response.raise_for_status()
    return str(response.json()["access_token"])


def summarise(runs: list[Run]) -> list[tuple[str, ...]]:
    return [
        (
            r.name,
            str(r.ops),
            str(r.ok),
            f"{r.seconds:.2f}",
            f"{r.per_second:,.0f}",
            f"{r.percentile(50):.1f}",
            f"{r.percentile(99):.1f}",
        )
        for r in runs
    ]


def stock_lines_via_api(base_url: str, token: str, ops: int) -> None:
    """Against a given server: stock both bench lines through the API."""
    body = {
        "depot": DEPOT,
        "lines": [{"item": ITEM, "lot": f"BENCH-{k}", "qty": ops} for k in ("HTTP", "RAW")],
    }
    response = httpx.post(
        base_url + "/api/stock/receipts",
        json=body,
        headers={"Authorization": f"Bearer {token}"},
        timeout=60,
    )
    response.raise_for_status()


# --- `dispatch bench planning --instructions`: a figure the machine's load can't move ---------


def planning_instructions(case: str, plans: int = 4) -> str:
    """Instructions per cold plan of ``case``, counted by valgrind's callgrind.

    On this shared machine the wall time of one plan moves by half between runs;
    the instruction count is the same every time, so code changes can be judged
    by it (at the price of a run about fifty times slower).
    """
    from geo.bench import COUNTED_CALL

    if case not in ("dongcheng", "city"):
        return f"instructions: no case {case!r} (dongcheng or city)"
    valgrind = shutil.which("valgrind")
    if valgrind is None:
        return "instructions: valgrind is not installed here (apt-get install valgrind)"
    with tempfile.TemporaryDirectory() as tmp:
        out = Path(tmp) / "callgrind.out"
        command = [
            valgrind,
            "--tool=callgrind",
            "--collect-atstart=no",
            f"--toggle-collect={COUNTED_CALL}",
            f"--callgrind-out-file={out}",
            sys.executable,
            "-m",
            "geo.bench",
            "plans",
            case,
            str(plans),
        ]
        done = subprocess.run(command, capture_output=True, text=True, check=False)
        if done.returncode != 0 or not out.exists():
            return f"instructions: callgrind failed ({done.returncode}): {done.stderr[-500:]}"
        counted = _callgrind_total(out.read_text())
    return (
        f"{case}: {counted / plans / 1e6:.1f} M instructions per cold plan "
        f"(callgrind, {plans} plans; the same whatever the machine's load)"
    )


def _callgrind_total(text: str) -> int:
    """The event total a callgrind output file reports."""
    for line in text.splitlines():
        if line.startswith(("summary:", "totals:")):
            return int(line.split()[1])
    raise ValueError("no totals in callgrind output")
