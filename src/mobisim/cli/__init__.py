"""The ``mobisim`` command line (typer); the app and ``run``/``validate`` are in :mod:`.app`,
the other command groups in one module each (network, analysis, sweep, batch)."""

from mobisim.cli.app import app, main

__all__ = ["app", "main"]
