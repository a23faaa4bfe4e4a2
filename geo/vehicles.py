"""Road classes, their default speeds, and vehicles: which lanes a vehicle fits."""

from __future__ import annotations

import math
from dataclasses import dataclass

__all__ = [
    "ARTERIAL_HIGHWAYS",
    "COLLECTOR_HIGHWAYS",
    "DEFAULT_SPEED_KMH",
    "HIGHWAY_FOR_CLASS",
    "NON_MOTOR_HIGHWAYS",
    "ROAD_CLASSES",
    "VEHICLE_WIDTH_M",
    "Vehicle",
    "max_width_m",
    "vehicle_allowed",
]

ROAD_CLASSES = ("arterial", "collector", "hutong")
DEFAULT_SPEED_KMH = {"arterial": 40.0, "collector": 30.0, "hutong": 15.0}
# Vehicle classes by typical width; a lane's ``max_vehicle`` class allows that
# class and every narrower one.
VEHICLE_WIDTH_M: dict[str, float] = {"tricycle": 1.2, "car": 1.8, "van": 2.2, "truck": 2.6}

ARTERIAL_HIGHWAYS = {
    "motorway",
    "motorway_link",
    "trunk",
    "trunk_link",
    "primary",
    "primary_link",
    "secondary",
    "secondary_link",
}
COLLECTOR_HIGHWAYS = {"tertiary", "tertiary_link", "unclassified", "residential"}
NON_MOTOR_HIGHWAYS = {"footway", "path", "pedestrian", "cycleway", "steps", "bridleway"}
HIGHWAY_FOR_CLASS = {"arterial": "primary", "collector": "tertiary", "hutong": "living_street"}


@dataclass(frozen=True)
class Vehicle:
    """A routing profile: which lanes the vehicle fits and how fast it may go."""

    kind: str = "van"
    speed_kmh: float = 25.0

    @property
    def width_m(self) -> float:
        return VEHICLE_WIDTH_M[self.kind]


def max_width_m(max_vehicle: str | float | None) -> float:
    """The widest vehicle (metres) a lane admits; ``inf`` when unrestricted."""
    if max_vehicle is None or max_vehicle == "":
        return math.inf
    if isinstance(max_vehicle, int | float):
        return float(max_vehicle)
    if max_vehicle in VEHICLE_WIDTH_M:
        return VEHICLE_WIDTH_M[max_vehicle]
    return float(max_vehicle)


def vehicle_allowed(max_vehicle: str | float | None, vehicle: Vehicle) -> bool:
    """Whether a vehicle may use a lane with this ``max_vehicle`` restriction."""
    return vehicle.width_m <= max_width_m(max_vehicle)
