"""Projection to metres and nearest-node snapping (SciPy KD-tree on projected coordinates)."""

from __future__ import annotations

import numpy as np
from pyproj import CRS, Transformer
from scipy.spatial import cKDTree

from mobisim.errors import SnapError


def utm_crs(lat: float, lon: float) -> CRS:
    """The UTM coordinate system (WGS84 datum) of the zone containing a point.

    Parameters
    ----------
    lat, lon : float
        Point in degrees (WGS84).
    """
    zone = int((lon + 180.0) // 6.0) % 60 + 1
    return CRS.from_dict({"proj": "utm", "zone": zone, "south": lat < 0, "datum": "WGS84"})


class Projector:
    """Projects WGS84 degrees to UTM metres for one area (the zone of its centre point).

    Parameters
    ----------
    lat, lon : float
        Centre of the area in degrees; picks the UTM zone.
    """

    def __init__(self, lat: float, lon: float):
        self.crs = utm_crs(lat, lon)
        self._forward = Transformer.from_crs("EPSG:4326", self.crs, always_xy=True)

    def to_xy_m(self, lats, lons) -> tuple[np.ndarray, np.ndarray]:
        """Project degrees to (x_m, y_m) arrays in metres (easting, northing)."""
        x_m, y_m = self._forward.transform(np.asarray(lons, float), np.asarray(lats, float))
        return np.asarray(x_m, float), np.asarray(y_m, float)


class Snapper:
    """Nearest-node lookup within a maximum distance.

    Parameters
    ----------
    projector : Projector
        Projection shared with the network's node table.
    x_m, y_m : array
        Projected node coordinates in metres; row i is node index i.
    max_snap_m : float
        Largest allowed distance between a point and its node, metres.
    """

    def __init__(self, projector: Projector, x_m: np.ndarray, y_m: np.ndarray, max_snap_m: float):
        self.projector = projector
        self.max_snap_m = float(max_snap_m)
        self.tree = cKDTree(np.column_stack([x_m, y_m]))

    def snap_many(self, lats, lons, labels=None) -> tuple[np.ndarray, np.ndarray]:
        """Nearest node index and distance (m) for each point; SnapError if any is too far.

        Parameters
        ----------
        lats, lons : array-like
            Points in degrees.
        labels : sequence of str, optional
            Names of the points, used in the error message (default: "point #i").
        """
        lats = np.atleast_1d(np.asarray(lats, float))
        lons = np.atleast_1d(np.asarray(lons, float))
        if lats.shape != lons.shape:
            raise SnapError(f"lats and lons differ in shape ({lats.shape} vs {lons.shape})")
        bad_coords = ~(np.isfinite(lats) & np.isfinite(lons))
        if bad_coords.any():
            i = int(np.flatnonzero(bad_coords)[0])
            label = labels[i] if labels is not None else f"point #{i}"
            raise SnapError(f"{label} has no valid coordinates (lat={lats[i]}, lon={lons[i]})")
        x_m, y_m = self.projector.to_xy_m(lats, lons)
        snap_m, nodes = self.tree.query(np.column_stack([x_m, y_m]))
        too_far = snap_m > self.max_snap_m
        if too_far.any():
            i = int(np.flatnonzero(too_far)[0])
            label = labels[i] if labels is not None else f"point #{i}"
            more = f" ({int(too_far.sum())} points in all)" if too_far.sum() > 1 else ""
            raise SnapError(
                f"{label} (lat={lats[i]:.6f}, lon={lons[i]:.6f}) is {snap_m[i]:.0f} m from the "
                f"nearest network node; max_snap_m is {self.max_snap_m:.0f} m{more}"
            )
        return nodes.astype(np.int64), snap_m.astype(float)

    def within_m(self, x_m: float, y_m: float, radius_m: float) -> np.ndarray:
        """Sorted node indices within ``radius_m`` metres of a projected point."""
        found = self.tree.query_ball_point([x_m, y_m], r=radius_m)
        return np.array(sorted(found), dtype=np.int64)
