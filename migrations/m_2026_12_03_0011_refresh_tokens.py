"""Refresh tokens: each one is used once (rotation); a second use revokes its whole family."""

from piccolo.apps.migrations.auto.migration_manager import MigrationManager

from dispatch.db import sql_migration

ID = "2026-12-03T00:00:11:000000"
VERSION = "1.38.0"
DESCRIPTION = "refresh tokens: rotation and reuse detection"

SQL = """
CREATE TABLE refresh_token (
    jti varchar(32) PRIMARY KEY,
    family varchar(32) NOT NULL,
    user_id integer NOT NULL REFERENCES app_user(id),
    issued_at timestamptz NOT NULL,
    expires_at timestamptz NOT NULL,
    used_at timestamptz,
    revoked_at timestamptz
);
CREATE INDEX refresh_token_family ON refresh_token (family);
CREATE INDEX refresh_token_expires ON refresh_token (expires_at);
"""


async def forwards() -> MigrationManager:
    return sql_migration(ID, DESCRIPTION, SQL)
