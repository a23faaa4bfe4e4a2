"""Test set-up: a fresh PostgreSQL database per run (the machine's or the embedded one),
migrated and loaded once, and a real server process for API tests.

DATABASE_URL, when set, names the server to create the test database on; otherwise the
embedded PostgreSQL (pgserver) is started in `.dispatch/test`.
"""

from __future__ import annotations

import asyncio
import os
from collections.abc import Iterator
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parent.parent
TEST_DATA = ROOT / ".dispatch" / "test"
TEST_DB = f"dispatch_test_{os.getpid()}"


def _server_url() -> str:
    given = os.environ.get("DATABASE_URL")
    if given:
        return given
    from dispatch.db import embedded_url

    return embedded_url(TEST_DATA, "postgres")


def pytest_configure(config: pytest.Config) -> None:
    """Point every process of this run at a new database before anything reads settings."""
    if hasattr(config, "workerinput"):
        return
    from dispatch.db import create_database

    server = _server_url()
    os.environ["DISPATCH_TEST_SERVER_URL"] = server
    os.environ["DATABASE_URL"] = asyncio.run(create_database(server, TEST_DB, drop_first=True))
    os.environ["DISPATCH_DATA_DIR"] = str(TEST_DATA)
    os.environ["DISPATCH_SECRET_KEY"] = "test-secret-key-not-for-production-0123456789"
    os.environ["DISPATCH_TRUST_PROXY"] = "1"
    # no background sweep for overdue 12345 tickets: tests sweep on the clock they choose
    os.environ["DISPATCH_HOTLINE_WATCH_SECONDS"] = "0"
    # argon2's profile for tests: the suite makes hundreds of users and logins, each 0.1 s
    # of CPU with the recommended parameters (tests/dispatch/accounts covers both)
    os.environ["DISPATCH_PASSWORD_HASH"] = "cheapest"
    from dispatch.db import migrate_database, system_context
    from dispatch.places.service import load_reference
    from dispatch.settings import get_settings
    from dispatch.stock.service import load_catalogue

    async def prepare() -> None:
        await migrate_database()
        await load_reference(system_context(), get_settings().reference_dir)
        await load_catalogue(system_context(), get_settings().reference_dir)

    asyncio.run(prepare())


def pytest_sessionfinish(session: pytest.Session, exitstatus: int) -> None:
    """No response seen by a test client, and no server log line, may hold a whole phone
    number (reveal endpoints excepted); no server log line may hold a token: checked over
    the whole run."""
    if hasattr(session.config, "workerinput"):
        return
    from tests.support import phone_leaks, token_leaks

    leaks = phone_leaks()
    if leaks:
        print("\nunmasked phone numbers in this run:\n  " + "\n  ".join(leaks[:20]))
        session.exitstatus = pytest.ExitCode.TESTS_FAILED
    tokens = token_leaks()
    if tokens:
        print("\ntokens in server log lines of this run:\n  " + "\n  ".join(tokens[:20]))
        session.exitstatus = pytest.ExitCode.TESTS_FAILED


def pytest_unconfigure(config: pytest.Config) -> None:
    server = os.environ.get("DISPATCH_TEST_SERVER_URL")
    if not server or hasattr(config, "workerinput"):
        return

    from dispatch.db import drop_database

    asyncio.run(drop_database(server, TEST_DB))


@pytest.fixture(scope="session")
def server() -> Iterator[str]:
    """A real server process on a free port, sharing this run's database."""
    from tests.support import running_server

    with running_server() as base_url:
        yield base_url
