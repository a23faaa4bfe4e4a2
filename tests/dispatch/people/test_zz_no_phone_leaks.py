"""Runs after the other people tests (and those before them): no API response seen by a test
client, and no server log line, holds a whole phone number. Reveal responses are the one
exception (excluded in `tests.support._record_phone_leak`). No server log line holds a
token either. The session-finish hook in tests/conftest.py repeats both checks after the
whole run."""

from __future__ import annotations

from tests.support import SERVER_LOGS, phone_leaks, token_leaks


def test_no_unmasked_phone_in_any_response_or_log_line(server: str) -> None:
    assert SERVER_LOGS, "the server's log should be scanned"
    assert phone_leaks() == []


def test_no_token_in_any_server_log_line(server: str) -> None:
    assert SERVER_LOGS, "the server's log should be scanned"
    assert token_leaks() == []


def test_the_scan_would_catch_a_leak_but_not_a_reveal() -> None:
    import httpx

    from tests.support import PHONE_LEAKS, _record_phone_leak

    before = len(PHONE_LEAKS)
    leaky = httpx.Request("GET", "http://test/api/people/1")
    _record_phone_leak(httpx.Response(200, json={"phone": "10012345678"}, request=leaky))
    assert len(PHONE_LEAKS) == before + 1
    PHONE_LEAKS.pop()
    reveal = httpx.Request("POST", "http://test/api/people/1/reveal")
    _record_phone_leak(httpx.Response(200, json={"phone": "10012345678"}, request=reveal))
    masked = httpx.Request("GET", "http://test/api/people/1")
    _record_phone_leak(httpx.Response(200, json={"phone": "100****5678"}, request=masked))
    assert len(PHONE_LEAKS) == before
