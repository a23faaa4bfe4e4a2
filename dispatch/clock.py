"""Time for services comes from a clock, so replay can run on simulated time deterministically."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from typing import Protocol
from zoneinfo import ZoneInfo

SHANGHAI = ZoneInfo("Asia/Shanghai")


class Clock(Protocol):
    def now(self) -> datetime:
        """An aware datetime; services never call datetime.now() themselves."""
        ...


class WallClock:
    """The real time, for the server and the CLI."""

    def now(self) -> datetime:
        return datetime.now(UTC)


class FixedClock:
    """A clock that only moves when told to: tests and scenario replay."""

    def __init__(self, start: datetime) -> None:
        if start.tzinfo is None:
            raise ValueError("a clock needs an aware datetime")
        self._now = start

    def now(self) -> datetime:
        return self._now

    def advance(self, delta: timedelta) -> datetime:
        if delta < timedelta(0):
            raise ValueError("a clock never runs backwards")
        self._now += delta
        return self._now

    def set(self, moment: datetime) -> None:
        if moment < self._now:
            raise ValueError("a clock never runs backwards")
        self._now = moment


def local(moment: datetime | None) -> datetime | None:
    """Shown times are Beijing time whatever the server's zone."""
    return None if moment is None else moment.astimezone(SHANGHAI)
