"""Places as stored. Official codes are the keys: they are what people and files use."""

from piccolo.columns import Boolean, DoublePrecision, Timestamptz, Varchar
from piccolo.table import Table


class District(Table, tablename="district"):
    code = Varchar(length=6, primary_key=True)
    name = Varchar(length=50)
    lat = DoublePrecision()
    lon = DoublePrecision()


class Street(Table, tablename="street"):
    code = Varchar(length=9, primary_key=True)
    name = Varchar(length=50)
    district = Varchar(length=6)
    lat = DoublePrecision()
    lon = DoublePrecision()
    lat_gcj02 = DoublePrecision(null=True)
    lon_gcj02 = DoublePrecision(null=True)
    coord_source = Varchar(length=40)


class Community(Table, tablename="community"):
    code = Varchar(length=12, primary_key=True)
    name = Varchar(length=50)
    official_name = Varchar(length=80)
    street = Varchar(length=9)
    district = Varchar(length=6)
    lat = DoublePrecision()
    lon = DoublePrecision()
    lat_gcj02 = DoublePrecision(null=True)
    lon_gcj02 = DoublePrecision(null=True)
    coord_source = Varchar(length=40)
    approximate = Boolean(default=False)
    updated_at = Timestamptz(null=True, default=None)


class Depot(Table, tablename="depot"):
    code = Varchar(length=16, primary_key=True)
    name = Varchar(length=80)
    kind = Varchar(length=20)
    district = Varchar(length=6)
    street = Varchar(length=9, null=True)
    community = Varchar(length=12, null=True)
    lat = DoublePrecision()
    lon = DoublePrecision()
