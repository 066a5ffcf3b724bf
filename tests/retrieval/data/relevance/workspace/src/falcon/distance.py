"""Distances flown, from consecutive fixes."""

from __future__ import annotations

import itertools
import math
from collections import defaultdict
from datetime import date

from .parse import Fix

EARTH_RADIUS_KM = 6371.0


def haversine_km(lat1: float, lon1: float, lat2: float, lon2: float) -> float:
    """Great-circle distance between two points on the Earth, in kilometres."""
    p1, p2 = math.radians(lat1), math.radians(lat2)
    dp = p2 - p1
    dl = math.radians(lon2 - lon1)
    a = math.sin(dp / 2) ** 2 + math.cos(p1) * math.cos(p2) * math.sin(dl / 2) ** 2
    return 2 * EARTH_RADIUS_KM * math.asin(math.sqrt(a))


def daily_distance(fixes: list[Fix]) -> dict[tuple[str, date], float]:
    """Kilometres each tag covered per calendar day (UTC)."""
    out: dict[tuple[str, date], float] = defaultdict(float)
    for a, b in itertools.pairwise(fixes):
        if a.tag_id != b.tag_id:
            continue
        out[(b.tag_id, b.time.date())] += haversine_km(a.lat, a.lon, b.lat, b.lon)
    return dict(out)
