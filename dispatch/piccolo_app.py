"""The single Piccolo app `dispatch`; its migrations live in the top-level `migrations/`."""

from pathlib import Path

from piccolo.conf.apps import AppConfig

from dispatch.accounts.tables import AppUser, LoginFailure, RefreshToken
from dispatch.audit import AuditEntry
from dispatch.branches.tables import BRANCH_TABLES
from dispatch.exercises.tables import EXERCISE_TABLES
from dispatch.fleet.tables import FLEET_TABLES
from dispatch.hotline.tables import HOTLINE_TABLES
from dispatch.idempotency import IdempotencyRecord
from dispatch.incidents.tables import INCIDENT_TABLES
from dispatch.people.tables import PEOPLE_TABLES
from dispatch.places.tables import (
    Community,
    Depot,
    District,
    RoadEdge,
    RoadNetworkRecord,
    RoadNode,
    Street,
)
from dispatch.planning.tables import PLANNING_TABLES
from dispatch.preparedness.tables import PREPAREDNESS_TABLES
from dispatch.stock.tables import STOCK_TABLES

MIGRATIONS = Path(__file__).resolve().parent.parent / "migrations"

APP_CONFIG = AppConfig(
    app_name="dispatch",
    migrations_folder_path=str(MIGRATIONS),
    table_classes=[
        District,
        Street,
        Community,
        Depot,
        RoadNetworkRecord,
        RoadNode,
        RoadEdge,
        AppUser,
        LoginFailure,
        RefreshToken,
        AuditEntry,
        IdempotencyRecord,
        *PEOPLE_TABLES,
        *INCIDENT_TABLES,
        *PLANNING_TABLES,
        *STOCK_TABLES,
        *FLEET_TABLES,
        *BRANCH_TABLES,
        *HOTLINE_TABLES,
        *EXERCISE_TABLES,
        *PREPAREDNESS_TABLES,
    ],
    migration_dependencies=[],
    commands=[],
)
