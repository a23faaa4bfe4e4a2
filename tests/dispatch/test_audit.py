"""The audit trail: one row per mutation, and the table refuses to be rewritten."""

from __future__ import annotations

import asyncpg
import pytest

from dispatch.accounts.policy import Role
from tests.support import client, create_user, run, sql, unique


@pytest.fixture(scope="module")
def commander() -> str:
    return create_user(Role.COMMANDER)


def _count() -> int:
    return int(sql("SELECT count(*) AS n FROM audit_entry")[0]["n"])


def test_each_mutation_writes_one_row(server: str, commander: str) -> None:
    before = _count()
    with client(server, commander) as http:
        body = {"username": unique("v"), "password": "long-enough-pw", "role": "viewer"}
        created = http.post("/api/users", json=body).json()
        assert _count() == before + 1
        http.post(f"/api/users/{created['id']}/disable")
        assert _count() == before + 2
        http.put(
            "/api/communities/110101001006/coordinates", json={"lat": 39.9165, "lon": 116.3968}
        )
        assert _count() == before + 3
        refused = http.post("/api/users", json=body)  # a refused command writes nothing
        assert refused.status_code == 409
        assert _count() == before + 3
        rows = http.get("/api/audit", params={"limit": 3}).json()
    assert [r["action"] for r in rows] == [
        "places.correct_coordinates",
        "users.disable",
        "users.create",
    ]
    assert rows[1]["before"]["disabled"] is False and rows[1]["after"]["disabled"] is True
    assert rows[0]["actor"] == commander and rows[0]["role"] == "commander"


def test_audit_filters(server: str, commander: str) -> None:
    with client(server, commander) as http:
        only = http.get("/api/audit", params={"action": "users.create", "limit": 1000}).json()
        assert only and {r["action"] for r in only} == {"users.create"}
        none = http.get("/api/audit", params={"actor": "nobody-at-all"}).json()
        assert none == []
        future = http.get("/api/audit", params={"since": "2099-01-01T00:00:00+08:00"}).json()
        assert future == []


def test_only_commanders_read_the_audit(server: str) -> None:
    viewer = create_user(Role.VIEWER)
    with client(server, viewer) as http:
        assert http.get("/api/audit").status_code == 403


@pytest.mark.parametrize(
    "statement",
    [
        "UPDATE audit_entry SET actor = 'someone else'",
        "DELETE FROM audit_entry",
        "TRUNCATE audit_entry",
    ],
)
def test_audit_table_refuses_rewrites(statement: str) -> None:
    assert _count() > 0
    with pytest.raises(asyncpg.InsufficientPrivilegeError, match="append-only"):
        sql(statement)
    assert _count() > 0


def test_audit_rows_are_in_the_same_transaction_as_the_change() -> None:
    """A command that fails after writing its audit row leaves no audit row behind."""
    from dispatch.db import command
    from tests.support import system_context

    before = _count()

    async def failing() -> None:
        async with command(system_context()) as cmd:
            await cmd.audit("test.fail", "nothing", None, None, {"x": 1})
            raise RuntimeError("boom")

    with pytest.raises(RuntimeError):
        run(failing())
    assert _count() == before


def test_nested_commands_share_one_transaction_and_publish_after_commit() -> None:
    """A command inside another joins it: nothing is published until the outer commits."""
    from dispatch.db import Event, command, set_publisher
    from tests.support import system_context

    published: list[str] = []

    async def record(events: list[Event]) -> None:
        published.extend(e.kind for e in events)

    async def nested(fail: bool) -> None:
        async with command(system_context()) as outer:
            outer.emit("outer", {})
            async with command(system_context()) as inner:
                assert inner is outer
                inner.emit("inner", {})
                await inner.audit("test.nested", "nothing", None, None, {"fail": fail})
            assert published == []
            if fail:
                raise RuntimeError("roll back both")

    set_publisher(record)
    try:
        before = _count()
        with pytest.raises(RuntimeError):
            run(nested(fail=True))
        assert published == [] and _count() == before
        run(nested(fail=False))
        assert published == ["outer", "inner"] and _count() == before + 1
    finally:
        set_publisher(None)
