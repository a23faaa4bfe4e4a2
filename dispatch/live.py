"""Events after commit, fanned out through Litestar Channels.

One process uses the in-memory backend; with REDIS_URL every worker shares Redis, so a
subscriber on one process hears events caused on another.
"""

from __future__ import annotations

import json
from typing import Any

from litestar.channels import ChannelsPlugin
from litestar.channels.backends.base import ChannelsBackend
from litestar.channels.backends.memory import MemoryChannelsBackend

from dispatch.db import Event, Publisher

CHANNEL = "events"


def make_backend(redis_url: str | None) -> ChannelsBackend:
    if redis_url is None:
        return MemoryChannelsBackend(history=1000)
    from litestar.channels.backends.redis import RedisChannelsPubSubBackend
    from redis.asyncio import Redis

    return RedisChannelsPubSubBackend(redis=Redis.from_url(redis_url), key_prefix="dispatch")


def make_channels(redis_url: str | None) -> ChannelsPlugin:
    return ChannelsPlugin(
        backend=make_backend(redis_url), channels=[CHANNEL], arbitrary_channels_allowed=False
    )


def event_payload(event: Event) -> dict[str, Any]:
    return {
        "kind": event.kind,
        "at": event.at.isoformat(),
        "street": event.street,
        "community": event.community,
        "exercise": event.exercise,
        "data": event.data,
    }


def channels_publisher(channels: ChannelsPlugin) -> Publisher:
    async def publish(events: list[Event]) -> None:
        for event in events:
            channels.publish(json.dumps(event_payload(event), default=str), CHANNEL)

    return publish
