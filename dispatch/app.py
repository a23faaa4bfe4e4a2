"""The application factory: wiring only; the rules live in the domain services."""

from __future__ import annotations

import asyncio
import logging
from collections.abc import AsyncIterator, Awaitable
from contextlib import asynccontextmanager
from functools import partial
from typing import Any

from litestar import Litestar, Request, get
from litestar.config.cors import CORSConfig
from litestar.datastructures import State
from litestar.di import Provide
from litestar.logging import LoggingConfig
from litestar.middleware import DefineMiddleware
from litestar.openapi import OpenAPIConfig
from litestar.openapi.plugins import SwaggerRenderPlugin
from litestar.openapi.spec import Components, SecurityScheme
from litestar.plugins.jinja import JinjaTemplateEngine
from litestar.plugins.prometheus import PrometheusConfig, PrometheusController
from litestar.response import Response
from litestar.template.config import TemplateConfig

from dispatch.accounts.controllers import (
    LIVE_PATH,
    AuditController,
    AuthController,
    TokenAuthentication,
    UserController,
)
from dispatch.accounts.policy import SYSTEM, Actor
from dispatch.accounts.service import purge_refresh_tokens
from dispatch.branches.controllers import CONTROLLERS as BRANCH_CONTROLLERS
from dispatch.clock import Clock, WallClock
from dispatch.db import Context, close_pool, engine, fetch_row, set_publisher, start_pool
from dispatch.edge import check_request
from dispatch.errors import EXCEPTION_HANDLERS, Unauthorized
from dispatch.exercises.batches import stop_batches
from dispatch.exercises.controllers import BatchController, ExerciseController, ScenarioController
from dispatch.exercises.demo_drill import start_demo_drill
from dispatch.exercises.plays import drill_clock, stop_plays
from dispatch.exercises.service import resolve_exercise
from dispatch.fleet.controllers import FleetController
from dispatch.guard import RequestGuard
from dispatch.hotline.controllers import (
    HotlineController,
    HotlineDeadlineController,
    HotlineFiguresController,
)
from dispatch.hotline.service import watch as watch_hotline
from dispatch.idempotency import EXERCISE_HEADER, IdempotencyMiddleware, purge_expired
from dispatch.incidents.controllers import ClosureController, IncidentController, TaskController
from dispatch.live import live_feed, make_feed
from dispatch.logs import install_redaction
from dispatch.people.controllers import CONTROLLERS as PEOPLE_CONTROLLERS
from dispatch.places.controllers import PlacesController
from dispatch.planning.controllers import PlanController
from dispatch.preparedness import links
from dispatch.preparedness.controllers import CONTROLLERS as PREPAREDNESS_CONTROLLERS
from dispatch.preparedness.escalation import watch as watch_callouts
from dispatch.preparedness.sms import gateway_of, send_pending
from dispatch.settings import Settings, get_settings
from dispatch.spreadsheets import shutdown_readers
from dispatch.stock.controllers import StockController, TransferController
from dispatch.web.controllers import PAGE_PATHS, TEMPLATES, PagesController, static_routers
from dispatch.web.vocabulary import VocabularyController

HEALTH_TIMEOUT = 2.0  # seconds a part may take to answer /health before it counts as down
# no user token: the SMS gateway's webhook (its own token) and the one-time links' page
CALLOUT_PUBLIC = ["^/api/callouts/sms/inbound$", f"^{links.PATH}"]
PUBLIC_PATHS = ["^/health", "^/metrics", "^/schema", *PAGE_PATHS, *CALLOUT_PUBLIC]


async def provide_context(request: Request[Any, Any, Any]) -> Context:
    """The command context of a request: its user, the app's clock and its world (an
    `X-Exercise: <id>` header must name an active exercise: its schema is the world; the live
    feed also takes it as `?exercise=`). In a drill a scenario is playing into, the clock is
    the drill's simulated one."""
    actor = request.scope.get("user")
    if not isinstance(actor, Actor):
        raise Unauthorized("this operation needs a logged-in user")
    header = request.headers.get(EXERCISE_HEADER.decode())
    if header is None and request.scope["path"] == LIVE_PATH:
        header = request.query_params.get("exercise")  # EventSource cannot send headers
    exercise = await resolve_exercise(actor, header) if header else None
    clock = (await drill_clock(exercise) if exercise else None) or request.app.state.clock
    return Context(actor=actor, clock=clock, exercise=exercise)


@get("/health", exclude_from_auth=True, tags=["ops"], security=[])
async def health(request: Request[Any, Any, Any]) -> Response[dict[str, str]]:
    """200 when the database and the live feed answer; 503 otherwise, naming the part that
    is down, so a load balancer can route around it and an operator knows where to look."""
    parts = {
        "database": await _answer_of(_database_answers()),
        "live_feed": await _answer_of(request.app.state.feed.ping()),
    }
    down = any(state != "ok" for state in parts.values())
    body = {"status": "unavailable" if down else "ok", **parts}
    headers = {"Retry-After": "5"} if down else {}
    return Response(body, status_code=503 if down else 200, headers=headers)


async def _database_answers() -> None:
    async with engine().transaction() as txn:
        await txn.connection.fetchval("SELECT 1")


async def _answer_of(check: Awaitable[None]) -> str:
    """'ok', or the kind of failure (never its text: it may name hosts or users)."""
    try:
        await asyncio.wait_for(check, timeout=HEALTH_TIMEOUT)
    except Exception as exc:  # any failure means this part is down; its kind says which
        return f"unavailable: {type(exc).__name__}"
    return "ok"


class Metrics(PrometheusController):
    path = "/metrics"
    include_in_schema = False


async def _demo_drill(settings: Settings) -> None:
    """DISPATCH_DEMO_DRILL=<file in scenarios/>: serve with that scenario playing live in
    the exercise 演示演练 (`dispatch demo` sets it); a drill that can't start is logged."""
    if not settings.demo_drill:
        return
    try:
        await start_demo_drill(settings.demo_drill, settings.demo_drill_speed)
    except Exception as exc:  # the demo serves anyway
        logging.getLogger("dispatch.demo").warning("demo drill not started: %s", exc)


async def _swept_worlds(clock: Clock) -> list[Context]:
    """The worlds the background sweeps (overdue tickets, call-out escalation) go through,
    each on its own clock: the real one on the server's, each drill a scenario is playing
    into on the drill's."""
    worlds = [Context(actor=SYSTEM, clock=clock)]
    row = await fetch_row(
        "SELECT array_agg(schema_name) AS names FROM exercise WHERE deleted_at IS NULL"
    )
    for schema in (row["names"] if row else None) or []:
        drill = await drill_clock(schema)
        if drill is not None:
            worlds.append(Context(actor=SYSTEM, clock=drill, exercise=schema))
    return worlds


def _start_hotline_watch(app: Litestar, settings: Settings) -> asyncio.Task[None] | None:
    if settings.hotline_watch_seconds <= 0:
        return None
    clock: Clock = app.state.clock
    worlds = partial(_swept_worlds, clock)
    return asyncio.create_task(watch_hotline(worlds, settings.hotline_watch_seconds))


def _start_callout_watch(app: Litestar, settings: Settings) -> asyncio.Task[None] | None:
    """Call-outs escalate on the clock in every world; SMS go out from the real one only,
    and only with a gateway configured (none by default: the demo sends nothing)."""
    if settings.callout_watch_seconds <= 0:
        return None
    clock: Clock = app.state.clock
    gateway = gateway_of(settings)
    sender = None
    if gateway is not None:
        sender = partial(send_pending, Context(actor=SYSTEM, clock=clock), gateway)
    worlds = partial(_swept_worlds, clock)
    return asyncio.create_task(watch_callouts(worlds, settings.callout_watch_seconds, sender))


async def _stop(watches: list[asyncio.Task[None] | None]) -> None:
    """Cancel the background watches and let each finish its cancellation (an SMS post in
    flight is rolled back with its transaction and posted again, same key, next time)."""
    running = [w for w in watches if w is not None]
    for watch in running:
        watch.cancel()
    await asyncio.gather(*running, return_exceptions=True)


def _route_handlers() -> list[Any]:
    """Every route of the service: the API's controllers by domain, the feed, the pages."""
    return [
        health,
        Metrics,
        AuthController,
        UserController,
        AuditController,
        PlacesController,
        *PEOPLE_CONTROLLERS,
        StockController,
        TransferController,
        FleetController,
        *BRANCH_CONTROLLERS,
        HotlineController,
        HotlineDeadlineController,
        HotlineFiguresController,
        IncidentController,
        ClosureController,
        TaskController,
        PlanController,
        *PREPAREDNESS_CONTROLLERS,
        ExerciseController,
        ScenarioController,
        BatchController,
        live_feed,
        VocabularyController,
        PagesController,
        *static_routers(),
    ]


def _openapi() -> OpenAPIConfig:
    """The schema at /schema, with bearer tokens as its one security scheme."""
    return OpenAPIConfig(
        title="Dongcheng emergency dispatch",
        version="0.1.0",
        path="/schema",
        render_plugins=[SwaggerRenderPlugin()],
        components=Components(
            security_schemes={
                "BearerToken": SecurityScheme(type="http", scheme="bearer", bearer_format="JWT")
            }
        ),
        security=[{"BearerToken": []}],
    )


def create_app(settings: Settings | None = None, clock: Clock | None = None) -> Litestar:
    settings = settings or get_settings()
    prometheus = PrometheusConfig(
        app_name="dispatch", prefix="dispatch", group_path=True, exclude=["^/metrics"]
    )

    @asynccontextmanager
    async def lifespan(app: Litestar) -> AsyncIterator[None]:
        await start_pool(min_size=settings.pool_min, max_size=settings.pool_max)
        install_redaction()
        feed = make_feed(settings.redis_url, settings.redis_prefix)
        app.state.feed = feed
        set_publisher(feed.publish)
        watches: list[asyncio.Task[None] | None] = []
        try:
            await purge_expired()
            await purge_refresh_tokens()
            await _demo_drill(settings)
            watches.append(_start_hotline_watch(app, settings))
            watches.append(_start_callout_watch(app, settings))
            yield
        finally:
            await _stop(watches)
            await stop_plays()
            await stop_batches()
            shutdown_readers()
            set_publisher(None)
            await feed.close()
            await close_pool()

    return Litestar(
        route_handlers=_route_handlers(),
        template_config=TemplateConfig(directory=TEMPLATES, engine=JinjaTemplateEngine),
        dependencies={"ctx": Provide(provide_context)},
        middleware=[
            prometheus.middleware,
            DefineMiddleware(RequestGuard, settings=settings),
            DefineMiddleware(TokenAuthentication, exclude=PUBLIC_PATHS),
            IdempotencyMiddleware,
        ],
        exception_handlers=EXCEPTION_HANDLERS,
        before_request=check_request,
        request_max_body_size=settings.upload_body_max_bytes,  # the guard sets each route's
        lifespan=[lifespan],
        openapi_config=_openapi(),
        cors_config=CORSConfig(allow_origins=[]),
        logging_config=LoggingConfig(log_exceptions="never"),
        state=State({"settings": settings, "clock": clock or WallClock()}),
        debug=False,
    )
