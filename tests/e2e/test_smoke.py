"""Smoke test of the commands a newcomer runs: migrate, load, serve, one request.

`.ci/run` runs this file again against the other kind of database (embedded vs the
machine's), so both paths are exercised on every submission.
"""

from __future__ import annotations

import os
import subprocess
import sys

import httpx
import pytest

from tests.support import PASSWORD, client, running_server

pytestmark = pytest.mark.e2e


def _dispatch(*args: str) -> str:
    result = subprocess.run(
        [sys.executable, "-m", "dispatch.cli", *args],
        env=os.environ.copy(),
        capture_output=True,
        text=True,
        timeout=300,
    )
    assert result.returncode == 0, result.stdout + result.stderr
    return result.stdout


def test_commands_migrate_load_serve_answer() -> None:
    _dispatch("migrate")
    assert "0 changes" in _dispatch("load-reference")
    out = _dispatch(
        "users", "create", "smoke_commander", "--role", "commander", "--password", PASSWORD
    )
    assert "created user" in out
    assert "smoke_commander" in _dispatch("users", "list")
    with running_server() as base_url:
        assert httpx.get(base_url + "/health").status_code == 200
        with client(base_url, "smoke_commander") as http:
            assert len(http.get("/api/streets").json()) == 17
            assert len(http.get("/api/communities").json()) == 169
            assert len(http.get("/api/depots").json()) == 18
    assert "disabled smoke_commander" in _dispatch("users", "disable", "smoke_commander")
