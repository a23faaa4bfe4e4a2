"""The demo drill: `dispatch demo` serves with a live drill, played (looping) into the
active exercise named 演示演练 by the first worker to start; the others leave it be."""

from __future__ import annotations

import logging

from dispatch.clock import WallClock
from dispatch.db import Context, engine
from dispatch.errors import Conflict
from dispatch.exercises.plays import start_play
from dispatch.exercises.replay import REPLAY_ACTOR
from dispatch.exercises.schemas import ExerciseCreate, ExerciseKind, ExerciseStatus, PlayRequest
from dispatch.exercises.service import create_exercise, list_exercises

__all__ = ["DEMO_DRILL_NAME", "start_demo_drill"]

log = logging.getLogger("dispatch.plays")

DEMO_DRILL_NAME = "演示演练"
DEMO_LOCK = 0x6465_6D6F  # an advisory lock of the demo drill's start: one worker starts it


async def start_demo_drill(file: str, speed: float = 60.0) -> None:
    """`dispatch demo` serves with a live drill: reuse the active exercise named 演示演练
    (or create it) and play `file` into it, looping. With several workers the first one to
    start plays it; the others find it playing and leave it be."""
    manager = Context(REPLAY_ACTOR, WallClock())
    pool = engine().pool
    assert pool is not None, "the demo drill starts once the pool has"
    async with pool.acquire() as lock:  # a connection outside any transaction
        await lock.execute("SELECT pg_advisory_lock($1)", DEMO_LOCK)
        try:
            active = await list_exercises(manager, ExerciseStatus.ACTIVE)
            found = next((e for e in active if e.name == DEMO_DRILL_NAME), None)
            if found is None:
                found = await create_exercise(
                    manager,
                    ExerciseCreate(name=DEMO_DRILL_NAME, kind=ExerciseKind.DRILL, scenario=file),
                )
            try:
                await start_play(
                    manager, found.id, PlayRequest(scenario=file, speed=speed, loop=True)
                )
            except Conflict:
                log.info("demo drill %s already plays in another process", found.id)
        finally:
            await lock.execute("SELECT pg_advisory_unlock($1)", DEMO_LOCK)
