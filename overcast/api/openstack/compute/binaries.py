"""Nova's names for the services os-services and os-availability-zone show: tools filter on
`nova-compute`, `nova-scheduler` and `nova-conductor`, whatever Overcast calls its processes.

Requests may name a service by either name; bodies show Nova's. Services that are not Nova's (the network
agent, the volume service) are another API's, as in a real deployment, so the compute API does not list
them.
"""

from __future__ import annotations

from overcast.compute.rpcapi import BINARY as COMPUTE_BINARY
from overcast.conductor.rpcapi import BINARY as CONDUCTOR_BINARY
from overcast.scheduler.rpcapi import BINARY as SCHEDULER_BINARY

NOVA_COMPUTE = "nova-compute"
NOVA_BINARIES = {
    COMPUTE_BINARY: NOVA_COMPUTE,
    SCHEDULER_BINARY: "nova-scheduler",
    CONDUCTOR_BINARY: "nova-conductor",
}
OVERCAST_BINARIES = {nova: ours for ours, nova in NOVA_BINARIES.items()}


def is_nova_service(binary: str) -> bool:
    return binary in NOVA_BINARIES


def nova_name(binary: str) -> str:
    return NOVA_BINARIES.get(binary, binary)


def overcast_name(binary: str) -> str:
    """The process a request's binary names (Nova's name or ours)."""
    return OVERCAST_BINARIES.get(binary, binary)
