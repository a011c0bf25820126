"""Importers of other simulators' scenarios (HIVE: :mod:`mobisim.convert.hive`)."""
