"""Request and response bodies of accounts, login and the audit trail."""

from __future__ import annotations

from datetime import datetime
from typing import Annotated, Any

import msgspec

from dispatch.accounts.policy import Role
from dispatch.fields import CommunityCode, StreetCode

Username = Annotated[str, msgspec.Meta(min_length=3, max_length=64, pattern=r"^[A-Za-z0-9_.\-]+$")]
Password = Annotated[str, msgspec.Meta(min_length=1, max_length=200)]
NewPassword = Annotated[str, msgspec.Meta(min_length=8, max_length=200)]


class LoginRequest(msgspec.Struct, forbid_unknown_fields=True):
    username: Annotated[str, msgspec.Meta(min_length=1, max_length=64)]
    password: Password


class RefreshRequest(msgspec.Struct, forbid_unknown_fields=True):
    refresh_token: Annotated[str, msgspec.Meta(min_length=1, max_length=4000)]


class TokenResponse(msgspec.Struct):
    access_token: str
    refresh_token: str
    expires_in: int
    token_type: str = "bearer"


class UserCreate(msgspec.Struct, forbid_unknown_fields=True):
    username: Username
    password: NewPassword
    role: Role
    display_name: Annotated[str, msgspec.Meta(min_length=1, max_length=100)] | None = None
    street: StreetCode | None = None
    community: CommunityCode | None = None
    person: Annotated[int, msgspec.Meta(ge=1, le=2**31 - 1)] | None = None  # who this user is


class UserView(msgspec.Struct):
    id: int
    username: str
    display_name: str
    role: Role
    street: str | None
    community: str | None
    disabled: bool
    created_at: datetime
    person_id: int | None = None  # the person this user is: field roles work their own tasks


class AuditView(msgspec.Struct):
    id: int
    at: datetime
    actor: str
    actor_id: int | None
    role: str
    action: str
    entity: str
    entity_id: str | None
    before: dict[str, Any] | None
    after: dict[str, Any] | None
