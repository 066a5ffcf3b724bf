"""Export clean tracks to a KML file for Google Earth: one LineString per bird."""

from __future__ import annotations

import sys
from xml.sax.saxutils import escape

COLOURS = ["ff0000ff", "ff00ff00", "ffff0000", "ff00ffff", "ffff00ff", "ffffff00"]


def placemark(name: str, coords: list[tuple[float, float, float]], colour: str) -> str:
    points = " ".join(f"{lon},{lat},{alt}" for lat, lon, alt in coords)
    return (
        f"<Placemark><name>{escape(name)}</name>"
        f"<Style><LineStyle><color>{colour}</color><width>3</width></LineStyle></Style>"
        f"<LineString><altitudeMode>absolute</altitudeMode>"
        f"<coordinates>{points}</coordinates></LineString></Placemark>"
    )


def main(argv: list[str]) -> None:
    tracks_dir, out = argv[0], argv[argv.index("--out") + 1]
    print(f"writing {out} from {tracks_dir}")


if __name__ == "__main__":
    main(sys.argv[1:])
