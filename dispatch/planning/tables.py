"""Plans as computed, with the fingerprint of their inputs, and their lines."""

from piccolo.columns import (
    JSONB,
    BigInt,
    BigSerial,
    Boolean,
    DoublePrecision,
    Integer,
    Timestamptz,
    Varchar,
)
from piccolo.table import Table


class Plan(Table, tablename="plan"):
    id = BigSerial(primary_key=True)
    incident = BigInt()
    policy = Varchar(length=10)
    emergency = Boolean()
    status = Varchar(length=12)
    fingerprint = Varchar(length=64)
    objective = DoublePrecision()
    runtime_ms = DoublePrecision()
    unmet = JSONB()
    created_at = Timestamptz()
    created_by = Varchar(length=64)
    decided_at = Timestamptz(null=True, default=None)
    decided_by = Varchar(length=64, null=True)
    decision_note = Varchar(length=500, null=True)
    runs = JSONB(null=True)


class PlanLine(Table, tablename="plan_line"):
    id = BigSerial(primary_key=True)
    plan = BigInt()
    request = BigInt()
    depot = Varchar(length=16)
    community = Varchar(length=12)
    item = Varchar(length=20)
    quantity = Integer()
    lots = JSONB()
    route = JSONB()
    length_m = DoublePrecision()
    travel_s = DoublePrecision()
    eta_s = DoublePrecision()
    explanation = Varchar(length=500)
    explained = JSONB(null=True)
    shelter_id = Integer(null=True, default=None)  # sent to a shelter of the community


PLANNING_TABLES = [Plan, PlanLine]
