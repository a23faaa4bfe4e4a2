"""HTTP edge of planning: compute, review, approve (whole or edited) or reject plans."""

from __future__ import annotations

from typing import Any

from litestar import Controller, Request, get, post
from litestar.params import JSONBody

from dispatch.db import Ctx
from dispatch.fields import Id, idempotency_key
from dispatch.planning import service
from dispatch.planning.schemas import PlanApproval, PlanCreate, PlanDecision, PlanView


class PlanController(Controller):
    path = "/api"
    tags = ["planning"]

    @post("/incidents/{incident_id:int}/plans")
    async def create(self, ctx: Ctx, incident_id: Id, data: JSONBody[PlanCreate]) -> PlanView:
        """Compute transfers for the open requests on the road network, with unmet reasons."""
        return await service.create_plan(ctx, incident_id, data)

    @get("/incidents/{incident_id:int}/plans")
    async def list_plans(self, ctx: Ctx, incident_id: Id) -> list[PlanView]:
        return await service.list_plans(ctx, incident_id)

    @get("/plans/{plan_id:int}")
    async def get_plan(self, ctx: Ctx, plan_id: Id) -> PlanView:
        return await service.get_plan(ctx, plan_id)

    @post("/plans/{plan_id:int}/approve", status_code=200)
    async def approve(
        self,
        request: Request[Any, Any, Any],
        ctx: Ctx,
        plan_id: Id,
        data: JSONBody[PlanApproval],
    ) -> PlanView:
        """Dispatch every line (or the edited quantities) with a delivery task each; 409 if the
        stock, requests or roads changed since the plan was computed."""
        return await service.approve_plan(ctx, plan_id, data, idempotency_key(request))

    @post("/plans/{plan_id:int}/reject", status_code=200)
    async def reject(self, ctx: Ctx, plan_id: Id, data: JSONBody[PlanDecision]) -> PlanView:
        return await service.reject_plan(ctx, plan_id, data)
