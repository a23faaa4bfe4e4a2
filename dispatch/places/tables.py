"""Places as stored. Official codes are the keys: they are what people and files use."""

from piccolo.columns import BigInt, Boolean, DoublePrecision, Integer, Serial, Timestamptz, Varchar
from piccolo.table import Table


class District(Table, tablename="district"):
    code = Varchar(length=6, primary_key=True)
    name = Varchar(length=50)
    lat = DoublePrecision()
    lon = DoublePrecision()


class Located:
    """Where a street or a community is: WGS-84 as stored, GCJ-02 as the source gave it
    (Chinese maps' datum), and which source (Piccolo copies these columns per table)."""

    lat = DoublePrecision()
    lon = DoublePrecision()
    lat_gcj02 = DoublePrecision(null=True)
    lon_gcj02 = DoublePrecision(null=True)
    coord_source = Varchar(length=40)


class Street(Table, Located, tablename="street"):
    code = Varchar(length=9, primary_key=True)
    name = Varchar(length=50)
    district = Varchar(length=6)


class Community(Table, Located, tablename="community"):
    code = Varchar(length=12, primary_key=True)
    name = Varchar(length=50)
    official_name = Varchar(length=80)
    street = Varchar(length=9)
    district = Varchar(length=6)
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


class RoadNetworkRecord(Table, tablename="road_network"):
    """One loaded road network; exactly one is active and used for routing."""

    id = Serial(primary_key=True)
    name = Varchar(length=100)
    source = Varchar(length=300)
    synthetic = Boolean()
    graph_id = Varchar(length=32)
    nodes = Integer()
    edges = Integer()
    active = Boolean(default=False)
    loaded_at = Timestamptz()


class RoadNode(Table, tablename="road_node"):
    network = Integer(primary_key=True)
    id = BigInt()
    lat = DoublePrecision()
    lon = DoublePrecision()


class RoadEdge(Table, tablename="road_edge"):
    network = Integer(primary_key=True)
    u = BigInt()
    v = BigInt()
    length_m = DoublePrecision()
    road_class = Varchar(length=20)
    speed_kmh = DoublePrecision()
    oneway = Boolean()
    max_vehicle = Varchar(length=20, null=True)
