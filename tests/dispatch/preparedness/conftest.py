"""Fixtures the preparedness tests share."""

from __future__ import annotations

import httpx
import pytest

from dispatch.accounts.policy import Role
from tests.dispatch.people.seed import ensure_district
from tests.support import client, create_user


@pytest.fixture(scope="module")
def boss(server: str) -> httpx.Client:
    """A commander's client on the test server, the district loaded."""
    ensure_district()
    return client(server, create_user(Role.COMMANDER))
