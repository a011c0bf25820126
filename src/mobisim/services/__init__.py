"""Services: every shared fleet (and the baseline modes walk and private car) under one protocol.

See :mod:`mobisim.services.base` for the protocol and :mod:`mobisim.scenario.registry` for the
registry of service types.
"""
