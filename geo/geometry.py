"""Projection and plane geometry for the road network: local metres, polygons, segments."""

from __future__ import annotations

import math
from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any

import numpy as np
from numpy.typing import NDArray

__all__ = [
    "LocalProjection",
    "distance_to_ring_m",
    "point_in_polygon",
    "points_in_polygon",
    "segment_distance",
]

# ---------------------------------------------------------------------------
# Projection and geometry helpers
# ---------------------------------------------------------------------------


@dataclass(frozen=True)
class LocalProjection:
    """Equirectangular metres around a reference point.

    Good to a fraction of a percent over a city, which is all snapping and
    closure circles need; true distances use geodesics.
    """

    lat0: float
    lon0: float

    @property
    def m_per_deg_lat(self) -> float:
        phi = math.radians(self.lat0)
        return 111_132.954 - 559.822 * math.cos(2 * phi) + 1.175 * math.cos(4 * phi)

    @property
    def m_per_deg_lon(self) -> float:
        phi = math.radians(self.lat0)
        return 111_412.84 * math.cos(phi) - 93.5 * math.cos(3 * phi)

    def to_xy(
        self, lat: NDArray[np.float64] | float, lon: NDArray[np.float64] | float
    ) -> tuple[Any, Any]:
        return (
            (np.asarray(lon) - self.lon0) * self.m_per_deg_lon,
            (np.asarray(lat) - self.lat0) * self.m_per_deg_lat,
        )

    def to_latlon(self, x: float, y: float) -> tuple[float, float]:
        return self.lat0 + y / self.m_per_deg_lat, self.lon0 + x / self.m_per_deg_lon


def point_in_polygon(lat: float, lon: float, ring: Sequence[Sequence[float]]) -> bool:
    """Even-odd ray casting; ``ring`` is GeoJSON order ``[[lon, lat], ...]``."""
    inside = False
    n = len(ring)
    j = n - 1
    for i in range(n):
        xi, yi = ring[i][0], ring[i][1]
        xj, yj = ring[j][0], ring[j][1]
        if (yi > lat) != (yj > lat):
            x_cross = (xj - xi) * (lat - yi) / (yj - yi) + xi
            if lon < x_cross:
                inside = not inside
        j = i
    return inside


def points_in_polygon(
    lats: NDArray[np.float64], lons: NDArray[np.float64], ring: Sequence[Sequence[float]]
) -> NDArray[np.bool_]:
    """Vectorised :func:`point_in_polygon` (loops over the ring, not the points)."""
    inside = np.zeros(len(lats), dtype=bool)
    pts = np.asarray(ring, dtype=float)
    xi, yi = pts[:, 0], pts[:, 1]
    xj, yj = np.roll(xi, 1), np.roll(yi, 1)
    for k in range(len(pts)):
        crosses = (yi[k] > lats) != (yj[k] > lats)
        if not crosses.any():
            continue
        with np.errstate(divide="ignore", invalid="ignore"):
            x_cross = (xj[k] - xi[k]) * (lats - yi[k]) / (yj[k] - yi[k]) + xi[k]
        inside ^= crosses & (lons < x_cross)
    return inside


def distance_to_ring_m(
    x: NDArray[np.float64], y: NDArray[np.float64], ring_xy: NDArray[np.float64]
) -> NDArray[np.float64]:
    """Projected distance from each point to the nearest edge of a ring (metres)."""
    best = np.full(len(x), np.inf)
    for k in range(len(ring_xy) - 1):
        ax, ay = ring_xy[k]
        bx, by = ring_xy[k + 1]
        dx, dy = bx - ax, by - ay
        seg2 = dx * dx + dy * dy
        t = np.clip(((x - ax) * dx + (y - ay) * dy) / seg2, 0.0, 1.0) if seg2 > 0 else 0.0
        best = np.minimum(best, np.hypot(ax + t * dx - x, ay + t * dy - y))
    return best


def segment_distance(
    px: float, py: float, ax: Any, ay: Any, bx: Any, by: Any
) -> NDArray[np.float64]:
    """Distance from point P to each segment AB (vectorised over segments)."""
    dx, dy = bx - ax, by - ay
    seg2 = dx * dx + dy * dy
    with np.errstate(invalid="ignore", divide="ignore"):
        t = np.where(seg2 > 0, ((px - ax) * dx + (py - ay) * dy) / seg2, 0.0)
    t = np.clip(t, 0.0, 1.0)
    return np.asarray(np.hypot(ax + t * dx - px, ay + t * dy - py), dtype=np.float64)
