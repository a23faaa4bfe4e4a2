"""Helpers shared by tests: a server process, API clients, seeding through the services."""

from __future__ import annotations

import asyncio
import contextlib
import os
import re
import socket
import subprocess
import sys
import uuid
from collections.abc import Coroutine, Iterator
from concurrent.futures import ThreadPoolExecutor
from contextlib import contextmanager
from pathlib import Path
from typing import Any, TypeVar

import httpx
import psutil

from dispatch.accounts.policy import Role
from dispatch.accounts.schemas import UserCreate
from dispatch.bench import wait_healthy
from dispatch.db import system_context

PASSWORD = "correct-horse-battery"
LOGS = Path(__file__).resolve().parent.parent / ".dispatch" / "test" / "logs"

# Synthetic phone numbers start with 100; a whole one in a response or a log line is a leak.
UNMASKED_PHONE = re.compile(rb"(?<!\d)100\d{8}(?!\d)")
# A JWT (access or refresh token) starts with the base64 of `{"`: none may reach a log line.
TOKEN = re.compile(rb"eyJ[A-Za-z0-9_-]{8,}")
PHONE_LEAKS: list[str] = []  # responses of this run that carried a whole phone number
SERVER_LOGS: list[Path] = []  # log files of the servers this run started
SERVER_PROCESSES: dict[str, subprocess.Popen[bytes]] = {}  # by base URL: a test may kill one
T = TypeVar("T")


def run(coro: Coroutine[Any, Any, T]) -> T:
    """Seed or inspect through the services from a sync test (own loop, own connections).

    Playwright's sync API keeps an event loop running in the test's thread, so there the
    coroutine gets a thread of its own.
    """
    try:
        asyncio.get_running_loop()
    except RuntimeError:
        return asyncio.run(coro)
    with ThreadPoolExecutor(max_workers=1) as pool:
        return pool.submit(asyncio.run, coro).result()


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


@contextmanager
def running_server(extra_env: dict[str, str] | None = None, workers: int = 1) -> Iterator[str]:
    port = free_port()
    env = {**os.environ, **(extra_env or {})}
    cmd = [sys.executable, "-m", "dispatch.cli", "serve", "--port", str(port)]
    cmd += ["--workers", str(workers)]
    LOGS.mkdir(parents=True, exist_ok=True)
    log_path = LOGS / f"server-{port}.log"  # a file, not a pipe: a full pipe would stall it
    SERVER_LOGS.append(log_path)
    with log_path.open("wb") as log:
        proc = subprocess.Popen(cmd, env=env, stdout=log, stderr=subprocess.STDOUT)
    base_url = f"http://127.0.0.1:{port}"
    SERVER_PROCESSES[base_url] = proc
    try:
        wait_healthy(base_url, proc, log_path)
        yield base_url
    finally:
        SERVER_PROCESSES.pop(base_url, None)
        _stop_with_its_workers(proc)


def _stop_with_its_workers(proc: subprocess.Popen[bytes]) -> None:
    """Stop a server and every process under it: a worker started again after a test
    killed one, or left behind when the server had to be killed, would outlive the run."""
    try:
        workers = psutil.Process(proc.pid).children(recursive=True)
    except psutil.NoSuchProcess:
        workers = []
    proc.terminate()
    try:
        proc.wait(timeout=10)
    except subprocess.TimeoutExpired:
        proc.kill()
        proc.wait(timeout=10)
    _, alive = psutil.wait_procs(workers, timeout=5)
    for worker in alive:
        with contextlib.suppress(psutil.NoSuchProcess):
            worker.kill()


def unique(prefix: str) -> str:
    return f"{prefix}_{uuid.uuid4().hex[:10]}"


def create_user(
    role: Role,
    street: str | None = None,
    community: str | None = None,
    name: str | None = None,
    person: int | None = None,
) -> str:
    """A user; `person`, the person they are (a volunteer works the tasks that person is on)."""
    from dispatch.accounts.service import create_user as create

    username = name or unique(role.value)
    body = UserCreate(
        username=username,
        password=PASSWORD,
        role=role,
        street=street,
        community=community,
        person=person,
    )
    run(create(system_context(), body))
    return username


def client(base_url: str, username: str | None = None, address: str | None = None) -> httpx.Client:
    """A client from its own address (so login throttling of one test never hits another)."""
    fake = f"198.18.{uuid.uuid4().int % 250}.{uuid.uuid4().int % 250}"  # a header, never dialled
    headers = {"X-Forwarded-For": address or fake}
    http = httpx.Client(
        base_url=base_url,
        headers=headers,
        timeout=30,
        event_hooks={"response": [_record_phone_leak]},
    )
    if username is not None:
        response = httpx.post(
            base_url + "/api/auth/login",
            json={"username": username, "password": PASSWORD},
            headers=headers,
        )
        response.raise_for_status()
        http.headers["Authorization"] = f"Bearer {response.json()['access_token']}"
    return http


async def fetch(sql: str, *args: Any) -> list[dict[str, Any]]:
    from dispatch.db import engine

    async with engine().transaction() as txn:
        rows = await txn.connection.fetch(sql, *args)
    return [dict(r) for r in rows]


def sql(statement: str, *args: Any) -> list[dict[str, Any]]:
    return run(fetch(statement, *args))


def _record_phone_leak(response: httpx.Response) -> None:
    """Remember any response carrying a whole phone number; reveal endpoints are the one
    place meant to return them."""
    if response.request.url.path.endswith("/reveal"):
        return
    if response.headers.get("content-type", "").startswith("text/event-stream"):
        return  # a live feed never ends; reading it here would block its reader
    response.read()
    found = UNMASKED_PHONE.search(response.content)
    if found:
        request = response.request
        PHONE_LEAKS.append(f"{request.method} {request.url.path}: {found.group().decode()}")


def token_leaks() -> list[str]:
    """Server log lines of this run holding a token (uvicorn's access log, ours, any)."""
    leaks = []
    for path in SERVER_LOGS:
        if not path.exists():
            continue
        for number, line in enumerate(path.read_bytes().splitlines(), 1):
            if TOKEN.search(line):
                leaks.append(f"{path.name}:{number}: {line[:200].decode(errors='replace')}")
    return leaks


def phone_leaks() -> list[str]:
    """Responses and server log lines of this run holding an unmasked phone number."""
    leaks = list(PHONE_LEAKS)
    for path in SERVER_LOGS:
        if not path.exists():
            continue
        for number, line in enumerate(path.read_bytes().splitlines(), 1):
            if UNMASKED_PHONE.search(line):
                leaks.append(f"{path.name}:{number}: {line[:200].decode(errors='replace')}")
    return leaks


def raw_xlsx(rows_xml: str, dimension: str | None = None) -> bytes:
    """An XLSX file written by hand around a sheet's `<row>` elements (and the size it
    declares, if given): a sheet no spreadsheet program would write, as an attacker may,
    and 200,000 rows of it in a fraction of a second."""
    import io
    import zipfile

    main = "http://schemas.openxmlformats.org/spreadsheetml/2006/main"
    rels = "http://schemas.openxmlformats.org/package/2006/relationships"
    doc = "http://schemas.openxmlformats.org/officeDocument/2006/relationships"
    kind = "application/vnd.openxmlformats-officedocument.spreadsheetml"
    size = f'<dimension ref="{dimension}"/>' if dimension else ""
    parts = {
        "[Content_Types].xml": (
            '<Types xmlns="http://schemas.openxmlformats.org/package/2006/content-types">'
            '<Default Extension="rels" '
            'ContentType="application/vnd.openxmlformats-package.relationships+xml"/>'
            '<Default Extension="xml" ContentType="application/xml"/>'
            f'<Override PartName="/xl/workbook.xml" ContentType="{kind}.sheet.main+xml"/>'
            f'<Override PartName="/xl/worksheets/sheet1.xml" ContentType="{kind}.worksheet+xml"/>'
            "</Types>"
        ),
        "_rels/.rels": (
            f'<Relationships xmlns="{rels}"><Relationship Id="rId1" '
            f'Type="{doc}/officeDocument" Target="xl/workbook.xml"/></Relationships>'
        ),
        "xl/workbook.xml": (
            f'<workbook xmlns="{main}" xmlns:r="{doc}"><sheets>'
            '<sheet name="s" sheetId="1" r:id="rId1"/></sheets></workbook>'
        ),
        "xl/_rels/workbook.xml.rels": (
            f'<Relationships xmlns="{rels}"><Relationship Id="rId1" '
            f'Type="{doc}/worksheet" Target="worksheets/sheet1.xml"/></Relationships>'
        ),
        "xl/worksheets/sheet1.xml": (
            f'<worksheet xmlns="{main}">{size}<sheetData>{rows_xml}</sheetData></worksheet>'
        ),
    }
    out = io.BytesIO()
    with zipfile.ZipFile(out, "w", zipfile.ZIP_DEFLATED) as archive:
        for name, text in parts.items():
            archive.writestr(name, text)
    return out.getvalue()


def xlsx_rows(n: int, header: str = "code") -> str:
    """`<row>` elements: a header, then n rows of a text and a number."""
    head = f'<row r="1"><c r="A1" t="inlineStr"><is><t>{header}</t></is></c></row>'
    body = "".join(
        f'<row r="{i}"><c r="A{i}" t="inlineStr"><is><t>P{i}</t></is></c>'
        f'<c r="B{i}"><v>{i}</v></c></row>'
        for i in range(2, n + 2)
    )
    return head + body
