"""What runs in the API process: `ComputeService` and the parts the compute routers call.

compute_service.py's ComputeService bundles servers.py (create, show, update, delete; its queries in
server_queries.py), actions.py and actions_lifecycle.py (server actions), server_metadata.py,
flavors.py, keypairs.py and tags.py; admin.py's AdminServices bundles aggregates.py, hosts.py,
flavor_access.py, quota_views.py and usage.py. lookup.py finds what a request names. Nothing here is
imported by the compute host: the API reaches it only through compute/rpcapi.py.
"""

from overcast.compute.api.compute_service import ComputeService

__all__ = ["ComputeService"]
