"""Access and refresh tokens: short-lived JWTs, checked for algorithm, expiry, issuer, audience."""

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


def _issue(secret: str, user_id: int, kind: str, lifetime: timedelta) -> str:
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
    }
    return jwt.encode(claims, secret, algorithm=ALGORITHM)


def issue_pair(secret: str, user_id: int, access_minutes: int, refresh_days: int) -> TokenPair:
    return TokenPair(
        access_token=_issue(secret, user_id, "access", timedelta(minutes=access_minutes)),
        refresh_token=_issue(secret, user_id, "refresh", timedelta(days=refresh_days)),
        expires_in=access_minutes * 60,
    )


def read_token(secret: str, token: str, kind: str) -> int:
    """The user id in a valid token of this kind; anything else is 401."""
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
    try:
        return int(claims["sub"])
    except (TypeError, ValueError) as exc:
        raise Unauthorized("invalid token subject") from exc
