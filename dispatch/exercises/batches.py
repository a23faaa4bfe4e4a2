"""Batch comparisons started from the drill page: a trainer asks for N paired, seeded runs
of a scenario under two policies and watches them finish.

The batch is a row of `exercise_batch`; the server process that accepted it runs it in
the background (`batch.run_batch` in a thread, the replays in worker processes started
for it, each in a sandbox of its own) and writes the row as runs finish and at least
every `HEARTBEAT_S` seconds, with a `exercise.batch` event on the live feed when its
progress moves. So every worker answers `GET`, and a running batch whose row has not been
written for `LEASE_S` lost its process: it shows as failed, and the next batch may start.
One batch runs at a time (a partial unique index): they take every core the replays get.
`DELETE` asks it to stop; runs already started finish, the rest are dropped.
"""

from __future__ import annotations

import asyncio
import json
import logging
import threading
from dataclasses import dataclass, field
from datetime import timedelta
from pathlib import Path
from typing import Any

import asyncpg

from dispatch.accounts.policy import authorize
from dispatch.clock import WallClock
from dispatch.db import Context, after_commit, command, query
from dispatch.errors import Conflict, InvalidInput, NotFound
from dispatch.exercises.batch import BatchStopped, run_batch, summary
from dispatch.exercises.batch_report import render_batch_html
from dispatch.exercises.plays import scenario_path, scenario_title
from dispatch.exercises.records import real_world
from dispatch.exercises.replay import REPLAY_ACTOR
from dispatch.exercises.schemas import BatchRequest, BatchStatus, BatchView

__all__ = ["batch_report", "get_batch", "list_batches", "start_batch", "stop_batch"]

log = logging.getLogger("dispatch.batches")

HEARTBEAT_S = 1.0  # the longest a running batch goes without writing its row
LEASE_S = 60.0  # a running batch's row unwritten this long: its process is gone
LOST = "the server process running it stopped before the batch ended"
COLUMNS = (
    "id, scenario, title, runs, policies, first_seed, jobs, status, done, total, "
    "stop_requested, summary, error, created_by, created_at, updated_at, finished_at"
)


@dataclass
class _Running:
    """A batch this process runs: its thread's progress and the flag that stops it."""

    batch: int
    path: Path
    request: BatchRequest
    done: int = 0
    stop: threading.Event = field(default_factory=threading.Event)
    task: asyncio.Task[None] | None = None


RUNNING: dict[int, _Running] = {}


def _lost(row: asyncpg.Record) -> bool:
    return bool(
        row["status"] == BatchStatus.RUNNING
        and WallClock().now() - row["updated_at"] > timedelta(seconds=LEASE_S)
    )


def _view(row: asyncpg.Record) -> BatchView:
    lost = _lost(row)
    return BatchView(
        id=row["id"],
        scenario=row["scenario"],
        title=row["title"],
        runs=row["runs"],
        policies=list(row["policies"]),
        seed=row["first_seed"],
        jobs=row["jobs"],
        status=BatchStatus.FAILED if lost else BatchStatus(row["status"]),
        done=row["done"],
        total=row["total"],
        created_by=row["created_by"],
        created_at=row["created_at"],
        updated_at=row["updated_at"],
        finished_at=row["finished_at"],
        stop_requested=row["stop_requested"],
        summary=json.loads(row["summary"]) if row["summary"] else None,
        error=LOST if lost else row["error"],
    )


# --- start, stop, read -------------------------------------------------------------------------


async def start_batch(ctx: Context, request: BatchRequest) -> BatchView:
    """Accept a batch and start it in this process once its row is committed; 409 while
    another one runs (anywhere), 422 for a policy named twice, 404 for no such file."""
    authorize(ctx.actor, "exercises.manage")
    policies = [p.value for p in request.policies]
    if len(set(policies)) != len(policies):
        raise InvalidInput("a policy is named twice", field="policies", code="batch.policy_twice")
    path = scenario_path(request.scenario)
    title = scenario_title(request.scenario)
    async with command(real_world(ctx)) as cmd:
        conn = cmd.connection
        await _expire_lost(conn)
        running = await conn.fetchval("SELECT id FROM exercise_batch WHERE status = 'running'")
        if running is not None:
            raise Conflict(
                f"batch {running} is running: one batch at a time",
                field="scenario",
                code="batch.running",
                params={"batch": running},
            )
        row = await conn.fetchrow(
            f"""INSERT INTO exercise_batch (scenario, title, runs, policies, first_seed, jobs,
                    status, total, created_by, created_at, updated_at)
                VALUES ($1, $2, $3, $4, $5, $6, 'running', $7, $8, $9, $9)
                RETURNING {COLUMNS}""",
            request.scenario,
            title[:200],
            request.runs,
            policies,
            request.seed,
            request.jobs,
            request.runs * len(policies),
            ctx.actor.username,
            WallClock().now(),
        )
        await cmd.audit("exercises.batch_start", "exercise_batch", row["id"], None, _audited(row))
    running_here = _Running(row["id"], path, request)

    def begin() -> None:
        RUNNING[running_here.batch] = running_here
        running_here.task = asyncio.create_task(_run(running_here), name=f"batch-{row['id']}")

    after_commit(begin)  # the batch writes its row: it starts once the row is committed
    return _view(row)


def _audited(row: asyncpg.Record) -> dict[str, Any]:
    return {k: row[k] for k in ("scenario", "runs", "policies", "first_seed", "jobs")}


async def _expire_lost(conn: asyncpg.Connection) -> None:
    """A running batch whose process is gone becomes failed (so the next one may start)."""
    await conn.execute(
        "UPDATE exercise_batch SET status = 'failed', error = $2, finished_at = now() "
        "WHERE status = 'running' AND updated_at < now() - make_interval(secs => $1)",
        LEASE_S,
        LOST,
    )


async def stop_batch(ctx: Context, batch_id: int) -> BatchView:
    """Ask a running batch to stop (whichever process runs it); 409 if it is not running."""
    authorize(ctx.actor, "exercises.manage")
    async with command(real_world(ctx)) as cmd:
        row = await _locked(cmd.connection, batch_id)
        if row["status"] != BatchStatus.RUNNING or _lost(row):
            raise Conflict(
                f"batch {batch_id} is not running",
                field="id",
                code="batch.not_running",
                params={"batch": batch_id},
            )
        row = await cmd.connection.fetchrow(
            f"UPDATE exercise_batch SET stop_requested = true WHERE id = $1 RETURNING {COLUMNS}",
            batch_id,
        )
        await cmd.audit("exercises.batch_stop", "exercise_batch", batch_id, None, None)
    return _view(row)


async def _locked(conn: asyncpg.Connection, batch_id: int) -> asyncpg.Record:
    row = await conn.fetchrow(
        f"SELECT {COLUMNS} FROM exercise_batch WHERE id = $1 FOR UPDATE", batch_id
    )
    if row is None:
        raise NotFound(f"no batch {batch_id}", field="id")
    return row


async def get_batch(ctx: Context, batch_id: int) -> BatchView:
    authorize(ctx.actor, "exercises.manage")
    async with query(real_world(ctx)) as conn:
        row = await conn.fetchrow(f"SELECT {COLUMNS} FROM exercise_batch WHERE id = $1", batch_id)
    if row is None:
        raise NotFound(f"no batch {batch_id}", field="id")
    return _view(row)


async def list_batches(ctx: Context, limit: int = 20) -> list[BatchView]:
    """The latest batches, newest first."""
    authorize(ctx.actor, "exercises.manage")
    async with query(real_world(ctx)) as conn:
        rows = await conn.fetch(
            f"SELECT {COLUMNS} FROM exercise_batch ORDER BY id DESC LIMIT $1", limit
        )
    return [_view(r) for r in rows]


async def batch_report(ctx: Context, batch_id: int) -> str:
    """The batch's page (each policy's mean with its interval, the paired difference,
    strip plots), as `dispatch replay --runs --html` writes it; 409 until it is done."""
    batch = await get_batch(ctx, batch_id)
    if batch.summary is None:
        raise Conflict(
            f"batch {batch_id} has no figures yet ({batch.status})",
            field="id",
            code="batch.not_done",
            params={"batch": batch_id, "status": batch.status.value},
        )
    return render_batch_html(batch.title, batch.summary)


# --- running ------------------------------------------------------------------------------


async def _run(batch: _Running) -> None:
    """Run the batch in a thread (its replays in worker processes), writing the row as it
    goes; the summary at the end, or why it ended."""
    request = batch.request
    policies = [p.value for p in request.policies]

    def on_done(done: int, total: int) -> None:
        batch.done = done  # read by the loop's next write

    work = asyncio.ensure_future(
        asyncio.to_thread(
            run_batch,
            batch.path,
            runs=request.runs,
            policies=policies,
            first_seed=request.seed,
            jobs=request.jobs,
            on_done=on_done,
            in_workers=True,
            stopped=batch.stop.is_set,
        )
    )
    try:
        await _keep_row(batch, work)
        results = work.result()
        await _finish(batch, BatchStatus.DONE, summary(results, policies), None)
    except BatchStopped as stopped:
        await _finish(batch, BatchStatus.STOPPED, None, str(stopped))
    except Exception as exc:  # the batch failed; the server goes on
        log.exception("batch %s failed", batch.batch)
        await _finish(batch, BatchStatus.FAILED, None, f"{type(exc).__name__}: {exc}"[:500])
    finally:
        RUNNING.pop(batch.batch, None)


async def _keep_row(batch: _Running, work: asyncio.Future[Any]) -> None:
    """Write the progress at least every `HEARTBEAT_S` until the work ends; a stop asked
    through the row (by any process) is passed to the thread."""
    written = -1
    while True:
        finished, _ = await asyncio.wait({work}, timeout=HEARTBEAT_S)
        if finished:
            return
        stop = await _beat(batch, announce=batch.done != written)
        written = batch.done
        if stop:
            batch.stop.set()


def _ctx() -> Context:
    return Context(REPLAY_ACTOR, WallClock())


async def _beat(batch: _Running, *, announce: bool) -> bool:
    """The row's progress now; whether a stop was asked."""
    async with command(_ctx()) as cmd:
        stop = await cmd.connection.fetchval(
            "UPDATE exercise_batch SET done = $2, updated_at = now() "
            "WHERE id = $1 RETURNING stop_requested",
            batch.batch,
            batch.done,
        )
        if announce:
            cmd.emit("exercise.batch", {"batch": batch.batch, "done": batch.done})
    return bool(stop)


async def _finish(
    batch: _Running, status: BatchStatus, figures: dict[str, Any] | None, error: str | None
) -> None:
    async with command(_ctx()) as cmd:
        await cmd.connection.execute(
            "UPDATE exercise_batch SET status = $2, done = $3, summary = $4, error = $5, "
            "updated_at = now(), finished_at = now() WHERE id = $1",
            batch.batch,
            status.value,
            batch.done,
            None if figures is None else json.dumps(figures, ensure_ascii=False),
            error,
        )
        cmd.emit(
            "exercise.batch", {"batch": batch.batch, "done": batch.done, "status": status.value}
        )


async def stop_batches() -> None:
    """At shutdown: ask this process's batches to stop, and let their rows say so."""
    for batch in list(RUNNING.values()):
        batch.stop.set()
        if batch.task is not None:
            batch.task.cancel()
