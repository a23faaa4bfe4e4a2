"""Access and refresh tokens: short-lived JWTs, checked for algorithm, expiry, issuer, audience.

A refresh token also carries its family (the login it descends from); the service keeps
each one to be used once (dispatch/accounts/service.py `refresh`)."""

from __future__ import annotations

import uuid
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from typing import Any

import jwt

from dispatch.errors import Unauthorized

ALGORITHM = "HS256"
ISSUER = "dongcheng-dispatch"
AUDIENCE = "dispatch-api"
REQUIRED = ["exp", "iat", "iss", "aud", "sub", "typ"]


@dataclass(frozen=True)
class TokenPair:
    access_token: str
    refresh_token: str
    expires_in: int
    refresh_id: str  # the refresh token's `jti`, kept to allow it to be used once
    family: str  # the login it descends from: one reuse revokes all of them
    refresh_expires: datetime


def _issue(secret: str, user_id: int, kind: str, lifetime: timedelta, **extra: str) -> str:
    # Token lifetimes are security, not domain time: they follow the real clock.
    now = datetime.now(UTC)
    claims = {
        "sub": str(user_id),
        "typ": kind,
        "iss": ISSUER,
        "aud": AUDIENCE,
        "iat": now,
        "exp": now + lifetime,
        "jti": uuid.uuid4().hex,
        **extra,
    }
    return jwt.encode(claims, secret, algorithm=ALGORITHM)


def issue_pair(
    secret: str, user_id: int, access_minutes: int, refresh_days: int, family: str | None = None
) -> TokenPair:
    """A new pair; a refresh continues its token's family, a login starts one."""
    family = family or uuid.uuid4().hex
    refresh_id = uuid.uuid4().hex
    lifetime = timedelta(days=refresh_days)
    return TokenPair(
        access_token=_issue(secret, user_id, "access", timedelta(minutes=access_minutes)),
        refresh_token=_issue(secret, user_id, "refresh", lifetime, jti=refresh_id, fam=family),
        expires_in=access_minutes * 60,
        refresh_id=refresh_id,
        family=family,
        refresh_expires=datetime.now(UTC) + lifetime,
    )


@dataclass(frozen=True)
class RefreshClaims:
    user_id: int
    refresh_id: str
    family: str


def read_refresh(secret: str, token: str) -> RefreshClaims:
    """The user, id and family of a valid refresh token; anything else is 401."""
    claims = _claims(secret, token, "refresh")
    refresh_id, family = claims.get("jti"), claims.get("fam")
    if not isinstance(refresh_id, str) or not isinstance(family, str):
        raise Unauthorized("a refresh token of an older kind: log in again")
    return RefreshClaims(_subject(claims), refresh_id, family)


def read_token(secret: str, token: str, kind: str) -> int:
    """The user id in a valid token of this kind; anything else is 401."""
    return _subject(_claims(secret, token, kind))


def _claims(secret: str, token: str, kind: str) -> dict[str, Any]:
    try:
        claims: dict[str, Any] = jwt.decode(
            token,
            secret,
            algorithms=[ALGORITHM],
            audience=AUDIENCE,
            issuer=ISSUER,
            options={"require": REQUIRED},
        )
    except jwt.ExpiredSignatureError as exc:
        raise Unauthorized("token expired") from exc
    except jwt.PyJWTError as exc:
        raise Unauthorized(f"invalid token: {exc}") from exc
    if claims.get("typ") != kind:
        raise Unauthorized(f"a {claims.get('typ')} token cannot be used as a {kind} token")
    return claims


def _subject(claims: dict[str, Any]) -> int:
    try:
        return int(claims["sub"])
    except (TypeError, ValueError) as exc:
        raise Unauthorized("invalid token subject") from exc
