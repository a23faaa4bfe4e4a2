"""An outage is a 503 whatever shape it reaches the handler in (#15: never a 500)."""

from __future__ import annotations

import asyncpg
import pytest

from dispatch.errors import is_outage


def _raised_while_handling(outage: BaseException, later: BaseException) -> BaseException:
    try:
        try:
            raise outage
        except BaseException:
            raise later  # noqa: B904 - the implicit context is what is tested
    except BaseException as caught:
        return caught


@pytest.mark.parametrize(
    "outage",
    [
        ConnectionResetError(),
        asyncpg.exceptions.ConnectionDoesNotExistError("closed"),
        asyncpg.exceptions.CannotConnectNowError("the database system is starting up"),
        asyncpg.exceptions.AdminShutdownError("terminating connection"),
        asyncpg.exceptions.TooManyConnectionsError("sorry, too many clients already"),
        asyncpg.exceptions.QueryCanceledError("canceling statement due to user request"),
        asyncpg.exceptions.PostgresIOError("could not write to file"),
    ],
)
def test_an_outage_is_one_alone_raised_later_or_in_a_group(outage: Exception) -> None:
    assert is_outage(outage)
    assert is_outage(_raised_while_handling(outage, RuntimeError("rollback failed")))
    later = RuntimeError("release failed")
    later.__cause__ = outage
    assert is_outage(later)
    assert is_outage(ExceptionGroup("tasks", [ValueError("x"), outage]))


def test_a_fault_of_ours_is_not_an_outage_even_in_a_loop_of_causes() -> None:
    first, second = ValueError("a"), KeyError("b")
    first.__context__, second.__context__ = second, first
    assert not is_outage(first)
    assert not is_outage(asyncpg.exceptions.UndefinedColumnError("no such column"))
    assert not is_outage(FileNotFoundError(2, "No such file"))
