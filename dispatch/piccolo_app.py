"""The single Piccolo app `dispatch`; its migrations live in the top-level `migrations/`."""

from pathlib import Path

from piccolo.conf.apps import AppConfig

from dispatch.accounts.tables import AppUser, LoginFailure
from dispatch.audit import AuditEntry
from dispatch.idempotency import IdempotencyRecord
from dispatch.places.tables import Community, Depot, District, Street

MIGRATIONS = Path(__file__).resolve().parent.parent / "migrations"

APP_CONFIG = AppConfig(
    app_name="dispatch",
    migrations_folder_path=str(MIGRATIONS),
    table_classes=[
        District,
        Street,
        Community,
        Depot,
        AppUser,
        LoginFailure,
        AuditEntry,
        IdempotencyRecord,
    ],
    migration_dependencies=[],
    commands=[],
)
