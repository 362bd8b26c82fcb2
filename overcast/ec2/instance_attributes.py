"""GetConsoleOutput and Describe/ModifyInstanceAttribute: a stopped instance's type change is a resize
confirmed as soon as it is ready, its user data is rewritten in place, and disableApiTermination is the
termination protection compute's DELETE honours (termination.py)."""

from __future__ import annotations

import base64
import time
from typing import Any

from sqlalchemy import update

from overcast import errors, policy
from overcast.compute import policies as compute_policies
from overcast.compute import states
from overcast.db.models.compute import Instance
from overcast.ec2 import termination
from overcast.ec2.backends import Backends, Ec2Request, Response
from overcast.ec2.errors import Ec2Error, invalid_value, missing_parameter
from overcast.ec2.instance_reads import named_servers
from overcast.ec2.instance_types import flavor_id_of
from overcast.ec2.instance_views import ec2_state, instance_view, view_context
from overcast.ec2.params import Params

# How long ModifyInstanceAttribute waits for a stopped instance's resize to be ready to confirm.
RESIZE_TIMEOUT, RESIZE_POLL = 120.0, 0.05


def get_console_output(backends: Backends, request: Ec2Request) -> Response:
    ec2_id = request.params.required("InstanceId")
    server = named_servers(backends, request, [ec2_id])[0]
    policy.enforce(
        request.context, compute_policies.CONSOLE_OUTPUT, request.target(server.instance.project_id)
    )
    try:
        output = backends.compute.actions.console_output(request.context, server.instance.uuid, None)
    except errors.Conflict:
        output = ""
    return {
        "instanceId": ec2_id, "timestamp": backends.clock(),
        "output": base64.b64encode(output.encode()).decode() if output else None,
    }  # fmt: skip


INSTANCE_ATTRIBUTES = {
    "instanceType": "instanceType", "kernel": "kernel", "ramdisk": "ramdisk", "userData": "userData",
    "disableApiTermination": "disableApiTermination", "instanceInitiatedShutdownBehavior":
    "instanceInitiatedShutdownBehavior", "rootDeviceName": "rootDeviceName", "blockDeviceMapping":
    "blockDeviceMapping", "productCodes": "productCodes", "sourceDestCheck": "sourceDestCheck",
    "groupSet": "groupSet", "ebsOptimized": "ebsOptimized", "sriovNetSupport": "sriovNetSupport",
    "enaSupport": "enaSupport", "disableApiStop": "disableApiStop",
}  # fmt: skip


def describe_instance_attribute(backends: Backends, request: Ec2Request) -> Response:
    ec2_id = request.params.required("InstanceId")
    attribute = request.params.required("Attribute")
    if attribute not in INSTANCE_ATTRIBUTES:
        raise invalid_value("Attribute", attribute, "It is not an instance attribute.")
    server = named_servers(backends, request, [ec2_id])[0]
    view = instance_view(server, view_context(backends, [server]))
    values: dict[str, Any] = {
        "instanceType": {"value": view["instanceType"]},
        "kernel": {"value": view["kernelId"]} if view["kernelId"] else {},
        "ramdisk": {"value": view["ramdiskId"]} if view["ramdiskId"] else {},
        "userData": {"value": server.instance.user_data} if server.instance.user_data else {},
        "disableApiTermination": {"value": termination.is_protected(backends, server.instance.uuid)},
        "instanceInitiatedShutdownBehavior": {"value": "stop"},
        "rootDeviceName": {"value": view["rootDeviceName"]},
        "blockDeviceMapping": view["blockDeviceMapping"],
        "productCodes": [],
        "sourceDestCheck": {"value": True},
        "groupSet": view["groupSet"],
        "ebsOptimized": {"value": False},
        "sriovNetSupport": {},
        "enaSupport": {"value": False},
        "disableApiStop": {"value": False},
    }
    return {"instanceId": ec2_id, attribute: values[attribute]}


def _new_value(params: Params, attribute: str) -> str:
    """ModifyInstanceAttribute's value: `Attribute`+`Value`, or the attribute's own `<Name>.Value`."""
    nested = params.get(f"{attribute[0].upper()}{attribute[1:]}.Value")
    value = nested if nested is not None else params.get("Value")
    if value is None:
        raise missing_parameter("Value")
    return value


def modify_instance_attribute(backends: Backends, request: Ec2Request) -> Response:
    params = request.params
    ec2_id = params.required("InstanceId")
    server = named_servers(backends, request, [ec2_id])[0]
    uuid = server.instance.uuid
    named = params.get("Attribute")
    present = [name for name in ("instanceType", "userData", "disableApiTermination")
               if named == name or params.has(f"{name[0].upper()}{name[1:]}")]  # fmt: skip
    if named is not None and named not in ("instanceType", "userData", "disableApiTermination"):
        raise Ec2Error("UnsupportedOperation", f"Modifying the attribute {named} is not supported.")
    if not present:
        raise missing_parameter("Attribute")
    target = request.target(server.instance.project_id)
    for attribute in present:
        value = _new_value(params, attribute)
        state = ec2_state(server.instance.vm_state, server.instance.task_state)[1]
        if attribute == "instanceType":
            if state != "stopped":
                raise Ec2Error(
                    "IncorrectInstanceState", f"The instance '{ec2_id}' is not in the 'stopped' state."
                )
            policy.enforce(request.context, compute_policies.RESIZE, target)
            _resize_and_confirm(backends, request, uuid, flavor_id_of(backends, request, value))
        elif attribute == "userData":
            if state != "stopped":
                raise Ec2Error(
                    "IncorrectInstanceState", f"The instance '{ec2_id}' is not in the 'stopped' state."
                )
            policy.enforce(request.context, compute_policies.SERVERS_UPDATE, target)
            _set_user_data(backends, uuid, base64.b64encode(base64.b64decode(value)).decode())
        else:
            policy.enforce(request.context, compute_policies.SERVERS_UPDATE, target)
            termination.protect(backends, uuid, Params({attribute: value}).boolean(attribute))
    return {"return": True}


def _resize_and_confirm(backends: Backends, request: Ec2Request, uuid: str, flavor_id: str) -> None:
    """EC2 changes a stopped instance's type at once: the resize is confirmed as soon as it is ready."""
    backends.compute.actions.resize(request.context, uuid, flavor_id)
    deadline = time.monotonic() + RESIZE_TIMEOUT
    while time.monotonic() < deadline:
        instance = backends.compute.servers.find(request.context, uuid)
        if instance.vm_state == states.RESIZED and instance.task_state is None:
            backends.compute.actions.confirm_resize(request.context, uuid)
            return
        if instance.vm_state == states.ERROR or (
            instance.task_state is None and instance.vm_state == states.STOPPED
        ):
            raise Ec2Error("InsufficientInstanceCapacity", "The instance type could not be changed.")
        time.sleep(RESIZE_POLL)
    raise Ec2Error("IncorrectInstanceState", "The instance type change is still in progress.")


def _set_user_data(backends: Backends, uuid: str, user_data: str) -> None:
    backends.db.write(lambda session: session.execute(
        update(Instance).where(Instance.uuid == uuid, Instance.deleted.is_(False)).values(user_data=user_data)
    ))  # fmt: skip
