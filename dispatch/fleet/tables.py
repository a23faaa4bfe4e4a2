"""The fleet as stored: vehicles per depot and the people who crew them.

A person crews at most one vehicle (unique `person_id`), so no plan counts one driver twice.
"""

from piccolo.columns import (
    BigInt,
    BigSerial,
    DoublePrecision,
    Integer,
    Time,
    Timestamptz,
    Varchar,
)
from piccolo.table import Table


class Vehicle(Table, tablename="vehicle"):
    id = BigSerial(primary_key=True)
    code = Varchar(length=20, unique=True)
    depot = Varchar(length=16)
    kind = Varchar(length=30)
    lane_class = Varchar(length=10)
    name = Varchar(length=60, null=True, default=None)
    payload_kg = DoublePrecision()
    volume_m3 = DoublePrecision()
    crew_needed = Integer()
    status = Varchar(length=12, default="available")
    shift_start = Time(null=True, default=None)
    shift_end = Time(null=True, default=None)
    note = Varchar(length=500, null=True, default=None)
    source = Varchar(length=10)
    created_at = Timestamptz()
    updated_at = Timestamptz(null=True, default=None)
    retired_at = Timestamptz(null=True, default=None)


class VehicleCrew(Table, tablename="vehicle_crew"):
    id = BigSerial(primary_key=True)
    vehicle_id = BigInt()
    person_id = Integer()
    role = Varchar(length=8)
    assigned_at = Timestamptz()


FLEET_TABLES = [Vehicle, VehicleCrew]
