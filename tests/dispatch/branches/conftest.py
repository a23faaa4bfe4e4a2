"""Branch tests share the synthetic district (loaded once), a commander and street leaders
of two streets."""

from __future__ import annotations

import pytest

from dispatch.accounts.policy import Role
from tests.dispatch.branches.helpers import HOME, OTHER
from tests.dispatch.people.seed import ensure_district
from tests.support import create_user


@pytest.fixture(scope="session")
def district() -> None:
    ensure_district()


@pytest.fixture(scope="module")
def commander(district: None) -> str:
    return create_user(Role.COMMANDER)


@pytest.fixture(scope="module")
def leader(district: None) -> str:
    return create_user(Role.STREET_LEADER, street=HOME)


@pytest.fixture(scope="module")
def other_leader(district: None) -> str:
    return create_user(Role.STREET_LEADER, street=OTHER)
