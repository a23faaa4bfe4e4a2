"""Coordinate systems used around Beijing: WGS-84, GCJ-02 and BD-09.

The project stores WGS-84. Chinese map tiles and geocoders (AMap, Tencent) use
GCJ-02, an obfuscated datum whose published forward transform shifts points by
a few hundred metres; Baidu adds a further BD-09 shift. Data arriving in those
systems is converted here, once, at the edge of the system.

The GCJ-02 inverse has no closed form, so ``gcj02_to_wgs84`` inverts the forward
transform by fixed-point iteration; it converges to well under a millimetre
within a few steps around Beijing.
"""

from __future__ import annotations

import math

from geopy.distance import geodesic

__all__ = [
    "LatLon",
    "bd09_to_gcj02",
    "bd09_to_wgs84",
    "distance_m",
    "gcj02_to_bd09",
    "gcj02_to_wgs84",
    "out_of_china",
    "wgs84_to_bd09",
    "wgs84_to_gcj02",
]

LatLon = tuple[float, float]

_A = 6378245.0  # Krasovsky 1940 semi-major axis used by the GCJ-02 transform
_EE = 0.00669342162296594323  # its first eccentricity squared
_X_PI = math.pi * 3000.0 / 180.0
_INVERSE_TOLERANCE_DEG = 1e-10
_INVERSE_MAX_STEPS = 30


def out_of_china(lat: float, lon: float) -> bool:
    """True outside the rough China box where GCJ-02 applies no shift.

    The box is the conventional one used by every public implementation, so
    points abroad pass through the conversions unchanged, as map providers do.
    """
    return not (72.004 <= lon <= 137.8347 and 0.8293 <= lat <= 55.8271)


def _shift_lat(x: float, y: float) -> float:
    ret = -100.0 + 2.0 * x + 3.0 * y + 0.2 * y * y + 0.1 * x * y + 0.2 * math.sqrt(abs(x))
    ret += (20.0 * math.sin(6.0 * x * math.pi) + 20.0 * math.sin(2.0 * x * math.pi)) * 2.0 / 3.0
    ret += (20.0 * math.sin(y * math.pi) + 40.0 * math.sin(y / 3.0 * math.pi)) * 2.0 / 3.0
    ret += (160.0 * math.sin(y / 12.0 * math.pi) + 320.0 * math.sin(y * math.pi / 30.0)) * 2.0 / 3.0
    return ret


def _shift_lon(x: float, y: float) -> float:
    ret = 300.0 + x + 2.0 * y + 0.1 * x * x + 0.1 * x * y + 0.1 * math.sqrt(abs(x))
    ret += (20.0 * math.sin(6.0 * x * math.pi) + 20.0 * math.sin(2.0 * x * math.pi)) * 2.0 / 3.0
    ret += (20.0 * math.sin(x * math.pi) + 40.0 * math.sin(x / 3.0 * math.pi)) * 2.0 / 3.0
    ret += (150.0 * math.sin(x / 12.0 * math.pi) + 300.0 * math.sin(x / 30.0 * math.pi)) * 2.0 / 3.0
    return ret


def _gcj02_offset(lat: float, lon: float) -> LatLon:
    """The (dlat, dlon) in degrees that GCJ-02 adds to a WGS-84 point."""
    dlat = _shift_lat(lon - 105.0, lat - 35.0)
    dlon = _shift_lon(lon - 105.0, lat - 35.0)
    rad_lat = lat / 180.0 * math.pi
    magic = 1.0 - _EE * math.sin(rad_lat) ** 2
    sqrt_magic = math.sqrt(magic)
    dlat = (dlat * 180.0) / ((_A * (1.0 - _EE)) / (magic * sqrt_magic) * math.pi)
    dlon = (dlon * 180.0) / (_A / sqrt_magic * math.cos(rad_lat) * math.pi)
    return dlat, dlon


def wgs84_to_gcj02(lat: float, lon: float) -> LatLon:
    """Convert a WGS-84 point to GCJ-02 (the published forward transform).

    Examples
    --------
    >>> lat, lon = wgs84_to_gcj02(39.9163, 116.3972)  # Tiananmen, as a GCJ-02 map shows it
    >>> round(lat, 4), round(lon, 4)
    (39.9177, 116.4034)
    >>> wgs84_to_gcj02(48.8584, 2.2945)  # abroad: unchanged
    (48.8584, 2.2945)
    """
    if out_of_china(lat, lon):
        return lat, lon
    dlat, dlon = _gcj02_offset(lat, lon)
    return lat + dlat, lon + dlon


def gcj02_to_wgs84(lat: float, lon: float) -> LatLon:
    """Convert a GCJ-02 point to WGS-84 by iterating the forward transform.

    Each step moves the estimate by the residual of the forward transform; the
    offset field is smooth, so the error shrinks by orders of magnitude per step.

    Examples
    --------
    >>> lat, lon = gcj02_to_wgs84(*wgs84_to_gcj02(39.9163, 116.3972))
    >>> round(lat, 7), round(lon, 7)
    (39.9163, 116.3972)
    """
    if out_of_china(lat, lon):
        return lat, lon
    dlat, dlon = _gcj02_offset(lat, lon)
    w_lat, w_lon = lat - dlat, lon - dlon
    for _ in range(_INVERSE_MAX_STEPS):
        g_lat, g_lon = wgs84_to_gcj02(w_lat, w_lon)
        err_lat, err_lon = g_lat - lat, g_lon - lon
        w_lat, w_lon = w_lat - err_lat, w_lon - err_lon
        if max(abs(err_lat), abs(err_lon)) < _INVERSE_TOLERANCE_DEG:
            break
    return w_lat, w_lon


def gcj02_to_bd09(lat: float, lon: float) -> LatLon:
    """Convert GCJ-02 to Baidu's BD-09 (Baidu's published formula)."""
    z = math.hypot(lon, lat) + 0.00002 * math.sin(lat * _X_PI)
    theta = math.atan2(lat, lon) + 0.000003 * math.cos(lon * _X_PI)
    return z * math.sin(theta) + 0.006, z * math.cos(theta) + 0.0065


def bd09_to_gcj02(lat: float, lon: float) -> LatLon:
    """Convert Baidu's BD-09 back to GCJ-02 (Baidu's published inverse, ~1e-6 deg)."""
    x, y = lon - 0.0065, lat - 0.006
    z = math.hypot(x, y) - 0.00002 * math.sin(y * _X_PI)
    theta = math.atan2(y, x) - 0.000003 * math.cos(x * _X_PI)
    return z * math.sin(theta), z * math.cos(theta)


def wgs84_to_bd09(lat: float, lon: float) -> LatLon:
    """Convert WGS-84 to BD-09 through GCJ-02."""
    return gcj02_to_bd09(*wgs84_to_gcj02(lat, lon))


def bd09_to_wgs84(lat: float, lon: float) -> LatLon:
    """Convert BD-09 to WGS-84 through GCJ-02."""
    return gcj02_to_wgs84(*bd09_to_gcj02(lat, lon))


def distance_m(a: LatLon, b: LatLon) -> float:
    """Geodesic (WGS-84 ellipsoid) distance in metres between two (lat, lon) points.

    Examples
    --------
    >>> round(distance_m((39.9163, 116.3972), (39.9177, 116.4034)))
    552
    """
    return float(geodesic(a, b).meters)
