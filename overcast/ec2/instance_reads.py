"""DescribeInstances and DescribeInstanceStatus, and the reads the other instance actions share: the
caller's servers (terminated ones stay visible for an hour, as on AWS) and the servers an action names."""

from __future__ import annotations

from collections.abc import Sequence
from datetime import timedelta
from typing import Any

from overcast.compute.api.server_queries import MAX_LIMIT, Server
from overcast.compute.api.servers import ServerFilters
from overcast.context import RequestContext
from overcast.ec2 import ids
from overcast.ec2.backends import Backends, Ec2Request, Response
from overcast.ec2.errors import Ec2Error, missing_parameter
from overcast.ec2.filtering import FilterTable
from overcast.ec2.instance_views import ViewContext, ec2_state, instance_view, state_view, view_context
from overcast.ec2.pagination import page
from overcast.ec2.params import Params, filters_of

TERMINATED_VISIBLE_FOR = timedelta(hours=1)
# Up to this many named instances are read one by one; more, by reading the project's list once.
FEW_INSTANCES = 5


def servers_of(
    backends: Backends,
    request: Ec2Request,
    *,
    reservation: str | None = None,
    uuid: str | None = None,
    live_only: bool = False,
) -> list[Server]:
    """The caller's servers (of one reservation, or one server), oldest first, with those terminated in
    the last hour."""
    exact = {"reservation_id": reservation} if reservation is not None else {}
    if uuid is not None:
        exact["uuid"] = uuid
    found: list[Server] = []
    cutoff = backends.clock() - TERMINATED_VISIBLE_FOR
    for deleted, since in ((False, None),) if live_only else ((False, None), (True, cutoff)):
        marker: str | None = None
        while True:
            filters = ServerFilters(deleted=deleted, changes_since=since, exact=exact, marker=marker,
                                    limit=MAX_LIMIT, sort=(("created_at", "asc"),))  # fmt: skip
            listed = backends.compute.servers.list(request.context, filters, with_faults=True)
            found.extend(listed)
            if len(listed) < MAX_LIMIT:
                break
            marker = listed[-1].instance.uuid
    found.sort(key=lambda server: (server.instance.created_at, server.instance.id))
    return found


def record_visible(backends: Backends, context: RequestContext) -> None:
    """Records the ids of the caller's instances (listings show ids without recording them)."""
    servers = servers_of(backends, Ec2Request(context, Params({}), "DescribeInstances"))
    backends.ids.ids_of(
        ids.INSTANCE, {server.instance.uuid: server.instance.project_id for server in servers}
    )


def named_servers(backends: Backends, request: Ec2Request, ec2_ids: Sequence[str]) -> list[Server]:
    """The servers `ec2_ids` name, each visible to the caller (another project's is NotFound), recently
    terminated ones too."""
    named = backends.resolve(request.context, ec2_ids, (ids.INSTANCE,))
    wanted = {named[ec2_id].uuid: ec2_id for ec2_id in ec2_ids}
    if len(wanted) <= FEW_INSTANCES:
        listed = [server for uuid in wanted for server in servers_of(backends, request, uuid=uuid)]
    else:
        listed = [server for server in servers_of(backends, request) if server.instance.uuid in wanted]
    found = {server.instance.uuid: server for server in listed}
    missing = [ec2_id for uuid, ec2_id in wanted.items() if uuid not in found]
    if missing:
        raise ids.not_found(ids.INSTANCE, missing)
    return [found[uuid] for uuid in wanted]


def required_instance_ids(request: Ec2Request) -> list[str]:
    """InstanceId.N, of which the state changes need one at least."""
    found = request.params.strings("InstanceId")
    if not found:
        raise missing_parameter("InstanceId")
    return found


INSTANCE_FILTERS: FilterTable[dict[str, Any]] = FilterTable({
    "instance-id": lambda i: i["instanceId"],
    "image-id": lambda i: i["imageId"],
    "instance-state-code": lambda i: i["instanceState"]["code"],
    "instance-state-name": lambda i: i["instanceState"]["name"],
    "instance-type": lambda i: i["instanceType"],
    "key-name": lambda i: i["keyName"],
    "launch-index": lambda i: i["amiLaunchIndex"],
    "availability-zone": lambda i: i["placement"]["availabilityZone"],
    "private-ip-address": lambda i: i["privateIpAddress"],
    "ip-address": lambda i: i["ipAddress"],
    "private-dns-name": lambda i: i["privateDnsName"],
    "dns-name": lambda i: i["dnsName"],
    "reservation-id": lambda i: i["_reservationId"],
    "owner-id": lambda i: i["_ownerId"],
    "architecture": lambda i: i["architecture"],
    "root-device-type": lambda i: i["rootDeviceType"],
    "root-device-name": lambda i: i["rootDeviceName"],
    "kernel-id": lambda i: i["kernelId"],
    "ramdisk-id": lambda i: i["ramdiskId"],
    "instance.group-name": lambda i: [g["groupName"] for g in i["groupSet"]],
    "instance.group-id": lambda i: [g["groupId"] for g in i["groupSet"]],
    "group-name": lambda i: [g["groupName"] for g in i["groupSet"]],
    "group-id": lambda i: [g["groupId"] for g in i["groupSet"]],
    "launch-time": lambda i: i["launchTime"].strftime("%Y-%m-%dT%H:%M:%S.000Z"),
    "virtualization-type": lambda i: i["virtualizationType"],
    "hypervisor": lambda i: i["hypervisor"],
    "block-device-mapping.device-name": lambda i: [b["deviceName"] for b in i["blockDeviceMapping"]],
    "block-device-mapping.volume-id": lambda i: [b["ebs"]["volumeId"] for b in i["blockDeviceMapping"]],
}, tags=lambda i: {tag["key"]: tag["value"] for tag in i["tagSet"]})  # fmt: skip


def describe_instances(backends: Backends, request: Ec2Request) -> Response:
    wanted = request.params.strings("InstanceId")
    if wanted and request.params.has("MaxResults"):
        raise Ec2Error("InvalidParameterCombination",
                       "The parameter instancesSet cannot be used with the parameter maxResults")  # fmt: skip
    servers = named_servers(backends, request, wanted) if wanted else servers_of(backends, request)
    context = view_context(backends, servers)
    views = []
    for server in servers:
        view = instance_view(server, context)
        view["_reservationId"] = context.reservation_ids[server.instance.reservation_id]
        view["_ownerId"] = server.instance.project_id
        views.append(view)
    selected = INSTANCE_FILTERS.apply(views, filters_of(request.params))
    shown, next_token = page(selected, request.params, key=backends.token_key,
                             scope=f"DescribeInstances:{request.project_id}")  # fmt: skip
    reservations: dict[str, dict[str, Any]] = {}
    for view in shown:
        reservation_id, owner = view.pop("_reservationId"), view.pop("_ownerId")
        reservation = reservations.setdefault(reservation_id, {
            "reservationId": reservation_id, "ownerId": owner, "groupSet": [], "instancesSet": [],
        })  # fmt: skip
        reservation["instancesSet"].append(view)
    return {"reservationSet": list(reservations.values()), "nextToken": next_token}


STATUS_FILTERS: FilterTable[dict[str, Any]] = FilterTable({
    "availability-zone": lambda s: s["availabilityZone"],
    "instance-state-code": lambda s: s["instanceState"]["code"],
    "instance-state-name": lambda s: s["instanceState"]["name"],
    "instance-status.status": lambda s: s["instanceStatus"]["status"],
    "instance-status.reachability": lambda s: s["instanceStatus"]["details"][0]["status"],
    "system-status.status": lambda s: s["systemStatus"]["status"],
    "system-status.reachability": lambda s: s["systemStatus"]["details"][0]["status"],
})  # fmt: skip


def _status(server: Server, context: ViewContext) -> dict[str, Any]:
    instance = server.instance
    state = ec2_state(instance.vm_state, instance.task_state, bool(instance.deleted))
    running = state[1] == "running"
    reachable = "passed" if running else "initializing" if state[1] == "pending" else "failed"
    summary = "ok" if running else "initializing" if state[1] == "pending" else "not-applicable"
    host_ok = server.host_status in ("UP", "")
    return {
        "instanceId": context.instance_ids[instance.uuid],
        "availabilityZone": server.availability_zone or instance.availability_zone or "",
        "instanceState": state_view(state),
        "instanceStatus": {"status": summary, "details": [{"name": "reachability", "status": reachable}]},
        "systemStatus": {"status": summary if host_ok else "impaired",
                         "details": [{"name": "reachability", "status": reachable if host_ok else "failed"}]},
    }  # fmt: skip


def describe_instance_status(backends: Backends, request: Ec2Request) -> Response:
    wanted = request.params.strings("InstanceId")
    servers = named_servers(backends, request, wanted) if wanted else servers_of(backends, request)
    if not request.params.boolean("IncludeAllInstances"):
        servers = [s for s in servers if ec2_state(s.instance.vm_state, s.instance.task_state,
                                                   bool(s.instance.deleted))[1] == "running"]  # fmt: skip
    context = view_context(backends, servers)
    statuses = STATUS_FILTERS.apply([_status(server, context) for server in servers],
                                    filters_of(request.params))  # fmt: skip
    shown, next_token = page(statuses, request.params, key=backends.token_key,
                             scope=f"DescribeInstanceStatus:{request.project_id}")  # fmt: skip
    return {"instanceStatusSet": list(shown), "nextToken": next_token}
