"""Distances and map cells for the inventory location search (no I/O)."""

from __future__ import annotations

import math
from decimal import Decimal

from velocity_domain.kernel.query import Filter, Range

__all__ = ["EARTH_RADIUS_KM", "MAX_RADIUS_KM", "bounding_boxes", "geohash", "haversine_km"]

EARTH_RADIUS_KM = 6371.0088
_KM_PER_DEGREE = math.pi * EARTH_RADIUS_KM / 180
MAX_RADIUS_KM = math.pi * EARTH_RADIUS_KM
_GEOHASH_BASE32 = "0123456789bcdefghjkmnpqrstuvwxyz"
_GEOHASH_PRECISION = 9


def geohash(latitude: float, longitude: float, precision: int = _GEOHASH_PRECISION) -> str:
    """Return the geohash of a point.

    >>> geohash(57.64911, 10.40744, 11)
    'u4pruydqqvj'
    """
    lat, lon = [-90.0, 90.0], [-180.0, 180.0]
    chars: list[str] = []
    bits = bit = 0
    even = True
    while len(chars) < precision:
        span, value = (lon, longitude) if even else (lat, latitude)
        mid = (span[0] + span[1]) / 2
        bits <<= 1
        if value >= mid:
            bits |= 1
            span[0] = mid
        else:
            span[1] = mid
        even = not even
        bit += 1
        if bit == 5:
            chars.append(_GEOHASH_BASE32[bits])
            bits = bit = 0
    return "".join(chars)


def haversine_km(lat1: float, lon1: float, lat2: float, lon2: float) -> float:
    """Return the great-circle distance in kilometres between two points.

    >>> round(haversine_km(0, 0, 0, 1), 3)
    111.195
    """
    p1, p2 = math.radians(lat1), math.radians(lat2)
    dp, dl = p2 - p1, math.radians(lon2 - lon1)
    a = math.sin(dp / 2) ** 2 + math.cos(p1) * math.cos(p2) * math.sin(dl / 2) ** 2
    return 2 * EARTH_RADIUS_KM * math.asin(min(1.0, math.sqrt(a)))


def bounding_boxes(lat: float, lon: float, radius_km: float) -> list[tuple[Filter, ...]]:
    """Latitude/longitude Range filters that hold every point within ``radius_km``."""
    dlat = radius_km / _KM_PER_DEGREE + 1e-9  # a hair wider, so float rounding loses nothing
    low, high = lat - dlat, lat + dlat
    latitude = Range(
        "latitude", gte=Decimal(repr(max(low, -90.0))), lte=Decimal(repr(min(high, 90.0)))
    )
    if low <= -90 or high >= 90:
        return [(latitude,)]
    dlon = math.degrees(
        math.asin(min(1.0, math.sin(math.radians(dlat)) / math.cos(math.radians(lat))))
    )
    dlon += 1e-9
    if dlon >= 180:
        return [(latitude,)]
    west, east = lon - dlon, lon + dlon
    boxes = [(max(west, -180.0), min(east, 180.0))]
    if west < -180:
        boxes.append((west + 360, 180.0))
    if east > 180:
        boxes.append((-180.0, east - 360))
    return [
        (latitude, Range("longitude", gte=Decimal(repr(w)), lte=Decimal(repr(e)))) for w, e in boxes
    ]
