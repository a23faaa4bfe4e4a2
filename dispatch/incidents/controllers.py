"""HTTP edge of incidents: incidents, closures, outages, requests and tasks."""

from __future__ import annotations

from typing import Annotated, Any

from litestar import Controller, Request, get, post
from litestar.params import FromQuery, JSONBody, QueryParameter

from dispatch.db import Ctx
from dispatch.fields import Id, idempotency_key
from dispatch.incidents import service
from dispatch.incidents.schemas import (
    ClosureCreate,
    ClosureView,
    DepotOutageCreate,
    DepotOutageView,
    IncidentAdvance,
    IncidentCreate,
    IncidentStatus,
    IncidentView,
    LevelRaise,
    PositionReport,
    PositionView,
    ProgressView,
    RequestCancel,
    RequestCreate,
    RequestView,
    StopComplete,
    Summary,
    TaskAssign,
    TaskComplete,
    TaskCreate,
    TaskFail,
    TaskNote,
    TaskStep,
    TaskView,
)
from dispatch.people.schemas import SuggestResponse


class IncidentController(Controller):
    path = "/api/incidents"
    tags = ["incidents"]

    @get("/")
    async def list_incidents(
        self, ctx: Ctx, status: FromQuery[IncidentStatus | None] = None
    ) -> list[IncidentView]:
        return await service.list_incidents(ctx, status.value if status else None)

    @post("/")
    async def declare(self, ctx: Ctx, data: JSONBody[IncidentCreate]) -> IncidentView:
        """Declare an incident (type, level I-IV, communities); optionally door checks."""
        return await service.declare_incident(ctx, data)

    @get("/{incident_id:int}")
    async def get_incident(self, ctx: Ctx, incident_id: Id) -> IncidentView:
        return await service.get_incident(ctx, incident_id)

    @post("/{incident_id:int}/respond", status_code=200)
    async def respond(self, ctx: Ctx, incident_id: Id) -> IncidentView:
        return await service.advance_incident(ctx, incident_id, IncidentStatus.RESPONDING)

    @post("/{incident_id:int}/level", status_code=200)
    async def raise_level(
        self, ctx: Ctx, incident_id: Id, data: JSONBody[LevelRaise]
    ) -> IncidentView:
        """Raise the response level; community plans that answer only the graver level
        start in the same transaction."""
        return await service.raise_level(ctx, incident_id, data)

    @post("/{incident_id:int}/stand-down", status_code=200)
    async def stand_down(
        self, ctx: Ctx, incident_id: Id, data: JSONBody[IncidentAdvance | None] = None
    ) -> IncidentView:
        """Open requests are closed as unmet. With deliveries on their way or tasks in
        progress: 409 listing them, unless `cancel_open` (with a `reason`) cancels them."""
        return await service.advance_incident(ctx, incident_id, IncidentStatus.STOOD_DOWN, data)

    @post("/{incident_id:int}/close", status_code=200)
    async def close(
        self, ctx: Ctx, incident_id: Id, data: JSONBody[IncidentAdvance | None] = None
    ) -> IncidentView:
        """Close and store the after-action summary; open work as for stand-down."""
        return await service.advance_incident(ctx, incident_id, IncidentStatus.CLOSED, data)

    @get("/{incident_id:int}/summary")
    async def summary(self, ctx: Ctx, incident_id: Id) -> Summary:
        return await service.summary(ctx, incident_id)

    @post("/{incident_id:int}/closures")
    async def close_road(
        self, ctx: Ctx, incident_id: Id, data: JSONBody[ClosureCreate]
    ) -> ClosureView:
        """Close roads by circle or edge; deliveries crossing it are rerouted."""
        return await service.close_road(ctx, incident_id, data)

    @post("/{incident_id:int}/depots-out")
    async def depot_out(
        self, ctx: Ctx, incident_id: Id, data: JSONBody[DepotOutageCreate]
    ) -> DepotOutageView:
        return await service.depot_out(ctx, incident_id, data)

    @get("/{incident_id:int}/requests")
    async def requests(
        self, ctx: Ctx, incident_id: Id, status: FromQuery[str | None] = None
    ) -> list[RequestView]:
        return await service.list_requests(ctx, incident_id, status)

    @post("/{incident_id:int}/requests")
    async def create_request(
        self, ctx: Ctx, incident_id: Id, data: JSONBody[RequestCreate]
    ) -> RequestView:
        """A community, or the 12345 hotline through a worker, asks for supplies."""
        return await service.create_request(ctx, incident_id, data)

    @post("/{incident_id:int}/tasks")
    async def create_task(self, ctx: Ctx, incident_id: Id, data: JSONBody[TaskCreate]) -> TaskView:
        return await service.create_task(ctx, incident_id, data)


class ClosureController(Controller):
    path = "/api"
    tags = ["incidents"]

    @get("/closures")
    async def closures(self, ctx: Ctx, active: FromQuery[bool] = True) -> list[ClosureView]:
        return await service.list_closures(ctx, active)

    @post("/closures/{closure_id:int}/reopen", status_code=200)
    async def reopen(self, ctx: Ctx, closure_id: Id) -> ClosureView:
        return await service.reopen_road(ctx, closure_id)

    @get("/depot-outages")
    async def outages(self, ctx: Ctx) -> list[DepotOutageView]:
        return await service.list_outages(ctx)

    @post("/depot-outages/{outage_id:int}/back", status_code=200)
    async def depot_back(self, ctx: Ctx, outage_id: Id) -> DepotOutageView:
        return await service.depot_back(ctx, outage_id)

    @get("/requests/{request_id:int}")
    async def request(self, ctx: Ctx, request_id: Id) -> RequestView:
        return await service.get_request(ctx, request_id)

    @post("/requests/{request_id:int}/cancel", status_code=200)
    async def cancel_request(
        self, ctx: Ctx, request_id: Id, data: JSONBody[RequestCancel]
    ) -> RequestView:
        return await service.cancel_request(ctx, request_id, data)


class TaskController(Controller):
    """Every change names the version it was built on; a stale version gets 412."""

    path = "/api/tasks"
    tags = ["tasks"]

    @get("/")
    async def list_tasks(
        self,
        ctx: Ctx,
        incident: Annotated[int | None, QueryParameter(ge=1, le=2**62)] = None,
        status: FromQuery[str | None] = None,
    ) -> list[TaskView]:
        """Tasks in the caller's scope (a street leader: their street's)."""
        return await service.list_tasks(ctx, incident, status)

    @get("/{task_id:int}")
    async def get_task(self, ctx: Ctx, task_id: Id) -> TaskView:
        return await service.get_task(ctx, task_id)

    @get("/{task_id:int}/history")
    async def history(self, ctx: Ctx, task_id: Id) -> list[ProgressView]:
        return await service.task_history(ctx, task_id)

    @get("/{task_id:int}/positions")
    async def track(self, ctx: Ctx, task_id: Id) -> list[PositionView]:
        """The GPS fixes of the task, in time order (its track)."""
        return await service.task_track(ctx, task_id)

    @get("/{task_id:int}/suggestions")
    async def suggestions(
        self, ctx: Ctx, task_id: Id, on_duty_only: FromQuery[bool] = True
    ) -> SuggestResponse:
        """Who to send: exact matching on skills, hours, pairing, residence and travel."""
        response: SuggestResponse = await service.suggest_for_task(ctx, task_id, on_duty_only)
        return response

    @post("/{task_id:int}/assign", status_code=200)
    async def assign(self, ctx: Ctx, task_id: Id, data: JSONBody[TaskAssign]) -> TaskView:
        return await service.assign_task(ctx, task_id, data)

    @post("/{task_id:int}/accept", status_code=200)
    async def accept(self, ctx: Ctx, task_id: Id, data: JSONBody[TaskStep]) -> TaskView:
        return await service.step_task(ctx, task_id, "accept", data)

    @post("/{task_id:int}/start", status_code=200)
    async def start(self, ctx: Ctx, task_id: Id, data: JSONBody[TaskStep]) -> TaskView:
        """Picked up: the team is en route."""
        return await service.step_task(ctx, task_id, "start", data)

    @post("/{task_id:int}/complete", status_code=200)
    async def complete(
        self,
        request: Request[Any, Any, Any],
        ctx: Ctx,
        task_id: Id,
        data: JSONBody[TaskComplete],
    ) -> TaskView:
        """Delivered (quantity) or checked (households): the task is done."""
        return await service.complete_task(ctx, task_id, data, idempotency_key(request))

    @post("/{task_id:int}/stops/{stop_id:int}/complete", status_code=200)
    async def complete_stop(
        self,
        request: Request[Any, Any, Any],
        ctx: Ctx,
        task_id: Id,
        stop_id: Id,
        data: JSONBody[StopComplete],
    ) -> TaskView:
        """A delivery run's stop unloaded: its transfers received (in full unless a line
        says less, with a shortfall reason), signed for by `receiver`; the last stop done
        is the run done. Send an Idempotency-Key: a resend is answered, not done again."""
        return await service.complete_stop(ctx, task_id, stop_id, data, idempotency_key(request))

    @post("/{task_id:int}/fail", status_code=200)
    async def fail(self, ctx: Ctx, task_id: Id, data: JSONBody[TaskFail]) -> TaskView:
        return await service.fail_task(ctx, task_id, data)

    @post("/{task_id:int}/cancel", status_code=200)
    async def cancel(self, ctx: Ctx, task_id: Id, data: JSONBody[TaskFail]) -> TaskView:
        return await service.cancel_task(ctx, task_id, data)

    @post("/{task_id:int}/notes", status_code=200)
    async def note(self, ctx: Ctx, task_id: Id, data: JSONBody[TaskNote]) -> TaskView:
        return await service.note_task(ctx, task_id, data)

    @post("/{task_id:int}/positions", status_code=201)
    async def position(self, ctx: Ctx, task_id: Id, data: JSONBody[PositionReport]) -> PositionView:
        """A GPS fix of the team on its way (no version: a fix changes no state of the
        task); 409 unless the task is en route, 422 for a fix far off its route."""
        return await service.report_position(ctx, task_id, data)
