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


def load_scenario(path, overrides=None):
    """Load, merge (``extends:``) and validate a scenario file; see mobisim.api.load_scenario."""
    from mobisim.api import load_scenario as _load

    return _load(path, overrides=overrides)


def run(scenario, **kwargs):
    """Run a scenario and write its result folder; see mobisim.api.run."""
    from mobisim.api import run as _run

    return _run(scenario, **kwargs)


def __getattr__(name):
    """``mobisim.sweep`` and ``mobisim.batch``: the modules, loaded on first use; both are also
    callable: ``mobisim.sweep(base, grid=..., replications=...)`` is ``mobisim.sweep.sweep``."""
    if name in ("sweep", "batch"):
        import importlib

        return importlib.import_module(f"mobisim.{name}")
    raise AttributeError(f"module 'mobisim' has no attribute {name!r}")


__all__ = ["__version__", "batch", "load_scenario", "run", "sweep"]
