"""Schemathesis over every operation of /schema, as a commander, against a real server
with its own database (fuzzing may disable users and move points; no other test sees it)."""

from __future__ import annotations

import asyncio
import os
import re
import subprocess
import sys
from pathlib import Path

import pytest

from dispatch.db import create_database
from tests.support import client, running_server

pytestmark = pytest.mark.e2e


def _fuzz_database() -> str:
    server = os.environ["DISPATCH_TEST_SERVER_URL"]
    return asyncio.run(create_database(server, f"dispatch_fuzz_{os.getpid()}", drop_first=True))


def _prepare(url: str) -> None:
    code = (
        "import asyncio\n"
        "from dispatch.db import migrate_database, system_context\n"
        "from dispatch.places.service import load_reference\n"
        "from dispatch.stock.service import load_catalogue\n"
        "from dispatch.settings import get_settings\n"
        "from tests.support import create_user\n"
        "from dispatch.accounts.policy import Role\n"
        "async def go():\n"
        "    await migrate_database()\n"
        "    await load_reference(system_context(), get_settings().reference_dir)\n"
        "    await load_catalogue(system_context(), get_settings().reference_dir)\n"
        "asyncio.run(go())\n"
        "create_user(Role.COMMANDER, name='fuzz_commander')\n"
    )
    env = {**os.environ, "DATABASE_URL": url}
    subprocess.run([sys.executable, "-c", code], env=env, check=True, capture_output=True)


def test_schemathesis_finds_no_server_error_and_no_schema_break(tmp_path: Path) -> None:
    url = _fuzz_database()
    _prepare(url)
    with running_server({"DATABASE_URL": url}) as base_url:
        with client(base_url, "fuzz_commander") as http:
            token = http.headers["Authorization"]
        result = subprocess.run(
            [
                str(Path(sys.executable).parent / "schemathesis"),
                "run",
                f"{base_url}/schema/openapi.json",
                "--checks",
                "not_a_server_error,response_schema_conformance",
                # an event stream never ends, so it cannot be fuzzed as a request/response;
                # tests/dispatch/test_live.py covers it
                "--exclude-path",
                "/api/live",
                "--header",
                f"Authorization: {token}",
                "--max-examples",
                "40",
                "--seed",
                "20261127",
                "--generation-database",
                "none",
                "--phases",
                "examples,coverage,fuzzing",
                "--workers",
                "1",
                "--request-timeout",
                "20",
                "--no-color",
                "--report-dir",
                str(tmp_path),
            ],
            capture_output=True,
            text=True,
            timeout=600,
        )
    out = result.stdout
    failures = out[out.find("FAILURES") : out.find("WARNINGS")] if "FAILURES" in out else ""
    summary = failures[:6000] + "\n...\n" + out[-1500:]
    assert result.returncode == 0, summary
    counts = re.search(r"(\d+) generated, (\d+) passed", summary)
    assert counts is not None, summary
    assert counts.group(1) == counts.group(2), summary  # every case passed both checks
    assert int(counts.group(1)) > 300, summary
    assert "failed" not in summary.split("Test cases:")[-1], summary
