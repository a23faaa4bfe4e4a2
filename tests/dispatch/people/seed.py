"""The synthetic district for people tests: loaded once per test database, through the service."""

from __future__ import annotations

import csv
from functools import cache

import httpx

from dispatch.accounts.policy import Role
from dispatch.people.service import load_synthetic
from dispatch.settings import get_settings
from tests.support import client, run, sql, system_context, unique


def ensure_district() -> None:
    """Load the synthetic population unless it is there (other tests may have added people)."""
    run(load_synthetic(system_context(), only_into_empty=False))


@cache
def street_codes() -> list[str]:
    """The 17 streets, from the reference file (no database needed at collection time)."""
    with (get_settings().reference_dir / "streets.csv").open(encoding="utf-8") as handle:
        return sorted(row["code"] for row in csv.DictReader(handle))


def first_community(street: str) -> str:
    return str(sql("SELECT min(code) AS c FROM community WHERE street=$1", street)[0]["c"])


def person_in(street: str, kind: str = "party_member") -> int:
    return int(
        sql("SELECT min(id) AS i FROM person WHERE street=$1 AND kind=$2", street, kind)[0]["i"]
    )


def fast_client(
    base_url: str, role: Role, street: str | None = None, community: str | None = None
) -> tuple[str, httpx.Client]:
    """A user of this role and scope, and a client holding a token minted for them.

    The access matrix needs ~50 users; argon2 hashing and login (about 0.4 s each on a busy
    test machine) would dominate its runtime, so the user row is written directly and the
    token issued with the test secret. Login itself is tested in tests/dispatch/accounts.
    """
    from dispatch.accounts.tokens import issue_pair

    username = unique(role.value)
    user_id = sql(
        """
        INSERT INTO app_user (username, display_name, password_hash, role, street, community,
                              created_at)
        VALUES ($1, $1, 'not-a-hash: token-only test user', $2, $3, $4, now()) RETURNING id
        """,
        username,
        role.value,
        street,
        community,
    )[0]["id"]
    http = client(base_url)
    token = issue_pair(get_settings().secret_key, user_id, 15, 1).access_token
    http.headers["Authorization"] = f"Bearer {token}"
    return username, http
