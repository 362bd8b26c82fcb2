"""The instance actions' table: RunInstances (run_instances.py), Describe/DescribeInstanceStatus
(instance_reads.py), Start/Stop/Reboot/TerminateInstances (instance_states.py), GetConsoleOutput and
Describe/ModifyInstanceAttribute (instance_attributes.py), DescribeInstanceTypes (instance_types.py)."""

from __future__ import annotations

from overcast.compute import policies as compute_policies
from overcast.ec2.actions import Action
from overcast.ec2.instance_attributes import (
    describe_instance_attribute,
    get_console_output,
    modify_instance_attribute,
)
from overcast.ec2.instance_reads import describe_instance_status, describe_instances
from overcast.ec2.instance_states import (
    reboot_instances,
    start_instances,
    stop_instances,
    terminate_instances,
)
from overcast.ec2.instance_types import describe_instance_types
from overcast.ec2.run_instances import run_instances

# The instance actions' own codes: a server NotFound is an instance id that names nothing, a Conflict an
# instance in a state the action cannot start from.
_INSTANCE_CODES = {"not_found": "InvalidInstanceID.NotFound", "conflict": "IncorrectInstanceState"}
ACTIONS = (
    Action("RunInstances", run_instances, rule=compute_policies.SERVERS_CREATE,
           not_found="InvalidAMIID.NotFound", quota="InstanceLimitExceeded"),
    Action("DescribeInstances", describe_instances, rule=compute_policies.SERVERS_DETAIL, **_INSTANCE_CODES),
    Action("DescribeInstanceStatus", describe_instance_status, rule=compute_policies.SERVERS_DETAIL,
           **_INSTANCE_CODES),
    Action("StartInstances", start_instances, **_INSTANCE_CODES),
    Action("StopInstances", stop_instances, **_INSTANCE_CODES),
    Action("RebootInstances", reboot_instances, **_INSTANCE_CODES),
    Action("TerminateInstances", terminate_instances, **_INSTANCE_CODES),
    Action("GetConsoleOutput", get_console_output, **_INSTANCE_CODES),
    Action("DescribeInstanceAttribute", describe_instance_attribute, rule=compute_policies.SERVERS_SHOW,
           **_INSTANCE_CODES),
    Action("ModifyInstanceAttribute", modify_instance_attribute, **_INSTANCE_CODES),
    Action("DescribeInstanceTypes", describe_instance_types),
)  # fmt: skip
