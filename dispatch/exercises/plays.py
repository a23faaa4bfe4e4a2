"""Live drills: a scenario played into a drill's sandbox by a server process, known to all.

The play itself is a task of the process that started it (its events reach that process's
live feed, and every worker's with REDIS_URL). Its state is a row of `exercise_play`, which
that process writes as the drill's clock moves and at least every `HEARTBEAT` seconds. So
every worker, on this machine or another, answers `GET .../play`, refuses a second play of
the drill (409), serves the drill on its simulated clock and can stop it: `DELETE` sets
`stop_requested`, which the playing process reads on its next write. A running play whose
row has not been written for `DISPATCH_PLAY_LEASE_SECONDS` lost its process (killed,
crashed): it shows as failed, and the drill may be played again.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import os
import socket
import uuid
from collections.abc import AsyncIterator
from dataclasses import dataclass, field
from datetime import datetime, timedelta
from pathlib import Path
from typing import Any

import asyncpg
import msgspec

from dispatch.accounts.policy import authorize
from dispatch.clock import Clock, FixedClock, WallClock, local
from dispatch.db import Context, after_commit, command, engine
from dispatch.errors import Conflict, InvalidInput, NotFound
from dispatch.exercises import scenario as sc
from dispatch.exercises.records import exercise_of, locked_active, real_world
from dispatch.exercises.replay import (
    REPLAY_ACTOR,
    Options,
    Progress,
    Replay,
    as_minutes,
    reference,
    scenarios_dir,
)
from dispatch.exercises.schemas import (
    ExerciseCreate,
    ExerciseKind,
    PlayRequest,
    PlayStatus,
    PlayView,
    ScenarioInfo,
)
from dispatch.exercises.service import (
    create_exercise,
    get_exercise,
    register_play_hooks,
    reset_exercise,
)
from dispatch.settings import get_settings

log = logging.getLogger("dispatch.plays")

HEARTBEAT = 1.0  # seconds: the longest a running play goes without writing its row
MIN_GAP = 0.2  # seconds between two writes, however fast the drill's clock moves
SUMMARY_OMITS = frozenset({"timeline", "routes"})
LOST = "the server process playing it stopped before the play ended"


def _lease() -> float:
    """Seconds without a write after which a running play's process is taken as gone."""
    return float(get_settings().play_lease_seconds)


@dataclass
class Play:
    """A live replay running as a task of this server process."""

    exercise: int
    file: str
    scenario: sc.Scenario
    speed: float
    policy: str
    loop: bool
    started_at: datetime
    # which play of which process: its row is written only while it still names this play
    owner: str = field(
        default_factory=lambda: f"{socket.gethostname()}:{os.getpid()}:{uuid.uuid4().hex[:8]}"
    )
    task: asyncio.Task[None] | None = None
    runner: Replay | None = None
    status: str = "running"
    loops: int = 0
    finished_at: datetime | None = None
    report: dict[str, Any] | None = None
    error: str | None = None
    moved: asyncio.Event = field(default_factory=asyncio.Event)  # the drill's clock moved
    stop_asked: bool = False  # a stop was asked for (here, or through the row from any process)


PLAYS: dict[int, Play] = {}  # the plays this process runs (or ran), by exercise


# --- the row every process reads ---------------------------------------------------------------


def _view_of(play: Play) -> PlayView:
    runner = play.runner
    duration = play.scenario.duration
    sim = runner.now if runner is not None else None
    offset = (sim - play.scenario.start) if sim is not None else timedelta(0)
    return PlayView(
        exercise=play.exercise,
        status=PlayStatus(play.status),
        scenario=play.file,
        title=play.scenario.name,
        speed=play.speed,
        policy=play.policy,
        loop=play.loop,
        loops=play.loops,
        started_at=local(play.started_at),
        finished_at=local(play.finished_at),
        sim_time=local(sim),
        offset_minutes=as_minutes(offset),
        duration_minutes=as_minutes(duration),
        progress=round(min(offset / duration, 1.0), 4) if duration else 1.0,
        events_done=runner.events_done if runner else 0,
        events_total=len(play.scenario.events),
        steps=runner.steps if runner else 0,
        deliveries=len(runner.deliveries) if runner else 0,
        plans=runner.plans if runner else 0,
        report=play.report,
        error=play.error,
    )


async def _save(play: Play) -> bool | None:
    """Write the play's row; whether a stop was asked for, or None when the row names
    another play now (this one lost its lease and the drill was played again)."""
    view = _view_of(play)
    snapshot = msgspec.json.encode(view).decode()
    async with engine().transaction() as txn:
        asked = await txn.connection.fetchval(
            """
            UPDATE public.exercise_play
            SET status = $3, heartbeat_at = now(), sim_time = $4, snapshot = $5::jsonb
            WHERE exercise = $1 AND owner = $2
            RETURNING stop_requested
            """,
            play.exercise,
            play.owner,
            play.status,
            view.sim_time,
            snapshot,
        )
    return None if asked is None else bool(asked)


async def _keep_row(play: Play) -> None:
    """While the play runs: write its row when the drill's clock moves (at most every
    MIN_GAP s) and at least every HEARTBEAT s; stop the play when asked to, or when the
    drill belongs to another play now."""
    while True:
        with contextlib.suppress(TimeoutError):
            await asyncio.wait_for(play.moved.wait(), HEARTBEAT)
        play.moved.clear()
        try:
            asked = await _save(play)
        except Exception as exc:  # a database blip: the next beat tries again
            log.warning("play of exercise %s: its row not written: %s", play.exercise, exc)
            asked = False
        if asked is None or asked:  # stopped from elsewhere, or the drill is another's now
            assert play.task is not None
            play.stop_asked = True
            play.task.cancel()
            return
        await asyncio.sleep(MIN_GAP)


async def _row(exercise_id: int) -> asyncpg.Record | None:
    async with engine().transaction() as txn:
        row: asyncpg.Record | None = await txn.connection.fetchrow(
            """
            SELECT owner, status, sim_time, snapshot::text AS snapshot,
                   heartbeat_at > now() - $2 * interval '1 second' AS alive
            FROM public.exercise_play WHERE exercise = $1
            """,
            exercise_id,
            _lease(),
        )
    return row


def _running_here(exercise_id: int) -> Play | None:
    play = PLAYS.get(exercise_id)
    if play is None or play.task is None or play.task.done():
        return None
    return play


def _owning(exercise_id: int, row: asyncpg.Record) -> Play | None:
    """This process's play of the exercise, when it is the one the row names."""
    play = PLAYS.get(exercise_id)
    return play if play is not None and play.owner == row["owner"] else None


def _lost(row: asyncpg.Record) -> bool:
    return bool(row["status"] == PlayStatus.RUNNING and not row["alive"])


async def play_view(exercise_id: int) -> PlayView:
    """The play as this process runs it, or as its row says (another process's play)."""
    here = _running_here(exercise_id)
    if here is not None:
        return _view_of(here)
    row = await _row(exercise_id)
    if row is None:
        return PlayView(exercise=exercise_id, status=PlayStatus.IDLE)
    play = _owning(exercise_id, row)
    if play is not None:
        return _view_of(play)
    view = msgspec.json.decode(row["snapshot"], type=PlayView)
    if _lost(row):
        return msgspec.structs.replace(view, status=PlayStatus.FAILED, error=LOST)
    return view


async def drill_clock(schema: str) -> Clock | None:
    """The simulated clock of the scenario playing (or last played) into this sandbox.

    A commander acting in a playing drill acts at the drill's time, not the wall's: their
    changes then sit in the scenario's history in order, and expiry, alerts and pairings
    are judged on the scenario's date. In the process that plays it, that is the play's own
    clock; in any other, the drill's time its row last gave (at most MIN_GAP s of wall time
    behind while the clock moves). None when no play owns the world (idle, stopped, failed).
    """
    exercise_id = exercise_of(schema)
    here = _running_here(exercise_id)
    if here is not None and here.runner is not None:
        return here.runner.clock
    row = await _row(exercise_id)
    if row is None or row["sim_time"] is None or _lost(row):
        return None
    if row["status"] not in (PlayStatus.RUNNING, PlayStatus.FINISHED):
        return None
    play = _owning(exercise_id, row)
    if play is not None and play.runner is not None:
        return play.runner.clock
    return FixedClock(row["sim_time"])


# --- scenario files -------------------------------------------------------------------------


def scenario_path(name: str) -> Path:
    """A file of `scenarios/` by name; nothing outside it."""
    folder = scenarios_dir().resolve()
    path = (folder / name).resolve()
    if path.parent != folder or path.suffix not in (".yaml", ".yml"):
        raise InvalidInput(f"{name!r} is not a scenario file name", field="scenario")
    if not path.is_file():
        raise NotFound(f"no scenario {name!r} in scenarios/", field="scenario")
    return path


def _load_named(name: str) -> sc.Scenario:
    try:
        return sc.load_scenario(scenario_path(name), reference())
    except sc.ScenarioError as exc:
        first = exc.problems[0] if exc.problems else None
        raise InvalidInput(
            f"scenario {name} is refused: {first}" if first else str(exc), field="scenario"
        ) from exc


def scenario_title(name: str) -> str:
    """The name a file of `scenarios/` gives its scenario (422 if the file is refused)."""
    return _load_named(name).name


async def list_scenario_files(ctx: Context) -> list[ScenarioInfo]:
    authorize(ctx.actor, "exercises.read")
    ref = reference()
    out = []
    for path in sorted(scenarios_dir().glob("*.y*ml")):
        try:
            s = sc.load_scenario(path, ref)
        except sc.ScenarioError:
            continue  # `dispatch scenario check` says why; the list offers what plays
        out.append(
            ScenarioInfo(
                name=path.name,
                title=s.name,
                description=s.description.strip(),
                duration=sc.format_duration(s.duration),
                duration_minutes=as_minutes(s.duration),
                events=len(s.events),
                start=s.start,
                planner=s.policy.planner,
                expect=[str(b) for b in s.expect],
            )
        )
    return out


# --- start, run, stop -------------------------------------------------------------------------


async def play_status(ctx: Context, exercise_id: int) -> PlayView:
    await get_exercise(ctx, exercise_id)  # authorises, 404 for no such exercise
    return await play_view(exercise_id)


async def start_play(ctx: Context, exercise_id: int, request: PlayRequest) -> PlayView:
    """Start playing a scenario into an active exercise, as a task of this process; 409
    while a play of it runs here or in any other process."""
    authorize(ctx.actor, "exercises.manage")
    scenario = _load_named(request.scenario)
    policy = request.policy.value if request.policy else scenario.policy.planner
    play = Play(
        exercise=exercise_id,
        file=request.scenario,
        scenario=scenario,
        speed=request.speed,
        policy=policy,
        loop=request.loop,
        started_at=WallClock().now(),
    )
    await _register(real_world(ctx), play)

    def begin() -> None:
        PLAYS[play.exercise] = play
        play.task = asyncio.create_task(_play(play), name=f"play-exercise-{exercise_id}")

    after_commit(begin)  # the play reads its row: it starts once the row is committed
    return _view_of(play)


async def _register(ctx: Context, play: Play) -> None:
    """The play becomes the exercise's, for every process (409 if another one runs);
    audited in the real trail."""
    async with command(ctx) as cmd:
        await locked_active(cmd, play.exercise, "play")  # one start at a time, anywhere
        await _claim(cmd.connection, play)
        await cmd.audit(
            "exercises.play",
            "exercise",
            play.exercise,
            None,
            {"scenario": play.file, "speed": play.speed, "policy": play.policy, "loop": play.loop},
        )
        cmd.emit(
            "exercise.playing",
            {"id": play.exercise, "scenario": play.file, "speed": play.speed},
        )


async def playing_elsewhere(
    conn: asyncpg.Connection, exercise_id: int, owner: str | None = None
) -> str | None:
    """The scenario file a live play (other than `owner`) is playing into the exercise,
    in any process; None when none is."""
    scenario: str | None = await conn.fetchval(
        """
        SELECT snapshot->>'scenario' FROM public.exercise_play
        WHERE exercise = $1 AND status = 'running' AND owner IS DISTINCT FROM $3
          AND heartbeat_at > now() - $2 * interval '1 second'
        """,
        exercise_id,
        _lease(),
        owner,
    )
    return scenario


async def _claim(conn: asyncpg.Connection, play: Play) -> None:
    """The drill's row names this play, unless another play of it is alive (the caller
    holds the exercise's row, so two starts cannot both pass)."""
    busy = await playing_elsewhere(conn, play.exercise)
    if busy is not None:
        raise Conflict(f"exercise {play.exercise} is already playing {busy}", field="id")
    await conn.execute(
        """
        INSERT INTO public.exercise_play
            (exercise, owner, status, heartbeat_at, sim_time, stop_requested, snapshot)
        VALUES ($1, $2, 'running', now(), NULL, false, $3::jsonb)
        ON CONFLICT (exercise) DO UPDATE SET owner = EXCLUDED.owner, status = 'running',
            heartbeat_at = now(), sim_time = NULL, stop_requested = false,
            snapshot = EXCLUDED.snapshot
        """,
        play.exercise,
        play.owner,
        msgspec.json.encode(_view_of(play)).decode(),
    )


async def _play(play: Play) -> None:
    manager = Context(REPLAY_ACTOR, WallClock())
    async with _row_kept(play):
        while True:
            # each pass starts from a fresh copy of the world
            await reset_exercise(manager, play.exercise, play_owner=play.owner)
            play.runner = _runner(play, play.exercise)
            report = await play.runner.run()
            play.report = {k: v for k, v in report.items() if k not in SUMMARY_OMITS}
            play.loops += 1
            if not play.loop:
                break
            await asyncio.sleep(min(30.0, 3600 / play.speed))


def _runner(play: Play, exercise_id: int, on_progress: Progress | None = None) -> Replay:
    def moved(fraction: float, steps: int) -> None:
        play.moved.set()
        if on_progress is not None:
            on_progress(fraction, steps)

    options = Options(policy=play.policy, speed=play.speed, exercise_id=exercise_id)
    return Replay(play.scenario, options, on_progress=moved)


@contextlib.asynccontextmanager
async def _row_kept(play: Play, failures_raise: bool = False) -> AsyncIterator[None]:
    """While the body plays: the row written as the clock moves; after it, the play's end
    (finished, stopped or failed, with why) written, however the body ended. A failure
    is said in the row; a server's play ends there, the CLI's goes on to say it."""
    keeper = asyncio.create_task(_keep_row(play), name=f"play-row-{play.exercise}")
    try:
        yield
        play.status = "finished"
    except asyncio.CancelledError:
        play.status = "stopped"
        raise
    except Exception as exc:  # a drill that breaks says why in GET .../play
        if play.stop_asked:
            # the stop's cancel landed inside a statement, and the driver or the command
            # said so in its own words: the play was stopped, it did not break
            log.info("play of exercise %s stopped mid-statement: %r", play.exercise, exc)
            play.status = "stopped"
            raise asyncio.CancelledError from exc
        play.status = "failed"
        play.error = f"{type(exc).__name__}: {getattr(exc, 'detail', None) or exc}"
        if failures_raise:
            raise
    finally:
        play.finished_at = WallClock().now()
        keeper.cancel()
        with contextlib.suppress(asyncio.CancelledError):
            await keeper
        await _final_save(play)


async def play_in_this_process(
    scenario: sc.Scenario,
    policy: str,
    speed: float,
    on_progress: Progress | None = None,
) -> tuple[int, dict[str, Any] | None]:
    """`dispatch replay --live`: a new drill sandbox, played by this process and known to
    every server like a play of theirs (progress, drill clock, 409, stop). The exercise's
    id, and the report; None for it when a server stopped the play."""
    manager = Context(REPLAY_ACTOR, WallClock())
    file = Path(scenario.source).name[:200]
    view = await create_exercise(
        manager,
        ExerciseCreate(
            name=f"回放 {scenario.name}"[:100],
            kind=ExerciseKind.DRILL,
            scenario=file,
            seed=scenario.seed,
        ),
    )
    play = Play(
        exercise=view.id,
        file=file,
        scenario=scenario,
        speed=speed,
        policy=policy,
        loop=False,
        started_at=WallClock().now(),
        task=asyncio.current_task(),
    )
    await _register(manager, play)
    PLAYS[play.exercise] = play
    play.runner = _runner(play, view.id, on_progress)
    try:
        async with _row_kept(play, failures_raise=True):
            report = await play.runner.run()
    except asyncio.CancelledError:
        current = asyncio.current_task()
        if not play.stop_asked or current is None:
            raise  # Ctrl+C, or the process ending: not ours to swallow
        current.uncancel()
        return view.id, None
    play.report = {k: v for k, v in report.items() if k not in SUMMARY_OMITS}
    return view.id, report


async def _final_save(play: Play) -> None:
    """The play's last state in its row, even on the way out of a cancelled task."""
    try:
        await asyncio.shield(_save(play))
    except (OSError, asyncpg.PostgresError, asyncpg.InterfaceError) as exc:
        log.warning("play of exercise %s ended, row not written: %s", play.exercise, exc)


async def stop_play(exercise_id: int) -> bool:
    """Stop the exercise's play, here or in another process (its world stays as it is);
    True when one was stopped. Waits for it, so the sandbox is free to drop afterwards."""
    here = _running_here(exercise_id)
    if here is not None:
        assert here.task is not None
        here.stop_asked = True
        here.task.cancel()
        with contextlib.suppress(asyncio.CancelledError, Exception):
            await here.task
        await _ended(here)
        return True
    return await _stop_elsewhere(exercise_id)


async def _ended(play: Play) -> None:
    """The task has ended and its shielded last save has normally written the row; should
    that save have failed (a blip, a busy pool), the end is written now, so a play started
    next is not refused as if this one still ran."""
    row = await _row(play.exercise)
    if row is not None and row["status"] == PlayStatus.RUNNING and row["owner"] == play.owner:
        log.warning("play of exercise %s: its end written by the stop", play.exercise)
        if play.status == PlayStatus.RUNNING:  # cancelled before it began to play
            play.status, play.finished_at = "stopped", WallClock().now()
        await _save(play)


async def _stop_elsewhere(exercise_id: int) -> bool:
    async with engine().transaction() as txn:
        owner = await txn.connection.fetchval(
            """
            UPDATE public.exercise_play SET stop_requested = true
            WHERE exercise = $1 AND status = 'running'
              AND heartbeat_at > now() - $2 * interval '1 second'
            RETURNING owner
            """,
            exercise_id,
            _lease(),
        )
    if owner is None:
        return False
    loop = asyncio.get_running_loop()
    deadline = loop.time() + _lease() + HEARTBEAT
    while loop.time() < deadline:
        row = await _row(exercise_id)
        if row is None or row["owner"] != owner or row["status"] != PlayStatus.RUNNING:
            return True
        if not row["alive"]:
            return True  # its process went away meanwhile: nothing plays any more
        await asyncio.sleep(0.1)
    raise Conflict(
        f"exercise {exercise_id}: the process playing it did not stop in time", field="id"
    )


async def stop_playing(ctx: Context, exercise_id: int) -> PlayView:
    """`DELETE /api/exercises/{id}/play`: a trainer ends the live play; audited."""
    authorize(ctx.actor, "exercises.manage")
    await get_exercise(ctx, exercise_id)  # 404 for no such exercise
    if await stop_play(exercise_id):
        async with command(real_world(ctx)) as cmd:
            await cmd.audit("exercises.stop", "exercise", exercise_id, {"playing": True}, None)
            cmd.emit("exercise.stopped", {"id": exercise_id})
    return await play_view(exercise_id)


async def stop_plays() -> None:
    """Server shutdown: this process's running drills stop (their sandboxes stay)."""
    for exercise_id in list(PLAYS):
        if _running_here(exercise_id) is not None:
            await stop_play(exercise_id)


# the service asks through these hooks: deleting an exercise stops its play, a reset is
# refused while one plays (so the service never imports this module)
register_play_hooks(stop=stop_play, playing_elsewhere=playing_elsewhere)
