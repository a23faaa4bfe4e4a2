"""Loading and saving road graphs (OSMnx GraphML and nodes/edges CSV layouts,
GeoJSON boundaries), and where the shipped Dongcheng files live.
"""

from __future__ import annotations

import ast
import csv
import json
import math
from collections.abc import Mapping
from pathlib import Path
from typing import Any

import networkx as nx

from geo.vehicles import (
    ARTERIAL_HIGHWAYS,
    COLLECTOR_HIGHWAYS,
    DEFAULT_SPEED_KMH,
    HIGHWAY_FOR_CLASS,
    NON_MOTOR_HIGHWAYS,
    ROAD_CLASSES,
    VEHICLE_WIDTH_M,
)

__all__ = [
    "DATA_DIR",
    "DONGCHENG_BOUNDARY",
    "DONGCHENG_EDGES_CSV",
    "DONGCHENG_NODES_CSV",
    "EDGE_COLUMNS",
    "load_boundary",
    "load_graphml",
    "load_osmnx_csv",
    "normalise_edge",
    "road_class_of",
    "save_graphml",
    "save_osmnx_csv",
    "to_digraph",
]

DATA_DIR = Path(__file__).resolve().parent / "data" / "dongcheng"
DONGCHENG_NODES_CSV = DATA_DIR / "roads_nodes.csv"
DONGCHENG_EDGES_CSV = DATA_DIR / "roads_edges.csv"
DONGCHENG_BOUNDARY = DATA_DIR / "boundary.geojson"


def load_boundary(path: Path = DONGCHENG_BOUNDARY) -> list[list[list[float]]]:
    """The outer rings of a GeoJSON (Multi)Polygon file, as ``[[lon, lat], ...]`` lists."""
    data = json.loads(path.read_text(encoding="utf-8"))
    features = data["features"] if data.get("type") == "FeatureCollection" else [data]
    rings: list[list[list[float]]] = []
    for feature in features:
        geometry = feature.get("geometry", feature)
        if geometry["type"] == "Polygon":
            rings.append(geometry["coordinates"][0])
        elif geometry["type"] == "MultiPolygon":
            rings.extend(polygon[0] for polygon in geometry["coordinates"])
    return rings


# ---------------------------------------------------------------------------
# Loading and saving (OSMnx layouts)
# ---------------------------------------------------------------------------


def _first(value: Any) -> Any:
    """OSMnx writes merged attributes as a list literal like "['30', '50']"."""
    if isinstance(value, str) and value.startswith("["):
        try:
            parsed = ast.literal_eval(value)
        except (ValueError, SyntaxError):
            return value
        return parsed[0] if parsed else None
    if isinstance(value, list):
        return value[0] if value else None
    return value


def _blank(value: Any) -> bool:
    return value is None or (isinstance(value, float) and math.isnan(value)) or value == ""


def _parse_bool(value: Any) -> bool:
    if isinstance(value, bool):
        return value
    return str(_first(value)).strip().lower() in {"true", "yes", "1", "-1"}


def _parse_speed(value: Any) -> float | None:
    value = _first(value)
    if _blank(value):
        return None
    if isinstance(value, int | float):
        return float(value)
    text = str(value).strip().lower()
    factor = 1.609344 if "mph" in text else 1.0
    digits = "".join(ch for ch in text if ch.isdigit() or ch == ".")
    return float(digits) * factor if digits else None


def road_class_of(highway: Any) -> str:
    """Map an OSM ``highway`` tag to the three classes the planner knows."""
    tag = str(_first(highway) or "").strip()
    if tag in ROAD_CLASSES:
        return tag
    if tag in ARTERIAL_HIGHWAYS:
        return "arterial"
    if tag in COLLECTOR_HIGHWAYS:
        return "collector"
    return "hutong"


def _parse_max_vehicle(value: Any) -> str | float | None:
    value = _first(value)
    if _blank(value):
        return None
    if isinstance(value, int | float):
        return float(value)
    text = str(value).strip()
    if text in VEHICLE_WIDTH_M:
        return text
    return _parse_speed(text)  # a width such as "2.5" or "2.5 m"


def normalise_edge(attrs: Mapping[str, Any]) -> dict[str, Any]:
    """Turn OSMnx-style edge attributes (strings or typed) into the graph schema."""
    road_class = attrs.get("road_class")
    highway = attrs.get("highway")
    road_class = road_class_of(road_class if not _blank(road_class) else highway)
    speed = _parse_speed(attrs.get("speed_kmh"))
    if speed is None:
        speed = _parse_speed(attrs.get("maxspeed"))
    if speed is None or speed <= 0:
        speed = DEFAULT_SPEED_KMH[road_class]
    length = attrs.get("length_m", attrs.get("length"))
    max_vehicle = _parse_max_vehicle(attrs.get("max_vehicle"))
    if max_vehicle is None:
        max_vehicle = _parse_max_vehicle(attrs.get("maxwidth"))
    if max_vehicle is None and str(_first(highway)) in NON_MOTOR_HIGHWAYS:
        max_vehicle = "tricycle"
    return {
        "length_m": float(_first(length)),
        "road_class": road_class,
        "speed_kmh": float(speed),
        "oneway": _parse_bool(attrs.get("oneway", False)),
        "max_vehicle": max_vehicle,
    }


def _edge_seconds(attrs: Mapping[str, Any]) -> float:
    return float(attrs["length_m"]) / (float(attrs["speed_kmh"]) / 3.6)


def to_digraph(graph: nx.Graph) -> nx.DiGraph:
    """Normalise any loaded graph to the schema, keeping the fastest parallel edge."""
    out = nx.DiGraph()
    for node, data in graph.nodes(data=True):
        lat = data.get("lat", data.get("y"))
        lon = data.get("lon", data.get("x"))
        out.add_node(int(node), lat=float(lat), lon=float(lon))
    for u, v, data in graph.edges(data=True):
        attrs = normalise_edge(data)
        u, v = int(u), int(v)
        if out.has_edge(u, v) and _edge_seconds(out.edges[u, v]) <= _edge_seconds(attrs):
            continue
        out.add_edge(u, v, **attrs)
    if not graph.is_directed():
        out.add_edges_from([(v, u, d) for u, v, d in list(out.edges(data=True))])
    return out


def load_graphml(path: Path | str) -> nx.DiGraph:
    """Load OSMnx GraphML (or networkx-written GraphML) into the graph schema."""
    return to_digraph(nx.read_graphml(path))


def save_graphml(graph: nx.DiGraph, path: Path | str) -> None:
    """Write GraphML in OSMnx's attribute names (a MultiDiGraph with y/x/length/highway)."""
    multi = nx.MultiDiGraph()
    for node, data in graph.nodes(data=True):
        multi.add_node(node, y=data["lat"], x=data["lon"])
    for u, v, data in graph.edges(data=True):
        multi.add_edge(u, v, key=0, **_osmnx_edge_row(data))
    nx.write_graphml(multi, path)


def _fmt_max_vehicle(value: str | float | None) -> str:
    if value is None:
        return ""
    return value if isinstance(value, str) else f"{float(value):g}"


def _osmnx_edge_row(data: Mapping[str, Any]) -> dict[str, str]:
    return {
        "length": f"{float(data['length_m']):.1f}",
        "highway": HIGHWAY_FOR_CLASS[data["road_class"]],
        "oneway": str(bool(data["oneway"])),
        "maxspeed": f"{float(data['speed_kmh']):g}",
        "road_class": data["road_class"],
        "max_vehicle": _fmt_max_vehicle(data.get("max_vehicle")),
    }


EDGE_COLUMNS = ("u", "v", "key", "length", "highway", "oneway", "maxspeed", "road_class")


def save_osmnx_csv(graph: nx.DiGraph, nodes_path: Path | str, edges_path: Path | str) -> None:
    """Write nodes (osmid,y,x) and edges (u,v,key,length,highway,...) CSVs, sorted."""
    with Path(nodes_path).open("w", encoding="utf-8", newline="") as fh:
        writer = csv.writer(fh, lineterminator="\n")
        writer.writerow(["osmid", "y", "x"])
        for node in sorted(graph.nodes):
            data = graph.nodes[node]
            writer.writerow([node, f"{data['lat']:.7f}", f"{data['lon']:.7f}"])
    with Path(edges_path).open("w", encoding="utf-8", newline="") as fh:
        writer = csv.writer(fh, lineterminator="\n")
        writer.writerow([*EDGE_COLUMNS, "max_vehicle"])
        for u, v in sorted(graph.edges):
            row = _osmnx_edge_row(graph.edges[u, v])
            writer.writerow([u, v, 0, *(row[c] for c in EDGE_COLUMNS[3:]), row["max_vehicle"]])


def load_osmnx_csv(nodes_path: Path | str, edges_path: Path | str) -> nx.DiGraph:
    """Load OSMnx-layout nodes/edges CSVs (extra columns ignored, parallel edges merged)."""
    multi = nx.MultiDiGraph()
    with Path(nodes_path).open(encoding="utf-8") as fh:
        for row in csv.DictReader(fh):
            multi.add_node(int(row["osmid"]), y=float(row["y"]), x=float(row["x"]))
    with Path(edges_path).open(encoding="utf-8") as fh:
        for row in csv.DictReader(fh):
            u, v = int(row.pop("u")), int(row.pop("v"))
            row.pop("key", None)
            multi.add_edge(u, v, **row)
    return to_digraph(multi)
