"""The one router: every travel-time, distance and path question of every mode.

A *profile* is a mode's way of moving: a network view (drive, bike, walk) and either a constant
speed (walk and micromobility: the fastest path is the shortest one) or the edge speeds, optionally
capped (cars, shuttles, DRT). Built-in profiles:

=========  =====  ==========================  ======
profile    view   speed                       source
=========  =====  ==========================  ======
walk       walk   1.2 m/s                     [T1]
bike       bike   15 km/h                     [T2][T3]
ebike      bike   18 km/h                     (A)
escooter   bike   13 km/h                     (A), legal cap 25 km/h [M7]
segway     bike   12 km/h                     (A)
car        drive  edge speeds (speed_kph)     docs/networks.md
=========  =====  ==========================  ======

Storage, per table (one per view and weight; constant-speed profiles on the same view share one
length table): *all-pairs* float32 matrices (built with ``scipy.sparse.csgraph.dijkstra``, cached
on disk as ``.npz`` keyed by the network fingerprint and the profile's weight) or *LRU*: one
Dijkstra row per origin (or per destination, on the reversed graph), the last ``lru_size`` kept.
The rule (:meth:`Router.storage`), first match wins:

1. ``settings.storage[profile]`` of a profile on the table (profiles sharing it must agree);
2. more than ``all_pairs_max_nodes`` nodes: LRU;
3. a table of a *many-pair* profile (``car``, and those registered with ``many_pairs=True``: DRT,
   whose insertion search reads whole rows and thousands of pairs per request): all-pairs;
4. any other table: all-pairs if the matrices of every table of the registered profiles (each
   time-of-day period's; ``2 × 4 N²`` bytes for a time weight, ``4 N²`` for a length weight) fit
   in ``all_pairs_budget_mb``, else LRU (walk, bike and shuttle or bus caps are asked a few
   pairs per trip or fixed stop-to-stop legs).

A profile registered later can push the total over the budget: the tables of rule 4 already
built all-pairs are then dropped and rebuilt as LRU on their next use. Both storages give the
same Dijkstra floats (tests/test_router.py, tests/test_router_storage.py).

Unreachable pairs: scalar methods raise ``UnreachableError``; ``try_*`` methods return None;
vectorised methods return NaN. An infinite time is never returned.

Time of day: ``settings.speed_periods()`` splits the day into periods, each with a speed factor
by road class; an edge-speed profile's time in a period uses ``speed_kph × factor`` (then the
profile's cap). The router keeps one table set per period (built on first use; periods with the
same factors, and all-1.0 periods, share one) and every query picks the period of its departure
time: the ``depart_s`` argument (s after midnight of day 0; later days wrap), else the router's
``clock`` (the simulation sets it to the SimPy clock for the run), else the first period.
Constant-speed profiles (walk, bike, ...) have one table all day.
"""

from __future__ import annotations

import hashlib
import math
from bisect import bisect_right
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path

import numpy as np

from mobisim.errors import NetworkError, UnreachableError
from mobisim.network.graph import Network
from mobisim.network.shortest import CACHE_FORMAT, PathTable
from mobisim.network.views import VIEW_NAMES
from mobisim.scenario.network_config import RouterSettings
from mobisim.units import kmh_to_mps, mps_to_kmh

WALK_SPEED_MPS = 1.2  # [T1]
#: relative margin of :meth:`Router.times_within_s` runs (above float32 rounding, 6e-8)
LIMIT_MARGIN = 1e-6
DAY_S = 86_400.0


class TimesRow:
    """Travel times (s, float64, inf = unreachable) from one node to every node, or from every
    node to one node, read from an all-pairs table only where indexed.

    ``row[nodes]`` (an index array or one int) gives the floats of
    :meth:`Router.times_from_s` / :meth:`Router.times_to_s` at ``nodes``, with inf for NaN: the
    same cells, converted the same way (``tests/test_router_pair.py`` holds them equal). A
    column of a row-major N × N matrix is N scattered reads (21,000 cache misses on a
    21,000-node city); a DRT quote uses a few hundred of them (the fleet's positions, the plans'
    stops), so reading only those is what it needs. Made by :meth:`Router.times_row_s`.
    """

    __slots__ = ("_length", "_speed_mps", "_weight")

    def __init__(self, weight: np.ndarray, length: np.ndarray, speed_mps: float | None):
        self._weight, self._length, self._speed_mps = weight, length, speed_mps

    def __getitem__(self, index) -> np.ndarray | float:
        if self._speed_mps is None:
            times = np.asarray(self._weight[index], dtype=float)
        else:  # as Router._time_of: float32 lengths / speed, then float64
            times = np.asarray(self._length[index] / self._speed_mps, dtype=float)
        if times.ndim == 0:
            return math.inf if math.isnan(times) else float(times)
        return np.where(np.isnan(times), np.inf, times)

    def __len__(self) -> int:
        return len(self._weight)


@dataclass(frozen=True)
class Profile:
    """How one mode moves: view, and constant speed (km/h) or edge speeds with an optional cap (km/h)."""

    name: str
    view: str
    speed_kmh: float | None = None
    speed_cap_kmh: float | None = None

    @property
    def weight_key(self) -> str:
        """Name of the edge weight: ``length`` (constant speed), ``time`` or ``time-cap<kmh>``."""
        if self.speed_kmh is not None:
            return "length"
        return "time" if self.speed_cap_kmh is None else f"time-cap{self.speed_cap_kmh:g}"


#: built-in profiles asked many pairs per decision (private car, car-sharing; DRT shares the table)
MANY_PAIR_PROFILES = ("car",)


def _same_table(a: Profile, b: Profile) -> bool:
    """Do profiles ``a`` and ``b`` read the same tables (same view and edge weight)?"""
    return (a.view, a.weight_key) == (b.view, b.weight_key)


BUILTIN_PROFILES = (
    Profile("walk", "walk", speed_kmh=mps_to_kmh(WALK_SPEED_MPS)),
    Profile("bike", "bike", speed_kmh=15.0),
    Profile("ebike", "bike", speed_kmh=18.0),
    Profile("escooter", "bike", speed_kmh=13.0),
    Profile("segway", "bike", speed_kmh=12.0),
    Profile("car", "drive"),
)


class Router:
    """Travel times, distances and paths for every profile on one network.

    Parameters
    ----------
    network : Network
        The prepared network.
    settings : RouterSettings, optional
        ``all_pairs_max_nodes`` (node count up to which all-pairs matrices are built),
        ``lru_size`` (rows kept otherwise), ``cache_dir`` (folder for ``.npz`` matrices or None).
    """

    def __init__(self, network: Network, settings: RouterSettings | None = None):
        self.network = network
        self.settings = settings or RouterSettings()
        self.n_nodes = network.n_nodes
        self.profiles: dict[str, Profile] = {p.name: p for p in BUILTIN_PROFILES}
        #: profiles whose tables stay all-pairs under the budget (rule 3 of the module docstring)
        self.many_pairs: set[str] = set(MANY_PAIR_PROFILES)
        #: profile -> storage, as :meth:`storage` found it (cleared when profiles or periods change)
        self._storage: dict[str, str] = {}
        self._tables: dict[tuple[str, str], PathTable] = {}
        self.periods = self.settings.speed_periods()
        self._single_period = len(self.periods) == 1
        self._period_starts_s = [p.start_h * 3600.0 for p in self.periods]
        #: the last period found and its window [lo, hi) in s (the clock moves forward, so most
        #: look-ups fall in it)
        self._window = (0.0, 0.0, 0)
        #: per period: profile -> (weight look-up, length look-up, constant speed m/s or None)
        #: for :meth:`try_leg` on all-pairs tables (filled on a profile's first scalar query)
        self._pair_lookups: list[dict[str, tuple]] = [{} for _ in self.periods]
        #: (view, period index) -> (per-edge speed factors or None when all 1.0, table key tag)
        self._period_factors: dict[tuple[str, int], tuple[np.ndarray | None, str]] = {}
        #: the departure time of queries that give none (s); the simulation sets it to env.now
        self.clock: Callable[[], float] | None = None

    @property
    def mode(self) -> str:
        """``all_pairs`` or ``lru`` when every registered profile's table is stored so, else
        ``mixed`` (:meth:`storage` tells a profile's)."""
        kinds = {self.storage(name) for name in self.profiles}
        return kinds.pop() if len(kinds) == 1 else "mixed"

    # ------------------------------------------------------------------ storage
    def _table_key(self, prof: Profile, period: int) -> tuple[str, str, str]:
        tag = "" if prof.speed_kmh is not None else self._factors(prof.view, period)[1]
        return (prof.view, prof.weight_key, tag)

    def storage(self, profile: str) -> str:
        """``all_pairs`` or ``lru``: how ``profile``'s tables are stored (the module docstring's
        rule; the same in every period)."""
        cached = self._storage.get(profile)
        if cached is None:
            cached = self._storage[profile] = self._storage_by_rule(self._profile(profile))
        return cached

    def _storage_by_rule(self, prof: Profile) -> str:
        sharing = [n for n, p in self.profiles.items() if _same_table(p, prof)]
        chosen = {self.settings.storage[n] for n in sharing if n in self.settings.storage}
        if len(chosen) > 1:
            raise NetworkError(
                f"network.router.storage: profiles {sorted(sharing)} share one table but are "
                f"given {sorted(chosen)}; give them the same storage"
            )
        if chosen:
            return chosen.pop()
        if self.n_nodes > self.settings.all_pairs_max_nodes:
            return "lru"
        if any(n in self.many_pairs for n in sharing):
            return "all_pairs"
        budget_bytes = self.settings.all_pairs_budget_mb * 1e6
        return "all_pairs" if self.all_pairs_bytes() <= budget_bytes else "lru"

    def all_pairs_bytes(self) -> int:
        """Bytes the all-pairs matrices of every table of the registered profiles would take
        (each period's table counted once: 4 N² per float32 matrix, two for a time weight)."""
        keys = {
            self._table_key(prof, period)
            for prof in self.profiles.values()
            for period in range(len(self.periods))
        }
        matrices = sum(1 if weight == "length" else 2 for _, weight, _ in keys)
        return matrices * 4 * self.n_nodes**2

    def storage_report(self) -> list[dict]:
        """One row per table of the registered profiles (each period's): view, weight, the
        profiles on it, storage, whether it has been built, and its memory in MB (all-pairs:
        the matrices; LRU: the most its ``lru_size`` rows take, 8 bytes per node each)."""
        rows: dict[tuple[str, str, str], dict] = {}
        for name, prof in self.profiles.items():
            for period in range(len(self.periods)):
                key = self._table_key(prof, period)
                row = rows.setdefault(
                    key,
                    {"view": key[0], "weight": key[1], "period_tag": key[2], "profiles": []},
                )
                if name not in row["profiles"]:
                    row["profiles"].append(name)
        for key, row in rows.items():
            storage = self.storage(row["profiles"][0])
            matrices = 1 if key[1] == "length" else 2
            if storage == "all_pairs":
                mb = matrices * 4 * self.n_nodes**2 / 1e6
            else:
                mb = self.settings.lru_size * 8 * self.n_nodes / 1e6
            row.update(storage=storage, built=key in self._tables, memory_MB=round(mb, 1))
        return list(rows.values())

    def _drop_stale_tables(self) -> None:
        """Drop built tables whose storage no longer follows the rule (a profile registered
        after they were built pushed the total over the budget); rebuilt on next use."""
        self._storage = {}
        for key in list(self._tables):
            table = self._tables[key]
            prof = next(
                (p for p in self.profiles.values() if (p.view, p.weight_key) == key[:2]), None
            )
            if prof is not None and table.all_pairs != (self.storage(prof.name) == "all_pairs"):
                del self._tables[key]
                self._pair_lookups = [{} for _ in self.periods]

    # ------------------------------------------------------------------ time of day
    def period_index(self, depart_s: float | None = None) -> int:
        """Index in ``self.periods`` of the period containing ``depart_s`` (s after midnight).

        None: the ``clock``'s time, or the first period without a clock. Later days wrap (mod 24 h).
        """
        if self._single_period:
            return 0
        if depart_s is None:
            if self.clock is None:
                return 0
            depart_s = self.clock()
        lo_s, hi_s, period = self._window
        if lo_s <= depart_s < hi_s:
            return period
        day_s = (float(depart_s) // DAY_S) * DAY_S
        period = bisect_right(self._period_starts_s, float(depart_s) - day_s) - 1
        here = self.periods[period]
        self._window = (day_s + here.start_h * 3600.0, day_s + here.end_h * 3600.0, period)
        return period

    def _factors(self, view_name: str, period: int) -> tuple[np.ndarray | None, str]:
        """Per-edge speed factors of ``view_name`` in ``period`` (None = all 1.0) and their tag."""
        key = (view_name, period)
        cached = self._period_factors.get(key)
        if cached is None:
            view = self.network.view(view_name)
            classes, inverse = np.unique(view.highway.astype(str), return_inverse=True)
            by_class = np.array([self.periods[period].factor_for(c) for c in classes], float)
            if by_class.size == 0 or np.all(by_class == 1.0):
                cached = (None, "")
            else:
                text = ";".join(f"{c}={f!r}" for c, f in zip(classes, by_class, strict=True))
                cached = (by_class[inverse], hashlib.sha1(text.encode()).hexdigest()[:12])
            self._period_factors[key] = cached
        return cached

    def set_link_speed_factors(self, view_name: str, period: int, factors) -> None:
        """Replace the speed factors of every link of ``view_name`` in ``period``.

        For feedback from link volumes (mobisim.network.bpr): a link's factor is its free-flow
        time over its congested time. ``factors``: one value > 0 per link of the view, in the
        view's edge order. Tables of that period are rebuilt on their next use.
        """
        view = self.network.view(view_name)
        values = np.asarray(factors, dtype=float)
        if values.shape != (view.n_edges,):
            raise NetworkError(
                f"{view_name} speed factors: expected {view.n_edges} values, got {values.shape}"
            )
        if not np.all(values > 0):
            raise NetworkError(f"{view_name} speed factors must all be > 0")
        if not 0 <= period < len(self.periods):
            raise NetworkError(f"period {period} is outside 0..{len(self.periods) - 1}")
        tag = "links" + hashlib.sha1(values.tobytes()).hexdigest()[:12]
        self._period_factors[(view_name, period)] = (values, tag)
        self._pair_lookups[period] = {}
        in_use = {(v, t) for (v, _), (_, t) in self._period_factors.items()}
        for key in [k for k in self._tables if k[2] and (k[0], k[2]) not in in_use]:
            del self._tables[key]  # a replaced period's tables, no longer reachable
        self._drop_stale_tables()  # the count of tables, hence the budget's verdict, may change

    # ------------------------------------------------------------------ profiles
    def add_profile(
        self,
        name: str,
        view: str,
        speed_kmh: float | None = None,
        speed_cap_kmh: float | None = None,
        many_pairs: bool = False,
    ) -> Profile:
        """Register a profile (idempotent; tables are built on first use).

        Parameters
        ----------
        name : str
            Profile name used in queries (e.g. the service name).
        view : str
            Network view: drive, bike or walk.
        speed_kmh : float, optional
            Constant speed in km/h (time = path length / speed; the fastest path is the shortest).
        speed_cap_kmh : float, optional
            With edge speeds: cap each edge's speed at this value, km/h (e.g. a shuttle's 25 km/h).
        many_pairs : bool
            The profile asks whole rows and many pairs per decision (a DRT insertion search):
            its table stays all-pairs when the others go LRU (rule 3 of the module docstring).

        Raises NetworkError on an unknown view, bad speeds, or a name already used differently.
        """
        if view not in VIEW_NAMES:
            raise NetworkError(
                f"profile '{name}': unknown view '{view}'; expected one of {VIEW_NAMES}"
            )
        if speed_kmh is not None and speed_cap_kmh is not None:
            raise NetworkError(f"profile '{name}': give speed_kmh or speed_cap_kmh, not both")
        for label, value in (("speed_kmh", speed_kmh), ("speed_cap_kmh", speed_cap_kmh)):
            if value is not None and not value > 0:
                raise NetworkError(f"profile '{name}': {label} must be > 0 (got {value})")
        profile = Profile(
            name,
            view,
            None if speed_kmh is None else float(speed_kmh),
            None if speed_cap_kmh is None else float(speed_cap_kmh),
        )
        existing = self.profiles.get(name)
        if existing is not None and existing != profile:
            raise NetworkError(f"profile '{name}' already exists as {existing}; use another name")
        self.profiles[name] = profile
        if many_pairs:
            self.many_pairs.add(name)
        self._drop_stale_tables()
        return profile

    def _profile(self, name: str) -> Profile:
        try:
            return self.profiles[name]
        except KeyError:
            known = ", ".join(sorted(self.profiles))
            raise NetworkError(f"unknown routing profile '{name}'; known: {known}") from None

    def table(self, profile: str, depart_s: float | None = None) -> PathTable:
        """The (lazily built) path table behind ``profile`` for the period of ``depart_s``."""
        return self._table_in(self._profile(profile), self.period_index(depart_s))

    def _table_in(self, prof: Profile, period: int) -> PathTable:
        factors, tag = (
            (None, "") if prof.speed_kmh is not None else self._factors(prof.view, period)
        )
        key = (prof.view, prof.weight_key, tag)  # as _table_key makes it
        table = self._tables.get(key)
        if table is None:
            table = self._build_table(prof, factors, tag)
            self._tables[key] = table
        return table

    def _build_table(self, prof: Profile, factors: np.ndarray | None, tag: str) -> PathTable:
        view = self.network.view(prof.view)
        if prof.speed_kmh is not None:
            weight = view.length_m
        else:
            speed_kph = view.speed_kph if factors is None else view.speed_kph * factors
            if prof.speed_cap_kmh is not None:
                speed_kph = np.minimum(speed_kph, prof.speed_cap_kmh)
            weight = view.length_m / (speed_kph / 3.6)
        all_pairs = self.storage(prof.name) == "all_pairs"
        cache_file = None
        if all_pairs and self.settings.cache_dir:
            weight_key = prof.weight_key + (f"-tod{tag}" if tag else "")
            name = f"{self.network.fingerprint[:24]}-{prof.view}-{weight_key}-{CACHE_FORMAT}.npz"
            cache_file = Path(self.settings.cache_dir) / name
        return PathTable(
            self.n_nodes,
            view.u,
            view.v,
            weight,
            view.length_m,
            weight_is_length=prof.speed_kmh is not None,
            all_pairs=all_pairs,
            lru_size=self.settings.lru_size,
            cache_file=cache_file,
        )

    # ------------------------------------------------------------------ helpers
    def _check_node(self, node: int, role: str) -> int:
        node = int(node)
        if not 0 <= node < self.n_nodes:
            raise NetworkError(f"{role} node {node} is outside 0..{self.n_nodes - 1}")
        return node

    def _check_nodes(self, nodes, role: str) -> np.ndarray:
        arr = np.asarray(nodes, dtype=np.int64)
        if arr.size and (arr.min() < 0 or arr.max() >= self.n_nodes):
            raise NetworkError(f"{role} nodes must lie in 0..{self.n_nodes - 1}")
        return arr

    def _time_of(self, prof: Profile, weight, length):
        if prof.speed_kmh is not None:
            return length / kmh_to_mps(prof.speed_kmh)
        return weight

    # ------------------------------------------------------------------ scalar queries
    def try_leg(
        self, profile: str, origin: int, dest: int, depart_s: float | None = None
    ) -> tuple[float, float] | None:
        """(travel_time_s, distance_m) of the fastest path, or None when unreachable.

        ``depart_s``: departure time, s after midnight (None: the router's clock; see the module
        docstring). The hot path of every offer: with all-pairs tables the two matrix cells are
        read directly (the same values, in s and m, as :meth:`_try_leg_checked` gives); anything
        else (the first query of a profile, LRU tables, a node out of range) goes the checked way.
        """
        period = 0 if self._single_period else self.period_index(depart_s)
        lookup = self._pair_lookups[period].get(profile)
        if lookup is not None:
            origin, dest = int(origin), int(dest)
            if 0 <= origin < self.n_nodes and 0 <= dest < self.n_nodes:
                if origin == dest:
                    return 0.0, 0.0
                weight_at, length_at, speed_mps = lookup
                weight = weight_at(origin, dest)
                if weight != weight:  # NaN: unreachable
                    return None
                if speed_mps is None:
                    return weight, length_at(origin, dest)
                length = length_at(origin, dest)
                return length / speed_mps, length
        return self._try_leg_checked(profile, origin, dest, period)

    def _try_leg_checked(
        self, profile: str, origin: int, dest: int, period: int
    ) -> tuple[float, float] | None:
        """:meth:`try_leg` with every check; remembers the look-ups of ``period``."""
        prof = self._profile(profile)
        origin, dest = self._check_node(origin, "origin"), self._check_node(dest, "destination")
        if origin == dest:
            return 0.0, 0.0
        table = self._table_in(prof, period)
        if table.all_pairs and table.weight_matrix is not None:
            # ndarray.item gives the Python float that float(matrix[o, d]) gives
            speed_mps = None if prof.speed_kmh is None else kmh_to_mps(prof.speed_kmh)
            self._pair_lookups[period][profile] = (
                table.weight_matrix.item,
                table.length_matrix.item,
                speed_mps,
            )
        weight, length = table.pair(origin, dest)
        if weight != weight:  # NaN: unreachable
            return None
        return float(self._time_of(prof, weight, length)), length

    def leg(
        self, profile: str, origin: int, dest: int, depart_s: float | None = None
    ) -> tuple[float, float]:
        """(travel_time_s, distance_m) of the fastest path; raises UnreachableError."""
        result = self.try_leg(profile, origin, dest, depart_s)
        if result is None:
            raise UnreachableError(profile, int(origin), int(dest))
        return result

    def travel_time_s(
        self, profile: str, origin: int, dest: int, depart_s: float | None = None
    ) -> float:
        """Travel time in seconds from node ``origin`` to node ``dest``; raises UnreachableError."""
        return self.leg(profile, origin, dest, depart_s)[0]

    def distance_m(
        self, profile: str, origin: int, dest: int, depart_s: float | None = None
    ) -> float:
        """Length in metres of the fastest path (the one ``travel_time_s`` times); raises UnreachableError."""
        return self.leg(profile, origin, dest, depart_s)[1]

    def try_travel_time_s(
        self, profile: str, origin: int, dest: int, depart_s: float | None = None
    ) -> float | None:
        """Travel time in seconds, or None when ``dest`` is unreachable (the caller handles it)."""
        result = self.try_leg(profile, origin, dest, depart_s)
        return None if result is None else result[0]

    def try_distance_m(
        self, profile: str, origin: int, dest: int, depart_s: float | None = None
    ) -> float | None:
        """Length in metres of the fastest path, or None when unreachable."""
        result = self.try_leg(profile, origin, dest, depart_s)
        return None if result is None else result[1]

    def try_leg_within_m(
        self,
        profile: str,
        origin: int,
        dest: int,
        limit_m: float,
        depart_s: float | None = None,
    ) -> tuple[float, float] | None:
        """(travel_time_s, distance_m) as :meth:`try_leg` gives them when the path is at most
        ``limit_m`` long (up to ``LIMIT_MARGIN`` above it, it may be given); (inf, inf) when it
        is longer, None when ``dest`` is unreachable. A destination that no path reaches may
        also be reported as (inf, inf) when the search from ``origin`` had not run out of
        nodes at the limit.

        For a leg that is only offered when short (walking up to ``max_walk_m``): on LRU tables
        of a length weight (constant-speed profiles: walk, bike) the one-pair search stops at
        the limit (:meth:`PathTable.pair_within`) instead of growing until ``dest`` is found.
        Other tables answer as :meth:`try_leg`."""
        prof = self._profile(profile)
        limit = limit_m * (1 + LIMIT_MARGIN)
        table = self.table(profile, depart_s)
        if table.all_pairs or prof.speed_kmh is None:  # try_leg checks the nodes itself
            leg = self.try_leg(profile, origin, dest, depart_s)
            if leg is None or leg[1] <= limit:
                return leg
            return math.inf, math.inf
        origin, dest = self._check_node(origin, "origin"), self._check_node(dest, "destination")
        if origin == dest:
            return 0.0, 0.0
        weight, length = table.pair_within(origin, dest, limit)
        if weight != weight:  # NaN: unreachable
            return None
        if weight == math.inf:
            return math.inf, math.inf
        return float(self._time_of(prof, weight, length)), length

    def try_travel_time_within_s(
        self,
        profile: str,
        origin: int,
        dest: int,
        limit_s: float,
        depart_s: float | None = None,
    ) -> float | None:
        """Travel time in seconds, or None when ``dest`` is unreachable or further than
        ``limit_s`` (up to ``LIMIT_MARGIN`` above it, the time may be given).

        For a leg that only matters if it is short (e.g. a detour that must fit a rider's
        window): on LRU tables the one-pair search stops at the limit
        (:meth:`PathTable.pair_search`); the time, when given, is the one :meth:`try_leg` gives.
        """
        prof = self._profile(profile)
        origin, dest = self._check_node(origin, "origin"), self._check_node(dest, "destination")
        table = self.table(profile, depart_s)
        if table.all_pairs or origin == dest:
            time_s = self.try_travel_time_s(profile, origin, dest, depart_s)
            return None if time_s is None or time_s > limit_s * (1 + LIMIT_MARGIN) else time_s
        limit = limit_s * (1 + LIMIT_MARGIN)
        if prof.speed_kmh is not None:
            limit *= kmh_to_mps(prof.speed_kmh)
        weight, length = table.pair_search(origin, dest, limit, with_length=False)
        if weight != weight:  # NaN: unreachable or beyond the limit
            return None
        return float(self._time_of(prof, weight, weight if table.weight_is_length else length))

    def path(
        self, profile: str, origin: int, dest: int, depart_s: float | None = None
    ) -> list[int]:
        """Node indices of the fastest path, origin..dest inclusive; raises UnreachableError."""
        origin, dest = self._check_node(origin, "origin"), self._check_node(dest, "destination")
        nodes = self.table(profile, depart_s).path(origin, dest)
        if nodes is None:
            raise UnreachableError(profile, origin, dest)  # already ints (checked above)
        return nodes

    # ------------------------------------------------------------------ vectorised queries
    def legs(
        self, profile: str, origins, dests, depart_s: float | None = None
    ) -> tuple[np.ndarray, np.ndarray]:
        """(travel_time_s, distance_m) float64 arrays for broadcast origin/destination node arrays.

        Unreachable pairs are NaN in both arrays. ``depart_s`` (one time for every pair, s after
        midnight; None = the router's clock) picks the period.
        """
        prof = self._profile(profile)
        origins, dests = np.broadcast_arrays(
            self._check_nodes(origins, "origin"), self._check_nodes(dests, "destination")
        )
        weight, length = self.table(profile, depart_s).lookup(origins, dests)
        return self._time_of(prof, weight, length), length

    def legs_departing(
        self, profile: str, origins, dests, depart_s
    ) -> tuple[np.ndarray, np.ndarray]:
        """:meth:`legs` with one departure time per pair (s after midnight; same shape).

        Each pair is timed in its own departure's period (e.g. every trip's direct drive).
        """
        origins, dests, depart_s = np.broadcast_arrays(
            np.asarray(origins), np.asarray(dests), np.asarray(depart_s, dtype=float)
        )
        if self._single_period:
            return self.legs(profile, origins, dests)
        day_s = np.mod(depart_s, DAY_S)
        period = np.searchsorted(self._period_starts_s, day_s, side="right") - 1
        times_s, dists_m = np.full(origins.shape, np.nan), np.full(origins.shape, np.nan)
        for k in np.unique(period):
            rows = period == k
            at_s = self._period_starts_s[k]
            times_s[rows], dists_m[rows] = self.legs(profile, origins[rows], dests[rows], at_s)
        return times_s, dists_m

    def travel_times_s(
        self, profile: str, origins, dests, depart_s: float | None = None
    ) -> np.ndarray:
        """Travel times in seconds for broadcast node arrays; NaN where unreachable."""
        return self.legs(profile, origins, dests, depart_s)[0]

    def distances_m(
        self, profile: str, origins, dests, depart_s: float | None = None
    ) -> np.ndarray:
        """Fastest-path lengths in metres for broadcast node arrays; NaN where unreachable."""
        return self.legs(profile, origins, dests, depart_s)[1]

    def times_from_s(self, profile: str, origin: int, depart_s: float | None = None) -> np.ndarray:
        """Travel times in seconds from ``origin`` to every node (float64, length N); NaN = unreachable."""
        prof = self._profile(profile)
        weight, length = self.table(profile, depart_s).row(self._check_node(origin, "origin"))
        return np.asarray(self._time_of(prof, weight, length), dtype=float)

    def times_to_s(self, profile: str, dest: int, depart_s: float | None = None) -> np.ndarray:
        """Travel times in seconds from every node to ``dest`` (float64, length N); NaN = unreachable."""
        prof = self._profile(profile)
        table = self.table(profile, depart_s)
        weight, length = table.row(self._check_node(dest, "destination"), reverse=True)
        return np.asarray(self._time_of(prof, weight, length), dtype=float)

    def times_row_s(
        self, profile: str, node: int, reverse: bool = False, depart_s: float | None = None
    ) -> TimesRow | np.ndarray:
        """Travel times in seconds from ``node`` to every node (from every node to ``node`` if
        ``reverse``), inf where unreachable, read where indexed: on all-pairs tables a
        :class:`TimesRow` over the matrix (no cell is read until asked for), on LRU tables the
        whole row as a float64 array (one Dijkstra run either way). Indexing either gives the
        floats of :meth:`times_from_s` / :meth:`times_to_s` with inf for NaN."""
        prof = self._profile(profile)
        table = self.table(profile, depart_s)
        node = self._check_node(node, "destination" if reverse else "origin")
        if table.all_pairs:
            weight, length = table.row(node, reverse)  # views of the matrices: nothing read
            speed_mps = None if prof.speed_kmh is None else kmh_to_mps(prof.speed_kmh)
            return TimesRow(weight, length, speed_mps)
        row = (self.times_to_s if reverse else self.times_from_s)(profile, node, depart_s)
        return np.where(np.isnan(row), np.inf, row)

    def times_within_s(
        self,
        profile: str,
        node: int,
        limit_s: float,
        reverse: bool = False,
        depart_s: float | None = None,
    ) -> np.ndarray:
        """Travel times in seconds from ``node`` to every node (from every node to ``node`` if
        ``reverse``) up to ``limit_s``; inf beyond and where unreachable (float64, length N).
        The run stops at ``limit_s × (1 + LIMIT_MARGIN)``: the stored floats are float32-rounded
        (up to 6e-8 relative), so a time just within the limit may come from a path sum just
        beyond it; the margin keeps those (times up to the margin above the limit may be given).

        The region around a node (e.g. every vehicle that can reach a pick-up within the wait)
        without a whole row: on LRU tables one Dijkstra run stopped at the limit
        (:meth:`PathTable.bounded_row`). Within the limit the floats are those of
        :meth:`times_from_s` / :meth:`times_to_s` (``tests/test_router_pair.py`` holds them
        equal); an all-pairs row is read from the matrix.
        """
        prof = self._profile(profile)
        table = self.table(profile, depart_s)
        node = self._check_node(node, "destination" if reverse else "origin")
        limit = limit_s * (1 + LIMIT_MARGIN)
        if prof.speed_kmh is None:
            return table.bounded_row(node, limit, reverse)
        # lengths: times as times_from_s makes them (float32 lengths / speed)
        weight32 = table.bounded_row(node, limit * kmh_to_mps(prof.speed_kmh), reverse)
        weight32 = weight32.astype(np.float32)
        return np.asarray(self._time_of(prof, weight32, weight32), dtype=float)

    def distances_within_m(
        self,
        profile: str,
        node: int,
        limit_m: float,
        reverse: bool = False,
        depart_s: float | None = None,
    ) -> np.ndarray:
        """Path lengths in metres from ``node`` to every node (from every node to ``node`` if
        ``reverse``) up to ``limit_m``; inf beyond and where unreachable (float64, length N).
        Up to ``LIMIT_MARGIN`` above the limit a length may be given (as in
        :meth:`times_within_s`): callers compare with their limit themselves.

        For the questions that only matter near a node: the stops, docks or parked vehicles
        within walking distance of a trip's origin. On LRU tables of a length weight (walk,
        bike: constant-speed profiles) one Dijkstra run stopped at the limit
        (:meth:`PathTable.bounded_row`) instead of a whole-network row; within the limit the
        floats are those of :meth:`distances_m` (the same relaxations, float32-rounded alike;
        ``tests/test_router_pair.py`` holds them equal). All-pairs tables, and tables whose
        weight is a time (the lengths are then read along the fastest paths of the whole row),
        read their row."""
        prof = self._profile(profile)
        table = self.table(profile, depart_s)
        node = self._check_node(node, "destination" if reverse else "origin")
        limit = limit_m * (1 + LIMIT_MARGIN)
        if prof.speed_kmh is not None:  # the table's weight is the length
            return table.bounded_row(node, limit, reverse)
        _, length = table.row(node, reverse)
        length = np.asarray(length, dtype=np.float64)
        return np.where(length <= limit, length, np.inf)  # NaN (unreachable) compares False

    def nearest_by_time(
        self,
        profile: str,
        origin: int,
        candidates,
        reverse: bool = False,
        depart_s: float | None = None,
    ) -> tuple[int, float]:
        """The candidate node reached fastest from ``origin``.

        Parameters
        ----------
        profile : str
            Routing profile.
        origin : int
            Node index.
        candidates : array-like of int
            Candidate node indices (e.g. stations, vehicles).
        reverse : bool
            If True, time from each candidate *to* ``origin`` (e.g. vehicles driving to a pickup).
        depart_s : float, optional
            Departure time, s after midnight (None: the router's clock).

        Returns
        -------
        (position in ``candidates``, travel time in seconds). Raises UnreachableError if no candidate
        can be reached, NetworkError if ``candidates`` is empty.
        """
        cands = self._check_nodes(candidates, "candidate").ravel()
        if cands.size == 0:
            raise NetworkError("nearest_by_time: no candidate nodes given")
        row = (
            self.times_to_s(profile, origin, depart_s)
            if reverse
            else self.times_from_s(profile, origin, depart_s)
        )
        times = row[cands]
        times[cands == origin] = 0.0
        if np.isnan(times).all():
            raise UnreachableError(
                profile,
                origin,
                int(cands[0]),
                f"no {profile} path between node {origin} and any of {cands.size} candidates",
            )
        best = int(np.nanargmin(times))
        return best, float(times[best])
