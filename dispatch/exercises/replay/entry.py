"""Entry points for the CLI and the server: where the scenario files and the reference
data are, and a connection pool (and live feed) for a replay run outside the server."""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path
from typing import Any

from dispatch.db import ConnectionHook, close_pool, engine, set_publisher, start_pool
from dispatch.errors import Conflict
from dispatch.exercises import scenario as sc
from dispatch.live import make_feed
from dispatch.settings import get_settings


def scenarios_dir() -> Path:
    """The scenario files shipped with the service (`scenarios/`), or DISPATCH_SCENARIOS_DIR."""
    return get_settings().scenarios_dir


def reference() -> sc.Reference:
    """The reference data (district, items, standards) scenarios are checked against."""
    return sc.load_reference(get_settings().reference_dir)


async def _require_loaded_world() -> None:
    """A replay copies the real world into its sandbox: the database must be migrated and
    hold the district, or the replay says so instead of failing half-way."""
    async with engine().transaction() as txn:
        conn = txn.connection
        migrated = await conn.fetchval("SELECT to_regclass('public.exercise') IS NOT NULL")
        loaded = migrated and await conn.fetchval("SELECT EXISTS (SELECT 1 FROM community)")
    if not loaded:
        raise Conflict(
            "this database is not ready for a replay: run `dispatch migrate` and "
            "`dispatch load-reference` (or `dispatch demo --no-serve`) first",
            field="database",
        )


async def with_pool(
    coro_factory: Callable[[], Any], live: bool = False, init: ConnectionHook | None = None
) -> Any:
    """Outside the server: a small connection pool (a replay issues thousands of short
    commands) and, for a live drill with REDIS_URL, events published to the shared feed.
    `init` runs on each of the pool's connections (the bench's statement clock)."""
    await start_pool(min_size=1, max_size=4, init=init)
    try:
        await _require_loaded_world()
    except BaseException:
        await close_pool()
        raise
    feed = None
    settings = get_settings()
    if live and settings.redis_url:
        feed = make_feed(settings.redis_url, settings.redis_prefix)
        set_publisher(feed.publish)
    try:
        return await coro_factory()
    finally:
        if feed is not None:
            set_publisher(None)
            await feed.close()
        await close_pool()
