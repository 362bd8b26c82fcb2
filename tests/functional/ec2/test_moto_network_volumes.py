"""The reference check of the network and EBS actions: the same boto3 calls against moto's EC2 server
(started here on loopback) and against the cloud (a network agent on the noop data plane, a volume host on
the fake volume driver), with the parsed responses compared key by key as test_moto.py compares the
other actions. DELIBERATE lists what differs on purpose, with the reason."""

from __future__ import annotations

from typing import Any

from tests.functional.ec2.support import AMI, FAST, NETWORK, VOLUME, answer_differences, delete_snapshot

SERVICES = (NETWORK, VOLUME)
_NEWER = "AWS's current model has it; moto's predates it"
_EMPTY = "an empty set: AWS leaves it out, moto shows it"
_NO_DNS = "the cloud gives instances no DNS names"
_CHANGED_ONLY = "a modification shows every original and target (AWS); moto only those the request changed"
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
    **{(action, f"{path}.{key}"): _CHANGED_ONLY
       for action, path in (("ModifyVolume", "VolumeModification"),
                            ("DescribeVolumesModifications", "VolumesModifications.*"))
       for key in ("OriginalMultiAttachEnabled", "OriginalVolumeType", "TargetMultiAttachEnabled",
                   "TargetVolumeType")},
    ("DeleteSecurityGroup", "Return"): _NEWER,
    **{("DescribeImages", f"Images.*.{key}"): "AWS shows it for every image; moto's registered image lacks it"
       for key in ("Architecture", "Hypervisor", "ImageLocation", "VirtualizationType",
                   "BlockDeviceMappings.*.Ebs.Encrypted")},
    **{("DescribeImages", f"Images.*.{key}"): _NEWER
       for key in ("EnaSupport", "PlatformDetails", "UsageOperation")},
    ("DescribeImages", "Images.*.Description"): "no description given, none shown (moto: '')",
    ("DescribeImages", "Images.*.BlockDeviceMappings.*.Ebs.VolumeType"):
        "shown when the mapping names one of the cloud's types; the default type has no AWS name",
}  # fmt: skip


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
    answers["RegisterImage"] = client.register_image(
        Name="reference-ebs", RootDeviceName="/dev/sda1",
        BlockDeviceMappings=[{"DeviceName": "/dev/sda1", "Ebs": {"SnapshotId": snapshot, "VolumeSize": 1}}],
    )  # fmt: skip
    ebs_image = answers["RegisterImage"]["ImageId"]
    answers["DescribeImages"] = client.describe_images(ImageIds=[ebs_image])
    answers["DeregisterImage"] = client.deregister_image(ImageId=ebs_image)
    answers["ModifyVolume"] = client.modify_volume(VolumeId=volume, Size=2)
    answers["DescribeVolumesModifications"] = client.describe_volumes_modifications(VolumeIds=[volume])
    answers["DeleteSnapshot"] = delete_snapshot(client, snapshot)
    client.get_waiter("volume_available").wait(VolumeIds=[volume], WaiterConfig=FAST)
    answers["DeleteVolume"] = client.delete_volume(VolumeId=volume)

    client.terminate_instances(InstanceIds=[instance])
    client.get_waiter("instance_terminated").wait(InstanceIds=[instance], WaiterConfig=FAST)
    answers["DeleteSecurityGroup"] = client.delete_security_group(GroupId=group)
    return answers


def test_network_and_volume_response_shapes_match_motos(
    ec2: Any, moto_ec2: Any, topology: dict[str, Any]
) -> None:
    ours = scenario(ec2, AMI, "m1.tiny", "nova")
    moto_image = moto_ec2.describe_images(Owners=["amazon"])["Images"][0]["ImageId"]
    theirs = scenario(moto_ec2, moto_image, "t2.micro", "us-east-1a")
    found = answer_differences(ours, theirs, DELIBERATE)
    assert found == [], "\n".join(found)
