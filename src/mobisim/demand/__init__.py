"""Demand: who travels, from where to where and when (a synthetic population or a trip table).

``mobisim.demand.trips.build_trips`` is the entry point; see docs/demand.md.
"""
