"""Actions that need the network and volume services' EC2 side, which is not built yet: each answers
AWS's UnsupportedOperation, so clients learn the cloud lacks it rather than that the action is unknown.
A module implementing one of them takes its name off this list."""

from __future__ import annotations

from overcast.ec2.actions import Action
from overcast.ec2.backends import Backends, Ec2Request, Response
from overcast.ec2.errors import Ec2Error

WAITING_FOR_NETWORK = (
    "DescribeVpcs", "DescribeSubnets", "CreateSecurityGroup", "DescribeSecurityGroups", "DeleteSecurityGroup",
    "AuthorizeSecurityGroupIngress", "AuthorizeSecurityGroupEgress", "RevokeSecurityGroupIngress",
    "RevokeSecurityGroupEgress", "DescribeNetworkInterfaces", "AllocateAddress", "AssociateAddress",
    "DisassociateAddress", "ReleaseAddress", "DescribeAddresses",
)  # fmt: skip


def unsupported(backends: Backends, request: Ec2Request) -> Response:
    raise Ec2Error("UnsupportedOperation", f"The action {request.action} is not supported by this cloud yet.")


ACTIONS = tuple(Action(name, unsupported) for name in WAITING_FOR_NETWORK)
