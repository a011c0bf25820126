"""KPIs as pure functions of a run's saved tables (see docs/kpis.md).

compute_kpis(tables, meta) -> nested dict; kpis_long(kpis) -> tidy table; load_run(run_dir) -> tables.
"""

from mobisim.metrics.kpis import compute_kpis, kpis_long
from mobisim.metrics.tables import load_run, recompute_kpis

__all__ = ["compute_kpis", "kpis_long", "load_run", "recompute_kpis"]
