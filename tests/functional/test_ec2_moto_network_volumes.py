"""The reference check of the network and EBS actions: the same boto3 calls against moto's EC2 server
(started here on loopback) and against the cloud (a network agent on the noop data plane, a volume host on
the fake volume driver), with the parsed responses compared key by key as test_ec2_moto.py compares the
other actions. DELIBERATE lists what differs on purpose, with the reason."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path
from typing import Any

import boto3
import pytest
from botocore.config import Config
from openstack.connection import Connection

from overcast.metadata.ec2_ids import derived_id
from overcast.network.drivers.noop import NoopDriver
from overcast.network.manager import NetworkManager
from overcast.service import Service
from overcast.virt.fake import FakeDriver
from overcast.volume.drivers.fake import FakeVolumeDriver
from overcast.volume.manager import VolumeManager
from tests.functional.test_ec2_moto import _differences, _free_moto, _shape
from tests.support.cloud import IMAGE_ID, InProcessCloud
from tests.support.ec2 import client_options, ec2_session

FAST = {"Delay": 0.2, "MaxAttempts": 100}
HOST = "compute-1"
_NEWER = "AWS's current model has it; moto's predates it"
_EMPTY = "an empty set: AWS leaves it out, moto shows it"
_NO_DNS = "the cloud gives instances no DNS names"
# (action, path of keys below the response): why the two differ there; a path names its key and below.
DELIBERATE: dict[tuple[str, str], str] = {
    ("DescribeVpcs", "Vpcs.*.Ipv6CidrBlockAssociationSet"): _EMPTY,
    **{(action, path): _EMPTY for action, path in (
        ("DescribeVpcs", "Vpcs.*.Tags"), ("DescribeSubnets", "Subnets.*.Tags"),
        ("DescribeSecurityGroups", "SecurityGroups.*.Tags"),
        ("DescribeNetworkInterfaces", "NetworkInterfaces.*.TagSet"),
        ("DescribeAddresses", "Addresses.*.Tags"),
        ("CreateSnapshot", "Tags"), ("DescribeSnapshots", "Snapshots.*.Tags"))},
    ("AuthorizeSecurityGroupIngress", "SecurityGroupRules.*.Tags"): _EMPTY,
    ("AuthorizeSecurityGroupEgress", "SecurityGroupRules.*.Tags"): _EMPTY,
    ("DescribeSecurityGroups", "SecurityGroups.*.VpcId"): "a Neutron security group belongs to no network",
    ("DescribeNetworkInterfaces", "NetworkInterfaces.*.Association"):
        "no public address before an elastic IP is associated (moto's default subnet maps one at launch)",
    ("DescribeNetworkInterfaces", "NetworkInterfaces.*.Ipv6Addresses"): _EMPTY,
    ("DescribeNetworkInterfaces", "NetworkInterfaces.*.PrivateDnsName"): _NO_DNS,
    ("DescribeNetworkInterfaces", "NetworkInterfaces.*.PrivateIpAddresses.*.PrivateDnsName"): _NO_DNS,
    ("DescribeNetworkInterfaces", "NetworkInterfaces.*.RequesterId"):
        "AWS names a requester for interfaces a service made only (moto for every one)",
    ("AllocateAddress", "NetworkBorderGroup"): _NEWER,
    ("AllocateAddress", "PublicIpv4Pool"): _NEWER,
    ("DescribeAddresses", "Addresses.*.NetworkBorderGroup"): _NEWER,
    ("DescribeAddresses", "Addresses.*.PublicIpv4Pool"): _NEWER,
    ("CreateVolume", "Attachments"): "AWS's CreateVolume answer has no attachment set",
    ("CreateVolume", "MultiAttachEnabled"): _NEWER,
    ("DescribeVolumes", "Volumes.*.MultiAttachEnabled"): _NEWER,
    ("DescribeVolumes", "Volumes.*.Attachments.*.DeleteOnTermination"): _NEWER,
    ("CreateVolume", "SnapshotId"):
        "AWS shows an empty SnapshotId for a volume made from none; moto omits it",
    ("DescribeVolumes", "Volumes.*.SnapshotId"):
        "AWS shows an empty SnapshotId for a volume made from none; moto omits it",
    ("ModifyVolume", "VolumeModification.EndTime"):
        "the volume host grows the volume after the answer (modifying); moto completes at once",
    **{("ModifyVolume", f"VolumeModification.{key}"): _NEWER for key in (
        "OriginalMultiAttachEnabled", "OriginalVolumeType", "TargetMultiAttachEnabled", "TargetVolumeType")},
    ("DeleteSecurityGroup", "Return"): _NEWER,
}  # fmt: skip


class FullCloud:
    """One compute host with its network agent, and a volume host."""

    def __init__(self, data_dir: Path) -> None:
        self.cloud = InProcessCloud(data_dir, drivers={HOST: FakeDriver()}, volume_driver="fake")
        volumes = VolumeManager(self.cloud.cloud, "volume-1", driver=FakeVolumeDriver(data_dir / "pool"),
                                images=self.cloud.image_api)  # fmt: skip
        self.services = [
            Service(self.cloud.cloud, NetworkManager(self.cloud.cloud, HOST, driver=NoopDriver())),
            Service(self.cloud.cloud, volumes),
        ]
        for service in self.services:
            service.start()

    def stop(self) -> None:
        for service in self.services:
            service.stop()
        self.cloud.stop()


@pytest.fixture(scope="module")
def cloud(tmp_path_factory: pytest.TempPathFactory) -> Iterator[InProcessCloud]:
    running = FullCloud(tmp_path_factory.mktemp("ec2-moto-network-volumes"))
    yield running.cloud
    running.stop()


@pytest.fixture(scope="module")
def moto_url() -> Iterator[str]:
    yield from _free_moto()


@pytest.fixture(scope="module")
def topology(demo: Connection, admin: Connection) -> None:
    public = admin.network.create_network(name="public", is_router_external=True)
    admin.network.create_subnet(
        network_id=public.id, ip_version=4, cidr="203.0.113.0/24", is_dhcp_enabled=False
    )
    private = demo.network.create_network(name="private")
    subnet = demo.network.create_subnet(network_id=private.id, ip_version=4, cidr="10.90.0.0/24")
    router = demo.network.create_router(name="edge", external_gateway_info={"network_id": public.id})
    demo.network.add_interface_to_router(router, subnet=subnet.id)


def scenario(client: Any, image_id: str, instance_type: str, zone: str) -> dict[str, Any]:
    """Every network and EBS action, once, with what each answered."""
    answers: dict[str, Any] = {}
    answers["DescribeVpcs"] = client.describe_vpcs()
    vpc_id = answers["DescribeVpcs"]["Vpcs"][0]["VpcId"]
    answers["DescribeSubnets"] = client.describe_subnets(Filters=[{"Name": "vpc-id", "Values": [vpc_id]}])
    subnet_id = answers["DescribeSubnets"]["Subnets"][0]["SubnetId"]
    answers["CreateSecurityGroup"] = client.create_security_group(
        GroupName="reference", Description="reference group", VpcId=vpc_id
    )
    group = answers["CreateSecurityGroup"]["GroupId"]
    ssh = {"IpProtocol": "tcp", "FromPort": 22, "ToPort": 22, "IpRanges": [{"CidrIp": "10.0.0.0/8"}]}
    out = {"IpProtocol": "tcp", "FromPort": 443, "ToPort": 443, "IpRanges": [{"CidrIp": "192.0.2.0/24"}]}
    answers["AuthorizeSecurityGroupIngress"] = client.authorize_security_group_ingress(
        GroupId=group, IpPermissions=[ssh]
    )
    answers["AuthorizeSecurityGroupEgress"] = client.authorize_security_group_egress(
        GroupId=group, IpPermissions=[out]
    )
    answers["DescribeSecurityGroups"] = client.describe_security_groups(GroupIds=[group])
    answers["RevokeSecurityGroupEgress"] = client.revoke_security_group_egress(
        GroupId=group, IpPermissions=[out]
    )
    answers["RevokeSecurityGroupIngress"] = client.revoke_security_group_ingress(
        GroupId=group, IpPermissions=[ssh]
    )

    made = client.run_instances(ImageId=image_id, MinCount=1, MaxCount=1, InstanceType=instance_type,
                                SubnetId=subnet_id)  # fmt: skip
    instance = made["Instances"][0]["InstanceId"]
    client.get_waiter("instance_running").wait(InstanceIds=[instance], WaiterConfig=FAST)
    answers["DescribeNetworkInterfaces"] = client.describe_network_interfaces(
        Filters=[{"Name": "attachment.instance-id", "Values": [instance]}]
    )
    answers["AllocateAddress"] = client.allocate_address(Domain="vpc")
    allocation = answers["AllocateAddress"]["AllocationId"]
    answers["AssociateAddress"] = client.associate_address(AllocationId=allocation, InstanceId=instance)
    answers["DescribeAddresses"] = client.describe_addresses(AllocationIds=[allocation])
    answers["DisassociateAddress"] = client.disassociate_address(
        AssociationId=answers["AssociateAddress"]["AssociationId"]
    )
    answers["ReleaseAddress"] = client.release_address(AllocationId=allocation)

    answers["CreateVolume"] = client.create_volume(Size=1, AvailabilityZone=zone)
    volume = answers["CreateVolume"]["VolumeId"]
    client.get_waiter("volume_available").wait(VolumeIds=[volume], WaiterConfig=FAST)
    answers["AttachVolume"] = client.attach_volume(VolumeId=volume, InstanceId=instance, Device="/dev/sdf")
    client.get_waiter("volume_in_use").wait(VolumeIds=[volume], WaiterConfig=FAST)
    answers["DescribeVolumes"] = client.describe_volumes(VolumeIds=[volume])
    answers["DetachVolume"] = client.detach_volume(VolumeId=volume, InstanceId=instance, Device="/dev/sdf")
    client.get_waiter("volume_available").wait(VolumeIds=[volume], WaiterConfig=FAST)
    answers["CreateSnapshot"] = client.create_snapshot(VolumeId=volume, Description="reference")
    snapshot = answers["CreateSnapshot"]["SnapshotId"]
    client.get_waiter("snapshot_completed").wait(SnapshotIds=[snapshot], WaiterConfig=FAST)
    answers["DescribeSnapshots"] = client.describe_snapshots(SnapshotIds=[snapshot])
    answers["ModifyVolume"] = client.modify_volume(VolumeId=volume, Size=2)
    answers["DeleteSnapshot"] = client.delete_snapshot(SnapshotId=snapshot)
    client.get_waiter("volume_available").wait(VolumeIds=[volume], WaiterConfig=FAST)
    answers["DeleteVolume"] = client.delete_volume(VolumeId=volume)

    client.terminate_instances(InstanceIds=[instance])
    client.get_waiter("instance_terminated").wait(InstanceIds=[instance], WaiterConfig=FAST)
    answers["DeleteSecurityGroup"] = client.delete_security_group(GroupId=group)
    return answers


def test_network_and_volume_response_shapes_match_motos(
    cloud: InProcessCloud, moto_url: str, topology: None
) -> None:
    ours = scenario(ec2_session(cloud, "demo").client("ec2", **client_options(cloud)),
                    derived_id("ami", IMAGE_ID), "m1.tiny", "nova")  # fmt: skip
    moto = boto3.session.Session(aws_access_key_id="testing", aws_secret_access_key="testing",
                                 region_name="us-east-1").client(
        "ec2", endpoint_url=moto_url, config=Config(retries={"max_attempts": 1}))  # fmt: skip
    moto_image = moto.describe_images(Owners=["amazon"])["Images"][0]["ImageId"]
    theirs = scenario(moto, moto_image, "t2.micro", "us-east-1a")
    differences = [
        difference for action in ours
        for difference in _differences(action, _shape(ours[action]), _shape(theirs[action]))
        if not any(difference.startswith(f"{action}: {path}") for name, path in DELIBERATE if name == action)
    ]  # fmt: skip
    assert differences == [], "\n".join(differences)
