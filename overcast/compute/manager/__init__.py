"""What runs on a compute host: the compute service's manager and the parts it composes.

compute_manager.py's ComputeManager (build, delete, start-up reconciliation, lifecycle events, periodic
tasks) serves the additional RPC endpoints power.py's PowerActions, moves.py's MoveActions and
images.py's ImageActions, which take host.py's ComputeHost (the driver, image_cache.py's HostImageCache,
resource_tracker.py's ResourceTracker, the notifier and the RPC clients). Nothing here is imported by
the API process: it reaches the host only through compute/rpcapi.py.
"""

from overcast.compute.manager.compute_manager import ComputeManager

__all__ = ["ComputeManager"]
