"""Runs after the other branch tests: no response they saw, and no server log line, holds a
whole phone number (members' and households' phones are masked in every new route)."""

from __future__ import annotations

from tests.support import SERVER_LOGS, phone_leaks


def test_no_unmasked_phone_in_any_branch_response_or_log_line(server: str) -> None:
    assert SERVER_LOGS, "the server's log should be scanned"
    assert phone_leaks() == []
