"""Read raw tag exports into clean tracks."""

from __future__ import annotations

import csv
from dataclasses import dataclass
from datetime import datetime

MAX_HDOP = 5.0


@dataclass
class Fix:
    tag_id: str
    time: datetime
    lat: float
    lon: float
    altitude_m: float
    battery_v: float


def valid_position(lat: float, lon: float) -> bool:
    """Reject fixes outside the WGS84 range and the (0, 0) position a tag reports
    before it has a satellite lock."""
    if not (-90.0 <= lat <= 90.0 and -180.0 <= lon <= 180.0):
        return False
    return not (lat == 0.0 and lon == 0.0)


def read_fixes(path: str) -> list[Fix]:
    """Parse data/fixes.csv, dropping unreliable fixes (hdop above MAX_HDOP)."""
    fixes = []
    with open(path, newline="") as f:
        for row in csv.DictReader(f):
            if float(row["hdop"]) > MAX_HDOP:
                continue
            lat, lon = float(row["lat"]), float(row["lon"])
            if not valid_position(lat, lon):
                continue
            fixes.append(
                Fix(
                    row["tag_id"],
                    datetime.fromisoformat(row["timestamp"]),
                    lat,
                    lon,
                    float(row["altitude_m"]),
                    float(row["battery_v"]),
                )
            )
    fixes.sort(key=lambda fx: (fx.tag_id, fx.time))
    return fixes
