"""People tests share the synthetic district (loaded once) and a commander."""

from __future__ import annotations

import pytest

from dispatch.accounts.policy import Role
from tests.dispatch.people.seed import ensure_district
from tests.support import create_user


@pytest.fixture(scope="session")
def district() -> None:
    ensure_district()


@pytest.fixture(scope="module")
def commander(district: None) -> str:
    return create_user(Role.COMMANDER)
