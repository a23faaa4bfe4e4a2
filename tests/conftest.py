"""Test set-up: a fresh PostgreSQL database per run (the machine's or the embedded one),
migrated and loaded once, and a real server process for API tests.

DATABASE_URL, when set, names the server to create the test database on; otherwise the
embedded PostgreSQL (pgserver) is started in `.dispatch/test`.
"""

from __future__ import annotations

import asyncio
import os
import shutil
from collections.abc import Iterator
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parent.parent
TEST_DATA = ROOT / ".dispatch" / "test"
TEST_DB = f"dispatch_test_{os.getpid()}"
# leaks a worker process of a parallel run found, for the run's end to report
LEAK_FILES = TEST_DATA / "leaks"


def _server_url() -> str:
    given = os.environ.get("DATABASE_URL")
    if given:
        return given
    from dispatch.db import embedded_url

    return embedded_url(TEST_DATA, "postgres")


def _worker(config: pytest.Config) -> str | None:
    """The name of this worker process of a parallel run (pytest-xdist), None in the
    process that runs tests alone or leads the workers."""
    workerinput = getattr(config, "workerinput", None)
    return None if workerinput is None else str(workerinput["workerid"])


def _database_name(config: pytest.Config) -> str:
    worker = _worker(config)
    return os.environ["DISPATCH_TEST_DB"] + ("" if worker is None else f"_{worker}")


def pytest_configure(config: pytest.Config) -> None:
    """Point every process of this run at a new database before anything reads settings.

    In a parallel run each worker has a database of its own (and so do the servers it
    starts), on the one PostgreSQL server the leading process chose: tests that count
    rows or hash the world never see another worker's writes."""
    if _worker(config) is None:
        server = _server_url()
        os.environ["DISPATCH_TEST_SERVER_URL"] = server
        os.environ["DISPATCH_TEST_DB"] = TEST_DB
        os.environ["DISPATCH_DATA_DIR"] = str(TEST_DATA)
        os.environ["DISPATCH_SECRET_KEY"] = "test-secret-key-not-for-production-0123456789"
        os.environ["DISPATCH_TRUST_PROXY"] = "1"
        # no background sweep for overdue 12345 tickets: tests sweep on the clock they choose
        os.environ["DISPATCH_HOTLINE_WATCH_SECONDS"] = "0"
        # nor for call-outs: tests sweep and send on the clock they choose; and no gateway
        os.environ["DISPATCH_CALLOUT_WATCH_SECONDS"] = "0"
        os.environ.pop("DISPATCH_SMS_GATEWAY_URL", None)
        os.environ.pop("DISPATCH_SMS_GATEWAY_TOKEN", None)
        # argon2's profile for tests: the suite makes hundreds of users and logins, each
        # 0.1 s of CPU with the recommended parameters (tests/dispatch/accounts covers both)
        os.environ["DISPATCH_PASSWORD_HASH"] = "cheapest"
        shutil.rmtree(LEAK_FILES / TEST_DB, ignore_errors=True)
        if _leads_workers(config):
            return  # the workers test, each on its own database
    asyncio.run(_prepare(_database_name(config)))


def _leads_workers(config: pytest.Config) -> bool:
    return bool(getattr(config.option, "numprocesses", None)) and not getattr(
        config.option, "collectonly", False
    )


async def _prepare(name: str) -> None:
    from dispatch.db import create_database, migrate_database, system_context
    from dispatch.places.service import load_reference
    from dispatch.settings import get_settings
    from dispatch.stock.service import load_catalogue

    server = os.environ["DISPATCH_TEST_SERVER_URL"]
    os.environ["DATABASE_URL"] = await create_database(server, name, drop_first=True)
    get_settings.cache_clear()
    await migrate_database()
    await load_reference(system_context(), get_settings().reference_dir)
    await load_catalogue(system_context(), get_settings().reference_dir)


def pytest_sessionfinish(session: pytest.Session, exitstatus: int) -> None:
    """No response seen by a test client, and no server log line, may hold a whole phone
    number (reveal endpoints excepted); no server log line may hold a token: checked over
    the whole run. A worker of a parallel run leaves what it found in a file; the leading
    process reports every worker's."""
    from tests.support import phone_leaks, token_leaks

    found = {"unmasked phone numbers": phone_leaks(), "tokens in server log lines": token_leaks()}
    worker = _worker(session.config)
    folder = LEAK_FILES / os.environ["DISPATCH_TEST_DB"]
    if worker is not None:
        folder.mkdir(parents=True, exist_ok=True)
        for kind, leaks in found.items():
            (folder / f"{worker}-{kind}.txt").write_text("\n".join(leaks))
        return
    for kind in found:
        for path in sorted(folder.glob(f"*-{kind}.txt")):
            found[kind] += [line for line in path.read_text().splitlines() if line]
    for kind, leaks in found.items():
        if leaks:
            print(f"\n{kind} in this run:\n  " + "\n  ".join(leaks[:20]))
            session.exitstatus = pytest.ExitCode.TESTS_FAILED


def pytest_unconfigure(config: pytest.Config) -> None:
    server = os.environ.get("DISPATCH_TEST_SERVER_URL")
    if not server or (_worker(config) is None and _leads_workers(config)):
        return

    from dispatch.db import drop_database

    asyncio.run(drop_database(server, _database_name(config)))


@pytest.fixture(scope="session")
def server() -> Iterator[str]:
    """A real server process on a free port, sharing this run's database."""
    from tests.support import running_server

    with running_server() as base_url:
        yield base_url
