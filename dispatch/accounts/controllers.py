"""HTTP edge of accounts: token authentication, login, users and the audit trail."""

from __future__ import annotations

from datetime import datetime
from typing import Annotated, Any

from litestar import Controller, Request, get, post
from litestar.connection import ASGIConnection
from litestar.middleware import AbstractAuthenticationMiddleware, AuthenticationResult
from litestar.params import FromQuery, JSONBody, Parameter

from dispatch.accounts import service
from dispatch.accounts.schemas import (
    AuditView,
    LoginRequest,
    RefreshRequest,
    TokenResponse,
    UserCreate,
    UserView,
)
from dispatch.accounts.tokens import TokenPair, read_token
from dispatch.db import Ctx
from dispatch.errors import Unauthorized
from dispatch.fields import SmallId
from dispatch.settings import Settings

LIVE_PATH = "/api/live"  # EventSource cannot send headers: its token may come in the query


class TokenAuthentication(AbstractAuthenticationMiddleware):
    """Bearer access tokens; the user is re-read each request so disabling is immediate."""

    async def authenticate_request(
        self, connection: ASGIConnection[Any, Any, Any, Any]
    ) -> AuthenticationResult:
        header = connection.headers.get("authorization", "")
        if not header and connection.scope["path"] == LIVE_PATH:
            header = "Bearer " + connection.query_params.get("access_token", "")
        scheme, _, token = header.partition(" ")
        if scheme.lower() != "bearer" or not token.strip():
            raise Unauthorized("missing bearer token in the Authorization header")
        settings: Settings = connection.app.state.settings
        user_id = read_token(settings.secret_key, token.strip(), "access")
        actor = await service.load_actor(user_id)
        return AuthenticationResult(user=actor, auth=token)


def client_address(request: Request[Any, Any, Any], trust_proxy: bool) -> str:
    """The caller's address; X-Forwarded-For only counts behind a proxy we were told to trust."""
    if trust_proxy:
        forwarded = request.headers.get("x-forwarded-for", "")
        first = forwarded.split(",")[0].strip()
        if first:
            return first[:64]
    return request.client.host if request.client else "unknown"


def _tokens(pair: TokenPair) -> TokenResponse:
    return TokenResponse(
        access_token=pair.access_token,
        refresh_token=pair.refresh_token,
        expires_in=pair.expires_in,
    )


class AuthController(Controller):
    path = "/api/auth"
    tags = ["accounts"]

    @post("/login", exclude_from_auth=True, status_code=200, security=[])
    async def login(
        self, request: Request[Any, Any, Any], data: JSONBody[LoginRequest]
    ) -> TokenResponse:
        """Exchange a username and password for a 15-minute access token and a refresh token."""
        settings: Settings = request.app.state.settings
        attempt = service.LoginAttempt(
            data.username, data.password, client_address(request, settings.trust_proxy)
        )
        return _tokens(await service.login(settings, request.app.state.clock, attempt))

    @post("/refresh", exclude_from_auth=True, status_code=200, security=[])
    async def refresh(
        self, request: Request[Any, Any, Any], data: JSONBody[RefreshRequest]
    ) -> TokenResponse:
        """A new token pair for a valid refresh token of an enabled user."""
        return _tokens(await service.refresh(request.app.state.settings, data.refresh_token))

    @get("/me")
    async def me(self, ctx: Ctx) -> dict[str, Any]:
        """Who the token belongs to, with role and scope."""
        return service.own_view(ctx.actor)


class UserController(Controller):
    path = "/api/users"
    tags = ["accounts"]

    @get("/")
    async def list_users(self, ctx: Ctx) -> list[UserView]:
        return await service.list_users(ctx)

    @post("/")
    async def create_user(self, ctx: Ctx, data: JSONBody[UserCreate]) -> UserView:
        """Create a user with a role and, where the role needs one, a street or community."""
        return await service.create_user(ctx, data)

    @post("/{user_id:int}/disable", status_code=200)
    async def disable_user(self, ctx: Ctx, user_id: SmallId) -> UserView:
        """A disabled user is refused on their next request, whatever tokens they hold."""
        return await service.disable_user(ctx, user_id)


class AuditController(Controller):
    path = "/api/audit"
    tags = ["audit"]

    @get("/")
    async def search(
        self,
        ctx: Ctx,
        actor: Annotated[str | None, Parameter(max_length=64)] = None,
        action: Annotated[str | None, Parameter(max_length=80)] = None,
        entity: Annotated[str | None, Parameter(max_length=40)] = None,
        entity_id: Annotated[str | None, Parameter(max_length=80)] = None,
        since: FromQuery[datetime | None] = None,
        until: FromQuery[datetime | None] = None,
        limit: Annotated[int, Parameter(ge=1, le=1000)] = 100,
        before_id: Annotated[int | None, Parameter(ge=1, le=2**63 - 1)] = None,
    ) -> list[AuditView]:
        """The audit trail, newest first, filtered; commanders only."""
        flt = service.AuditFilter(actor, action, entity, entity_id, since, until, limit, before_id)
        return await service.search_audit(ctx, flt)
