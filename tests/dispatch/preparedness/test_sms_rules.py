"""The SMS rules on their own: the backoff between tries, and which replies are
understood (`1`, `1 <minutes>`, `2`, `2 <reason>`, full-width digits too)."""

from __future__ import annotations

import unicodedata
from datetime import timedelta

from hypothesis import given
from hypothesis import strategies as st

from dispatch.preparedness.schemas import CalloutState
from dispatch.preparedness.sms import backoff, parse_reply

CEILING = timedelta(minutes=15)


@given(st.integers(min_value=1, max_value=200))
def test_backoff_doubles_from_fifteen_seconds_up_to_a_ceiling(attempts: int) -> None:
    assert backoff(1) == timedelta(seconds=15)
    assert backoff(attempts + 1) == min(2 * backoff(attempts), CEILING)
    assert backoff(attempts) <= CEILING


@given(st.integers(min_value=0, max_value=1440), st.sampled_from([" ", "，", ": ", "  "]))
def test_a_1_with_minutes_is_coming_in_those_minutes(minutes: int, gap: str) -> None:
    parsed = parse_reply(f" 1{gap}{minutes} ")
    assert parsed is not None and parsed.state is CalloutState.ACKNOWLEDGED
    assert parsed.eta_minutes == minutes


@given(st.text(max_size=40))
def test_only_what_starts_with_1_or_2_is_understood(text: str) -> None:
    parsed = parse_reply(text)
    first = unicodedata.normalize("NFKC", text).strip()[:1]
    if first not in ("1", "2"):
        assert parsed is None
    elif parsed is not None:
        wanted = CalloutState.ACKNOWLEDGED if first == "1" else CalloutState.DECLINED
        assert parsed.state is wanted


def test_replies_as_people_write_them() -> None:
    assert parse_reply("1") == parse_reply("１") == parse_reply(" 1 ")
    assert parse_reply("1 20分钟").eta_minutes == 20  # type: ignore[union-attr]
    assert parse_reply("1 2000") is None  # more than a day: not an ETA
    assert parse_reply("12") is None and parse_reply("好的") is None and parse_reply("") is None
    declined = parse_reply("2 在外地出差")
    assert declined is not None and declined.reason == "在外地出差"
    plain = parse_reply("2")
    assert plain is not None and plain.state is CalloutState.DECLINED and plain.reason
