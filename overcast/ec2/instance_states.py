"""Start/Stop/Reboot/TerminateInstances: compute's server actions, answered with each instance's previous
and current state in AWS's codes."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

from overcast import policy
from overcast.compute import policies as compute_policies
from overcast.compute.api.server_queries import Server
from overcast.ec2 import termination
from overcast.ec2.backends import Backends, Ec2Request, Response
from overcast.ec2.instance_reads import named_servers, required_instance_ids
from overcast.ec2.instance_views import (
    RUNNING,
    SHUTTING_DOWN,
    TERMINATED,
    ec2_state,
    state_view,
    view_context,
)

StateChange = Callable[[Server], tuple[int, str] | None]


def _state_changes(
    backends: Backends,
    request: Ec2Request,
    rule: str,
    change: StateChange,
    guard: Callable[[Server, str], None] | None = None,
) -> list[dict[str, Any]]:
    """Each named instance's previous and current state around `change`, which answers the state it
    left the instance in, or None to read it again. `guard` may refuse the whole request before any
    instance changes."""
    servers = named_servers(backends, request, required_instance_ids(request))
    for server in servers:
        policy.enforce(request.context, rule, request.target(server.instance.project_id))
    context = view_context(backends, servers)
    if guard is not None:
        for server in servers:
            guard(server, context.instance_ids[server.instance.uuid])
    changes = []
    for server in servers:
        instance = server.instance
        before = ec2_state(instance.vm_state, instance.task_state, bool(instance.deleted))
        current = change(server)
        if current is None:
            after = backends.compute.servers.get(request.context, instance.uuid).instance
            current = ec2_state(after.vm_state, after.task_state, bool(after.deleted))
        changes.append({
            "instanceId": context.instance_ids[instance.uuid], "currentState": state_view(current),
            "previousState": state_view(before),
        })  # fmt: skip
    return changes


def start_instances(backends: Backends, request: Ec2Request) -> Response:
    def start(server: Server) -> tuple[int, str] | None:
        if ec2_state(server.instance.vm_state, server.instance.task_state)[1] != "running":
            backends.compute.actions.start(request.context, server.instance.uuid)
        return None

    return {"instancesSet": _state_changes(backends, request, compute_policies.START, start)}


def stop_instances(backends: Backends, request: Ec2Request) -> Response:
    def stop(server: Server) -> tuple[int, str] | None:
        if ec2_state(server.instance.vm_state, server.instance.task_state)[1] not in ("stopped", "stopping"):
            backends.compute.actions.stop(request.context, server.instance.uuid)
        return None

    return {"instancesSet": _state_changes(backends, request, compute_policies.STOP, stop)}


def reboot_instances(backends: Backends, request: Ec2Request) -> Response:
    def reboot(server: Server) -> tuple[int, str] | None:
        backends.compute.actions.reboot(request.context, server.instance.uuid, "SOFT")
        return RUNNING

    _state_changes(backends, request, compute_policies.REBOOT, reboot)
    return {"return": True}


def terminate_instances(backends: Backends, request: Ec2Request) -> Response:
    def unprotected(server: Server, ec2_id: str) -> None:
        if not server.instance.deleted and termination.is_protected(backends, server.instance.uuid):
            raise termination.refused(ec2_id)

    def terminate(server: Server) -> tuple[int, str] | None:
        if server.instance.deleted:
            return TERMINATED
        backends.compute.actions.delete(request.context, server.instance.uuid)
        return SHUTTING_DOWN

    changes = _state_changes(backends, request, compute_policies.SERVERS_DELETE, terminate, unprotected)
    return {"instancesSet": changes}
