"""HTTP edge of exercises: trainers and commanders create, list, reset and delete drills.

Acting inside an exercise is not a route of its own: any request carrying
`X-Exercise: <id>` runs in that exercise's sandbox (see `dispatch.app.provide_context`).
"""

from __future__ import annotations

from typing import Annotated

from litestar import Controller, MediaType, delete, get, post
from litestar.params import FromQuery, JSONBody, Parameter
from litestar.status_codes import HTTP_200_OK, HTTP_202_ACCEPTED

from dispatch.accounts.policy import authorize
from dispatch.db import Ctx
from dispatch.exercises import batches, plays, service
from dispatch.exercises.schemas import (
    BatchRequest,
    BatchView,
    ExerciseCreate,
    ExerciseStatus,
    ExerciseView,
    PlayRequest,
    PlayView,
    ScenarioInfo,
)

ExerciseId = Annotated[int, Parameter(ge=1, le=2**31 - 1)]
BatchId = Annotated[int, Parameter(ge=1, le=2**31 - 1)]


class ExerciseController(Controller):
    path = "/api/exercises"
    tags = ["exercises"]

    @post("/", opt={"snapshot": True})  # the copy reads the world at one moment
    async def create(self, ctx: Ctx, data: JSONBody[ExerciseCreate]) -> ExerciseView:
        """A new drill (or replay) with its own copy of the world; send `X-Exercise: <id>`
        with later requests to act inside it. A `scenario` must name a file of
        `scenarios/`, as for a play (422 otherwise, 404 for a name not there)."""
        if data.scenario is not None:
            authorize(ctx.actor, "exercises.manage")  # who may not create learns nothing
            plays.scenario_path(data.scenario)
        return await service.create_exercise(ctx, data)

    @get("/")
    async def index(
        self, ctx: Ctx, status: FromQuery[ExerciseStatus | None] = None
    ) -> list[ExerciseView]:
        return await service.list_exercises(ctx, status)

    @get("/{exercise_id:int}")
    async def one(self, ctx: Ctx, exercise_id: ExerciseId) -> ExerciseView:
        return await service.get_exercise(ctx, exercise_id)

    @post("/{exercise_id:int}/reset", status_code=HTTP_200_OK, opt={"snapshot": True})
    async def reset(self, ctx: Ctx, exercise_id: ExerciseId) -> ExerciseView:
        """Drop the exercise's world and copy the real one again."""
        return await service.reset_exercise(ctx, exercise_id)

    @delete("/{exercise_id:int}", status_code=HTTP_200_OK)
    async def remove(self, ctx: Ctx, exercise_id: ExerciseId) -> ExerciseView:
        """Drop the exercise's schema; the exercise stays listed as deleted."""
        return await service.delete_exercise(ctx, exercise_id)

    @post("/{exercise_id:int}/play", status_code=HTTP_202_ACCEPTED)
    async def play(
        self, ctx: Ctx, exercise_id: ExerciseId, data: JSONBody[PlayRequest]
    ) -> PlayView:
        """Play a scenario of `scenarios/` into the exercise live (reset first), at `speed`
        times wall time, in this server process: its events reach this server's live feed
        (`GET /api/live` with `X-Exercise`; every worker's with REDIS_URL), and every worker
        knows the play. 409 while it plays anywhere. Audited in the real trail."""
        result: PlayView = await plays.start_play(ctx, exercise_id, data)
        return result

    @delete("/{exercise_id:int}/play", status_code=HTTP_200_OK)
    async def stop(self, ctx: Ctx, exercise_id: ExerciseId) -> PlayView:
        """Stop the live replay, whichever server process plays it (the drill's world stays
        as it is); audited."""
        result: PlayView = await plays.stop_playing(ctx, exercise_id)
        return result

    @get("/{exercise_id:int}/play")
    async def progress(self, ctx: Ctx, exercise_id: ExerciseId) -> PlayView:
        """The live replay's progress, from any worker (idle when nothing was played into
        the exercise; failed when the process playing it went away)."""
        result: PlayView = await plays.play_status(ctx, exercise_id)
        return result


class ScenarioController(Controller):
    path = "/api/scenarios"
    tags = ["exercises"]

    @get("/")
    async def index(self, ctx: Ctx) -> list[ScenarioInfo]:
        """The scenario files that can be played (name, description, duration, events)."""
        result: list[ScenarioInfo] = await plays.list_scenario_files(ctx)
        return result


class BatchController(Controller):
    path = "/api/exercise-batches"
    tags = ["exercises"]

    @post("/", status_code=HTTP_202_ACCEPTED)
    async def start(self, ctx: Ctx, data: JSONBody[BatchRequest]) -> BatchView:
        """Paired, seeded replays of a file of `scenarios/` under each policy, run in the
        background by this server process (worker processes, a sandbox each); follow it
        with `GET .../{id}` or the live feed's `exercise.batch`. 409 while one runs.
        Audited in the real trail."""
        return await batches.start_batch(ctx, data)

    @get("/")
    async def index(self, ctx: Ctx) -> list[BatchView]:
        """The latest 20 batches, newest first."""
        return await batches.list_batches(ctx)

    @get("/{batch_id:int}")
    async def one(self, ctx: Ctx, batch_id: BatchId) -> BatchView:
        """Its progress; once done, per figure each policy's mean with its 95 % interval
        and the paired difference with its interval and sign test."""
        return await batches.get_batch(ctx, batch_id)

    @delete("/{batch_id:int}", status_code=HTTP_200_OK)
    async def stop(self, ctx: Ctx, batch_id: BatchId) -> BatchView:
        """Stop it: runs already started finish, the others are dropped; audited."""
        return await batches.stop_batch(ctx, batch_id)

    @get("/{batch_id:int}/report", media_type=MediaType.HTML)
    async def report(self, ctx: Ctx, batch_id: BatchId) -> str:
        """The batch's page with strip plots (inline SVG); 409 until it is done."""
        return await batches.batch_report(ctx, batch_id)
