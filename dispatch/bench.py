"""`dispatch bench stock`: the stock API under concurrent load, beside raw asyncpg.

N clients send issues through the HTTP API; then N raw asyncpg connections do the same
guarded updates + ledger inserts, one transaction per request, with nothing else around
them. Both run in the same invocation, against the same database, so their ratio says what
the service layer costs. Two shapes: the hot line (one unit of one lot per request, every
request waiting for the same balance row: bounded by the disk's commit rate) and many lines
(`--lines N`: N lots per request, each client its own lots, so commits group and the cost
per movement shows). CPU ms per request is the server processes' (HTTP) or this process's
(raw) CPU time over the requests; PostgreSQL's own CPU is in neither.
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
from typing import Any

import asyncpg
import httpx
import psutil

from dispatch.accounts.policy import Role
from dispatch.accounts.schemas import UserCreate
from dispatch.accounts.service import create_user
from dispatch.bench_client import LeanClient
from dispatch.db import create_database, embedded_url, migrate_database, system_context
from dispatch.db import drop_database as drop_database_named
from dispatch.places.service import load_reference
from dispatch.settings import get_settings
from dispatch.stock.schemas import ReceiptCreate, ReceiptLine
from dispatch.stock.service import load_catalogue, receive

DEPOT = "D110101001"
ITEM = "SANDBAG"
COMMUNITY = "110101001001"


@dataclass(frozen=True)
class Shape:
    """What one request of the bench moves: `lines` lots of one unit each; with one line
    every client shares one lot (the hot line), with more each client has lots of its own."""

    clients: int
    lines: int = 1

    def lots(self, side: str, slot: int) -> list[str]:
        if self.lines == 1:
            return [f"BENCH-{side}"]
        return [f"BENCH-{side}-{slot}-{k}" for k in range(self.lines)]

    def all_lots(self, side: str) -> list[str]:
        slots = 1 if self.lines == 1 else self.clients
        return [lot for slot in range(slots) for lot in self.lots(side, slot)]


@dataclass
class Run:
    name: str
    ops: int
    ok: int
    seconds: float
    latencies: list[float]
    lines: int = 1
    cpu_seconds: float = 0.0
    client_cpu_seconds: float = 0.0  # the bench's own (its HTTP clients, or raw asyncpg)

    @property
    def per_second(self) -> float:
        """Movements per second (one per line of every request that succeeded)."""
        return self.ok * self.lines / self.seconds if self.seconds else 0.0

    @property
    def cpu_ms_per_request(self) -> float:
        return self.cpu_seconds * 1000 / self.ops if self.ops else 0.0

    def percentile(self, p: float) -> float:
        if not self.latencies:
            return 0.0
        ordered = sorted(self.latencies)
        return ordered[min(len(ordered) - 1, int(p / 100 * len(ordered)))] * 1000


def _cpu_of(pids: list[int]) -> float:
    """CPU seconds used so far by these processes and their children."""
    total = 0.0
    for pid in pids:
        try:
            process = psutil.Process(pid)
            for p in [process, *process.children(recursive=True)]:
                times = p.cpu_times()
                total += times.user + times.system
        except psutil.NoSuchProcess:
            continue
    return total


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


def _issue_body(shape: Shape, side: str, slot: int) -> dict[str, Any]:
    """The hot line names no lot, as a tablet's issue does (earliest expiry: the HTTP lot,
    stocked first); many lines name each client's own lots."""
    if shape.lines == 1:
        lines: list[dict[str, Any]] = [{"item": ITEM, "qty": 1}]
    else:
        lines = [{"item": ITEM, "qty": 1, "lot": lot} for lot in shape.lots(side, slot)]
    return {"depot": DEPOT, "community": COMMUNITY, "purpose": "benchmark", "lines": lines}


async def http_run(
    base_url: str, token: str, shape: Shape, ops: int, server_pids: list[int] | None = None
) -> Run:
    headers = {"Authorization": f"Bearer {token}"}
    pool = [LeanClient(base_url, headers) for _ in range(shape.clients)]
    bodies = [_issue_body(shape, "HTTP", slot) for slot in range(shape.clients)]

    async def one(slot: int) -> bool:
        response = await pool[slot].post(
            "/api/stock/issues", bodies[slot], {"Idempotency-Key": secrets.token_hex(12)}
        )
        return response.status == 201

    cpu = _cpu_of(server_pids or [])
    client_cpu = time.process_time()
    try:
        name = f"HTTP API (issue, {shape.lines} line{'s' if shape.lines > 1 else ''})"
        run = await _drive(shape.clients, ops, one, name)
    finally:
        await asyncio.gather(*(c.aclose() for c in pool))
    run.lines, run.cpu_seconds = shape.lines, _cpu_of(server_pids or []) - cpu
    run.client_cpu_seconds = time.process_time() - client_cpu
    return run


async def raw_run(database_url: str, shape: Shape, ops: int) -> Run:
    conns = [await asyncpg.connect(database_url) for _ in range(shape.clients)]
    ids = {
        r["lot_number"]: r["id"]
        for r in await conns[0].fetch(
            "SELECT id, lot_number FROM lot WHERE item=$1 AND lot_number LIKE 'BENCH-RAW%'", ITEM
        )
    }
    lots = [[ids[n] for n in shape.lots("RAW", slot)] for slot in range(shape.clients)]

    async def one(slot: int) -> bool:
        conn = conns[slot]
        async with conn.transaction():
            for lot in lots[slot]:
                left = await conn.fetchval(
                    "UPDATE stock_balance SET qty = qty - 1 "
                    "WHERE depot=$1 AND lot=$2 AND qty >= 1 RETURNING qty",
                    DEPOT,
                    lot,
                )
                if left is None:
                    raise _Short
                await conn.execute(
                    "INSERT INTO stock_movement (at, kind, depot, item, lot, qty, community, "
                    "purpose, actor) VALUES (now(), 'issue', $1, $2, $3, -1, $4, 'benchmark', "
                    "'bench')",
                    DEPOT,
                    ITEM,
                    lot,
                    COMMUNITY,
                )
        return True

    async def guarded(slot: int) -> bool:
        try:
            return await one(slot)
        except _Short:
            return False

    cpu = time.process_time()
    try:
        name = "raw asyncpg (guarded updates + inserts)"
        run = await _drive(shape.clients, ops, guarded, name)
    finally:
        await asyncio.gather(*(c.close() for c in conns))
    run.lines, run.cpu_seconds = shape.lines, time.process_time() - cpu
    return run


class _Short(Exception):
    """A raw run found a lot empty: its transaction is rolled back, like a 409."""


def _free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


@contextmanager
def serving(database_url: str, log: Path, workers: int = 1) -> Iterator[tuple[str, int]]:
    """A server process of its own on a free port, on the given database: (url, pid)."""
    port = _free_port()
    env = {**os.environ, "DATABASE_URL": database_url}
    command = [sys.executable, "-m", "dispatch.cli", "serve", "--port", str(port)]
    with log.open("wb") as out:
        proc = subprocess.Popen(
            [*command, "--workers", str(workers)], env=env, stdout=out, stderr=subprocess.STDOUT
        )
    base_url = f"http://127.0.0.1:{port}"
    try:
        wait_healthy(base_url, proc, log)
        yield base_url, proc.pid
    finally:
        proc.terminate()
        try:
            proc.wait(timeout=10)
        except subprocess.TimeoutExpired:
            proc.kill()


STARTUP_S = 180  # a demo server migrates and loads the district first; on a loaded 2-core
# machine (load ~12) that took just over 60 s once


def wait_healthy(base_url: str, proc: subprocess.Popen[bytes], log: Path) -> None:
    """Wait (`STARTUP_S` at most) for a server process started here to answer /health."""
    deadline = time.monotonic() + STARTUP_S
    while time.monotonic() < deadline:
        if proc.poll() is not None:
            raise RuntimeError(f"server exited early:\n{log.read_text()[-4000:]}")
        try:
            if httpx.get(base_url + "/health", timeout=1).status_code == 200:
                return
        except httpx.HTTPError:
            pass
        time.sleep(0.2)
    raise RuntimeError(f"server did not become healthy in {STARTUP_S} s; see {log}")


async def prepare_database(database_url: str, shape: Shape, ops: int) -> str:
    """Migrate, load, make a bench commander and stock every bench lot; returns the password."""
    ctx = system_context()
    await migrate_database()
    await load_reference(ctx, get_settings().reference_dir)
    await load_catalogue(ctx, get_settings().reference_dir)
    password = secrets.token_urlsafe(12)
    user = UserCreate(username="bench", password=password, role=Role.COMMANDER)
    await create_user(ctx, user)
    for chunk in _receipts(shape, ops):
        lines = [ReceiptLine(**line) for line in chunk]
        await receive(ctx, ReceiptCreate(depot=DEPOT, lines=lines))
    return password


def _receipts(shape: Shape, ops: int) -> Iterator[list[dict[str, Any]]]:
    """Receipt lines stocking every lot of both sides with enough for the whole run, in
    receipts of at most 1,000 lines (the API's limit)."""
    lots = shape.all_lots("HTTP") + shape.all_lots("RAW")
    lines = [{"item": ITEM, "lot": lot, "qty": ops} for lot in lots]
    for start in range(0, len(lines), 1000):
        yield lines[start : start + 1000]


def throwaway_database() -> tuple[str, str]:
    """(server url, new database url) on DATABASE_URL's server or the embedded one."""
    settings = get_settings()
    server = settings.database_url or embedded_url(settings.data_dir, "postgres")
    name = f"dispatch_bench_{os.getpid()}"
    return server, asyncio.run(create_database(server, name, drop_first=True))


def drop_database(server: str, url: str) -> None:
    asyncio.run(drop_database_named(server, url.rsplit("/", 1)[-1]))


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
            f"{r.cpu_ms_per_request:.2f}",
        )
        for r in runs
    ]


def stock_lines_via_api(base_url: str, token: str, shape: Shape, ops: int) -> None:
    """Against a given server: stock every bench lot through the API."""
    for chunk in _receipts(shape, ops):
        response = httpx.post(
            base_url + "/api/stock/receipts",
            json={"depot": DEPOT, "lines": chunk},
            headers={"Authorization": f"Bearer {token}"},
            timeout=120,
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
