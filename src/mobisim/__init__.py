"""mobisim: a discrete-event simulator of shared mobility.

The Python API in one place::

    import mobisim
    scenario = mobisim.load_scenario("scenarios/demo.yaml", overrides={"seed": 3})
    result = mobisim.run(scenario)
    result.kpis["system"]["served_share"]
    frame = mobisim.sweep("scenarios/demo.yaml", grid={"services.drt.vehicles": [4, 8]})
    summary = mobisim.batch(["scenarios/chungbuk"], workers=2)

See docs/ for the scenario file reference and the model description.
"""

from importlib.metadata import PackageNotFoundError, version

try:
    __version__ = version("mobisim")
except PackageNotFoundError:  # running from a source tree without install
    __version__ = "0.0.0+unknown"


def load_scenario(path, overrides=None, allow_extends=()):
    """Load, merge (``extends:``) and validate a scenario file; see mobisim.api.load_scenario."""
    from mobisim.api import load_scenario as _load

    return _load(path, overrides=overrides, allow_extends=allow_extends)


def run(scenario, **kwargs):
    """Run a scenario and write its result folder; see mobisim.api.run."""
    from mobisim.api import run as _run

    return _run(scenario, **kwargs)


def sweep(base, **kwargs):
    """Run a parameter sweep; see :func:`mobisim.experiments.sweep.sweep`."""
    from mobisim.experiments.sweep import sweep as _sweep

    return _sweep(base, **kwargs)


def batch(paths, **kwargs):
    """Run a set of scenario files and compare them; see :func:`mobisim.experiments.batch.batch`."""
    from mobisim.experiments.batch import batch as _batch

    return _batch(paths, **kwargs)


__all__ = ["__version__", "batch", "load_scenario", "run", "sweep"]
