"""Experiments: many runs of a scenario at once.

- :mod:`~mobisim.experiments.planning`: sweep files, parameter sets, one resolved task per run;
- :mod:`~mobisim.experiments.local_workers`: running tasks here or on local worker processes;
- :mod:`~mobisim.experiments.dask_workers`: running tasks on a Dask cluster;
- :mod:`~mobisim.experiments.sweep`: :func:`~mobisim.experiments.sweep.sweep`, the sweep itself;
- :mod:`~mobisim.experiments.batch`: a set of scenario files compared in one report;
- :mod:`~mobisim.experiments.analysis`: reading sweeps back, SQL queries, sweep charts.
"""
