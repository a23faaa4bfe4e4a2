"""Accounts: users and their scope, login with throttling, and reading the audit trail."""

from __future__ import annotations

import asyncio
import json
import logging
from dataclasses import dataclass
from datetime import datetime, timedelta
from functools import lru_cache
from typing import Any

import asyncpg
from argon2 import PasswordHasher, profiles
from argon2.exceptions import InvalidHashError, VerificationError

from dispatch.accounts.policy import (
    COMMUNITY_SCOPED,
    DISTRICT_WIDE,
    STREET_SCOPED,
    Actor,
    Role,
    authorize,
)
from dispatch.accounts.schemas import AuditView, UserCreate, UserView
from dispatch.accounts.tokens import TokenPair, issue_pair, read_refresh
from dispatch.clock import SHANGHAI, Clock, local
from dispatch.db import Context, command, engine, fetch_row, query, view_of
from dispatch.errors import Conflict, InvalidInput, NotFound, TooManyRequests, Unauthorized
from dispatch.places import lookups as places
from dispatch.settings import Settings, get_settings

log = logging.getLogger("dispatch.accounts")


@lru_cache(maxsize=1)
def hasher() -> PasswordHasher:
    """argon2id with the library's recommended parameters (RFC 9106), about 0.1 s of CPU a
    hash by design; a test suite that makes hundreds of users and logins sets
    DISPATCH_PASSWORD_HASH=cheapest (argon2's own profile for tests; never for real
    accounts). A stored hash is verified with the parameters it was made with."""
    if get_settings().password_hash == "cheapest":
        return PasswordHasher.from_parameters(profiles.CHEAPEST)
    return PasswordHasher.from_parameters(profiles.RFC_9106_LOW_MEMORY)


@lru_cache(maxsize=1)
def _dummy_hash() -> str:
    """What an unknown user's password is checked against (as long as a real check)."""
    return hasher().hash("not a password of anyone")


USER_COLUMNS = (
    "id, username, display_name, role, street, community, disabled, created_at, person_id"
)


def _user_view(row: asyncpg.Record) -> UserView:
    return view_of(UserView, row, role=Role(row["role"]))


def _actor(row: asyncpg.Record) -> Actor:
    return Actor(
        user_id=row["id"],
        username=row["username"],
        role=Role(row["role"]),
        street=row["street"],
        community=row["community"],
        community_street=row["community_street"],
        person_id=row["person_id"],
    )


async def load_actor(user_id: int) -> Actor:
    """The actor behind a token, read fresh each request so disabling takes effect at once."""
    row = await fetch_row(
        """
        SELECT u.*, c.street AS community_street FROM app_user u
        LEFT JOIN community c ON c.code = u.community WHERE u.id = $1
        """,
        user_id,
    )
    if row is None:
        raise Unauthorized("unknown user")
    if row["disabled"]:
        raise Unauthorized("this account is disabled")
    return _actor(row)


@dataclass(frozen=True)
class LoginAttempt:
    username: str
    password: str
    address: str


async def _recent_failures(
    conn: asyncpg.Connection, attempt: LoginAttempt, since: datetime
) -> tuple[int, int]:
    row = await conn.fetchrow(
        """
        SELECT count(*) FILTER (WHERE username = $1) AS by_user,
               count(*) FILTER (WHERE address = $2) AS by_address
        FROM login_failure WHERE at > $3 AND (username = $1 OR address = $2)
        """,
        attempt.username,
        attempt.address,
        since,
    )
    assert row is not None
    return int(row["by_user"]), int(row["by_address"])


def _password_matches(stored_hash: str | None, password: str) -> bool:
    try:
        return hasher().verify(stored_hash or _dummy_hash(), password) and stored_hash is not None
    except (VerificationError, InvalidHashError):
        return False


async def login(settings: Settings, clock: Clock, attempt: LoginAttempt) -> TokenPair:
    """Check a password; after too many failures per account or address, refuse with 429."""
    now = clock.now()
    window = timedelta(minutes=settings.login_failure_window_minutes)
    async with engine().transaction() as txn:
        conn = txn.connection
        by_user, by_address = await _recent_failures(conn, attempt, now - window)
        if max(by_user, by_address) >= settings.login_failure_limit:
            raise TooManyRequests(
                "too many failed logins; try again later",
                field="username" if by_user >= settings.login_failure_limit else None,
                retry_after=int(window.total_seconds()),
            )
        row = await conn.fetchrow(
            "SELECT id, password_hash, disabled FROM app_user WHERE username = $1",
            attempt.username,
        )
        ok = await asyncio.to_thread(
            _password_matches, row["password_hash"] if row else None, attempt.password
        )
        if not ok or row is None or row["disabled"]:
            await conn.execute(
                "INSERT INTO login_failure (username, address, at) VALUES ($1, $2, $3)",
                attempt.username,
                attempt.address,
                now,
            )
    if not ok or row is None:
        raise Unauthorized("wrong username or password")
    if row["disabled"]:
        raise Unauthorized("this account is disabled")
    async with engine().transaction() as txn:
        pair = await _issue(txn.connection, settings, row["id"], None)
    return pair


async def _issue(
    conn: asyncpg.Connection, settings: Settings, user_id: int, family: str | None
) -> TokenPair:
    """A new pair, its refresh token recorded so that it can be used once."""
    pair = issue_pair(
        settings.secret_key,
        user_id,
        settings.access_token_minutes,
        settings.refresh_token_days,
        family,
    )
    await conn.execute(
        """
        INSERT INTO refresh_token (jti, family, user_id, issued_at, expires_at)
        VALUES ($1, $2, $3, now(), $4)
        """,
        pair.refresh_id,
        pair.family,
        user_id,
        pair.refresh_expires,
    )
    return pair


async def refresh(settings: Settings, refresh_token: str) -> TokenPair:
    """A new pair for a refresh token used for the first time; the token is spent.

    A refresh token used a second time was copied (OWASP's refresh token rotation and
    reuse detection): every token of its family, the thief's and the owner's, is revoked,
    and the owner logs in again."""
    claims = read_refresh(settings.secret_key, refresh_token)
    await load_actor(claims.user_id)  # a disabled user gets no new tokens
    async with engine().transaction() as txn:
        conn = txn.connection
        spent = await conn.fetchval(
            """
            UPDATE refresh_token SET used_at = now()
            WHERE jti = $1 AND user_id = $2 AND used_at IS NULL AND revoked_at IS NULL
              AND expires_at > now()
            RETURNING jti
            """,
            claims.refresh_id,
            claims.user_id,
        )
        if spent is not None:
            pair = await _issue(conn, settings, claims.user_id, claims.family)
        else:
            revoked = await conn.execute(
                "UPDATE refresh_token SET revoked_at = now() "
                "WHERE family = $1 AND revoked_at IS NULL",
                claims.family,
            )
    if spent is not None:
        return pair
    log.warning(
        "refresh token of user %s used again: its family is revoked (%s)",
        claims.user_id,
        revoked,
    )
    raise Unauthorized(
        "this refresh token was already used or revoked; every session of this login is "
        "signed out: log in again",
        code="refresh_reused",
    )


async def purge_refresh_tokens() -> int:
    """Forget refresh tokens a day past their expiry; called at start-up."""
    async with engine().transaction() as txn:
        result: str = await txn.connection.execute(
            "DELETE FROM refresh_token WHERE expires_at < now() - interval '1 day'"
        )
    return int(result.split()[-1])


async def _check_scope_exists(conn: asyncpg.Connection, new: UserCreate) -> None:
    if new.role in STREET_SCOPED and new.street is None:
        raise InvalidInput(f"role {new.role.value} needs a street", field="street")
    if new.role in COMMUNITY_SCOPED and new.community is None:
        raise InvalidInput(f"role {new.role.value} needs a community", field="community")
    if new.role in DISTRICT_WIDE | COMMUNITY_SCOPED and new.street is not None:
        raise InvalidInput(f"role {new.role.value} takes no street", field="street")
    if new.role in DISTRICT_WIDE | STREET_SCOPED and new.community is not None:
        raise InvalidInput(f"role {new.role.value} takes no community", field="community")
    if new.street:
        await places.street(conn, new.street)
    if new.community:
        await places.community(conn, new.community)
    if new.person is not None:
        if not await conn.fetchval("SELECT 1 FROM person WHERE id=$1 AND active", new.person):
            raise InvalidInput(f"unknown or inactive person {new.person}", field="person")
        if await conn.fetchval("SELECT 1 FROM app_user WHERE person_id=$1", new.person):
            raise Conflict(f"person {new.person} already has an account", field="person")


def _public(view: UserView) -> dict[str, Any]:
    return {
        "username": view.username,
        "role": view.role.value,
        "street": view.street,
        "community": view.community,
        "disabled": view.disabled,
        "person": view.person_id,
    }


async def create_user(ctx: Context, new: UserCreate) -> UserView:
    authorize(ctx.actor, "users.manage")
    password_hash = await asyncio.to_thread(hasher().hash, new.password)
    async with command(ctx) as cmd:
        await _check_scope_exists(cmd.connection, new)
        if await cmd.connection.fetchval(
            "SELECT 1 FROM app_user WHERE username = $1", new.username
        ):
            raise Conflict(f"username {new.username} is taken", field="username")
        row = await cmd.connection.fetchrow(
            f"""
            INSERT INTO app_user
                (username, display_name, password_hash, role, street, community, created_at,
                 person_id)
            VALUES ($1, $2, $3, $4, $5, $6, $7, $8) RETURNING {USER_COLUMNS}
            """,
            new.username,
            new.display_name or new.username,
            password_hash,
            new.role.value,
            new.street,
            new.community,
            cmd.now,
            new.person,
        )
        view = _user_view(row)
        await cmd.audit("users.create", "user", view.id, None, _public(view))
        cmd.emit("user.created", {"id": view.id, "username": view.username})
    return view


async def disable_user(ctx: Context, user_id: int) -> UserView:
    authorize(ctx.actor, "users.manage")
    if user_id == ctx.actor.user_id:
        raise Conflict("you cannot disable your own account", field="user_id")
    async with command(ctx) as cmd:
        row = await cmd.connection.fetchrow(
            f"SELECT {USER_COLUMNS} FROM app_user WHERE id = $1 FOR UPDATE", user_id
        )
        if row is None:
            raise NotFound(f"no user {user_id}", field="user_id")
        before = _user_view(row)
        if before.disabled:
            return before
        row = await cmd.connection.fetchrow(
            f"UPDATE app_user SET disabled = true WHERE id = $1 RETURNING {USER_COLUMNS}", user_id
        )
        after = _user_view(row)
        await cmd.audit("users.disable", "user", user_id, _public(before), _public(after))
    return after


async def find_user_id(ctx: Context, username: str) -> int:
    authorize(ctx.actor, "users.read")
    async with query(ctx) as conn:
        user_id = await conn.fetchval("SELECT id FROM app_user WHERE username = $1", username)
    if user_id is None:
        raise NotFound(f"no user {username}", field="username")
    return int(user_id)


async def list_users(ctx: Context) -> list[UserView]:
    authorize(ctx.actor, "users.read")
    async with query(ctx) as conn:
        rows = await conn.fetch(f"SELECT {USER_COLUMNS} FROM app_user ORDER BY id")
    return [_user_view(r) for r in rows]


def own_view(actor: Actor) -> dict[str, Any]:
    return {
        "id": actor.user_id,
        "username": actor.username,
        "role": actor.role.value,
        "street": actor.street,
        "community": actor.community,
        "person_id": actor.person_id,
    }


@dataclass(frozen=True)
class AuditFilter:
    actor: str | None = None
    action: str | None = None
    entity: str | None = None
    entity_id: str | None = None
    since: datetime | None = None
    until: datetime | None = None
    limit: int = 100
    before_id: int | None = None


def _json(value: str | None) -> dict[str, Any] | None:
    return None if value is None else dict(json.loads(value))


async def search_audit(ctx: Context, flt: AuditFilter) -> list[AuditView]:
    """Newest first; page with `before_id`."""
    authorize(ctx.actor, "audit.read")
    clauses: list[str] = ["TRUE"]
    args: list[Any] = []
    text_filters: tuple[tuple[str, str | None], ...] = (
        ("actor", flt.actor),
        ("action", flt.action),
        ("entity", flt.entity),
        ("entity_id", flt.entity_id),
    )
    for column, value in text_filters:
        if value is not None:
            args.append(value)
            clauses.append(f"{column} = ${len(args)}")
    for op, moment in ((">=", flt.since), ("<", flt.until)):
        if moment is not None:
            args.append(moment if moment.tzinfo else moment.replace(tzinfo=SHANGHAI))
            clauses.append(f"at {op} ${len(args)}")
    if flt.before_id is not None:
        args.append(flt.before_id)
        clauses.append(f"id < ${len(args)}")
    args.append(flt.limit)
    sql = (
        f"SELECT * FROM audit_entry WHERE {' AND '.join(clauses)} "
        f"ORDER BY id DESC LIMIT ${len(args)}"
    )
    async with query(ctx) as conn:
        rows = await conn.fetch(sql, *args)
    return [
        AuditView(
            id=r["id"],
            at=local(r["at"]) or r["at"],
            actor=r["actor"],
            actor_id=r["actor_id"],
            role=r["role"],
            action=r["action"],
            entity=r["entity"],
            entity_id=r["entity_id"],
            before=_json(r["before"]),
            after=_json(r["after"]),
        )
        for r in rows
    ]
