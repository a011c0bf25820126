"""Road networks (layer 2): loading, the synthetic new town, mode views, snapping and the router.

Entry points: ``build_network(config, base_dir) -> Network`` and ``Router(network, settings)``.
"""

from mobisim.network.graph import Network
from mobisim.network.load import build_network
from mobisim.network.router import Router

__all__ = ["Network", "Router", "build_network"]
