"""Incidents, their closures and outages, supply requests and field tasks."""

from piccolo.columns import (
    JSONB,
    Array,
    BigInt,
    BigSerial,
    Boolean,
    DoublePrecision,
    Integer,
    Real,
    Timestamptz,
    Varchar,
)
from piccolo.table import Table


class Incident(Table, tablename="incident"):
    id = BigSerial(primary_key=True)
    type = Varchar(length=20)
    level = Varchar(length=3)
    title = Varchar(length=200)
    status = Varchar(length=12)
    declared_at = Timestamptz()
    responding_at = Timestamptz(null=True, default=None)
    stood_down_at = Timestamptz(null=True, default=None)
    closed_at = Timestamptz(null=True, default=None)
    declared_by = Varchar(length=64)
    summary = JSONB(null=True)


class IncidentCommunity(Table, tablename="incident_community"):
    incident = BigInt(primary_key=True)
    community = Varchar(length=12)
    street = Varchar(length=9)


class RoadClosure(Table, tablename="road_closure"):
    id = BigSerial(primary_key=True)
    incident = BigInt(null=True)
    kind = Varchar(length=6)
    lat = DoublePrecision(null=True)
    lon = DoublePrecision(null=True)
    radius_m = DoublePrecision(null=True)
    u = BigInt(null=True)
    v = BigInt(null=True)
    note = Varchar(length=300, null=True)
    closed_at = Timestamptz()
    opened_at = Timestamptz(null=True, default=None)


class DepotOutage(Table, tablename="depot_outage"):
    id = BigSerial(primary_key=True)
    incident = BigInt(null=True)
    depot = Varchar(length=16)
    reason = Varchar(length=300, null=True)
    out_at = Timestamptz()
    back_at = Timestamptz(null=True, default=None)


class SupplyRequest(Table, tablename="supply_request"):
    id = BigSerial(primary_key=True)
    incident = BigInt()
    community = Varchar(length=12)
    street = Varchar(length=9)
    item = Varchar(length=20)
    quantity = Integer()
    priority = Varchar(length=8)
    need_by = Timestamptz(null=True, default=None)
    source = Varchar(length=10)
    note = Varchar(length=500, null=True)
    status = Varchar(length=20)
    planned_qty = Integer(default=0)
    delivered_qty = Integer(default=0)
    unmet_reason = Varchar(length=300, null=True)
    created_at = Timestamptz()
    created_by = Varchar(length=64)
    fulfilled_at = Timestamptz(null=True, default=None)
    shelter_id = Integer(null=True, default=None)  # a shelter's request (安置点)


class Task(Table, tablename="task"):
    id = BigSerial(primary_key=True)
    incident = BigInt()
    kind = Varchar(length=20)
    community = Varchar(length=12)
    street = Varchar(length=9)
    people_needed = Integer()
    skills = Array(base_column=Varchar(length=40))
    minutes = Integer()
    status = Varchar(length=12)
    version = Integer(default=1)
    transfer_id = BigInt(null=True)
    request_id = BigInt(null=True)
    plan_line = BigInt(null=True)
    route = JSONB(null=True)
    households = Array(base_column=Integer())
    households_checked = Integer(default=0)
    delivered_qty = Integer(null=True)
    failed_reason = Varchar(length=500, null=True)
    note = Varchar(length=500, null=True)
    created_at = Timestamptz()
    assigned_at = Timestamptz(null=True, default=None)
    accepted_at = Timestamptz(null=True, default=None)
    en_route_at = Timestamptz(null=True, default=None)
    finished_at = Timestamptz(null=True, default=None)
    concurrent = Boolean(default=False)  # its people may be on other tasks at the same time
    vehicle_id = BigInt(null=True, default=None)  # a run task: the vehicle that drives it
    shelter_id = Integer(null=True, default=None)  # an evacuation: where its people are taken
    depot = Varchar(length=16, null=True, default=None)  # a run task: where it loads
    shelter_id = Integer(null=True, default=None)  # an evacuation: where its people are taken


class TaskStop(Table, tablename="task_stop"):
    """A run task's stop: a community to unload at, in driving order, and its receipt."""

    id = BigSerial(primary_key=True)
    task = BigInt()
    seq = Integer()
    trip = Integer()
    community = Varchar(length=12)
    street = Varchar(length=9)
    eta_at = Timestamptz()
    depart_at = Timestamptz()
    kg = DoublePrecision()
    m3 = DoublePrecision()
    status = Varchar(length=8, default="pending")
    receiver = Varchar(length=60, null=True, default=None)
    shortfall_reason = Varchar(length=500, null=True, default=None)
    done_at = Timestamptz(null=True, default=None)
    done_by = Varchar(length=64, null=True, default=None)
    unreachable = Varchar(length=20, null=True, default=None)  # a reroute could not reach it


class TaskAssignee(Table, tablename="task_assignee"):
    task = BigInt(primary_key=True)
    person = BigInt()
    assigned_at = Timestamptz()


class TaskProgress(Table, tablename="task_progress"):
    id = BigSerial(primary_key=True)
    task = BigInt()
    at = Timestamptz()
    actor = Varchar(length=64)
    event = Varchar(length=20)
    from_status = Varchar(length=12, null=True)
    to_status = Varchar(length=12, null=True)
    quantity = Integer(null=True)
    note = Varchar(length=500, null=True)


class TaskPosition(Table, tablename="task_position"):
    """Where a task on its way was seen (append-only): the squad's GPS fixes, in WGS-84,
    with where on the task's route each one puts it."""

    id = BigSerial(primary_key=True)
    task = BigInt()
    at = Timestamptz()
    lat = DoublePrecision()
    lon = DoublePrecision()
    accuracy_m = Real(null=True)
    next_node = Integer(null=True)
    off_route_m = Real(null=True)
    recorded_at = Timestamptz()
    recorded_by = Varchar(length=64)


INCIDENT_TABLES = [
    Incident,
    IncidentCommunity,
    RoadClosure,
    DepotOutage,
    SupplyRequest,
    Task,
    TaskStop,
    TaskAssignee,
    TaskProgress,
    TaskPosition,
]
