"""The reference check: the same boto3 calls against moto's EC2 server (started here on loopback) and
against the cloud, with the parsed responses compared key by key (values differ; keys and types must
not), for every action both implement. DELIBERATE lists what differs on purpose, with the reason."""

from __future__ import annotations

import base64
from collections.abc import Callable
from typing import Any

from botocore.exceptions import ClientError
from cryptography.hazmat.primitives import serialization
from cryptography.hazmat.primitives.asymmetric import rsa

from tests.functional.ec2.support import AMI, FAST, answer_differences
from tests.support.waiting import wait_until

# (action, path of keys below the response): why the two differ there. A path ending in a key names that
# key, present on one side only; `*` stands for every item of a list.
_NEWER = "AWS's current model has it; moto's predates it"
_INSTANCE = ("Instances.*.", "Reservations.*.Instances.*.")
_NO_REASON = "AWS gives a reason for a state change only; a running instance has none"
_ROOT_DISK = "a flavor's root disk is instance storage; moto's t2.micro has none"
_NO_ADDRESS_YET = "an instance's address is known once its host wired it (DescribeInstances shows it)"
DELIBERATE: dict[tuple[str, str], str] = {
    **{("*", f"{prefix}{key}"): reason for prefix in _INSTANCE for key, reason in {
        "NetworkInterfaces": "network interfaces come with the network actions (E2's)",
        "SubnetId": "an instance on the driver's own network has no subnet",
        "VpcId": "an instance on the driver's own network has no VPC",
        "PublicIpAddress": "no floating IP is associated (AWS omits it too then)",
        "Platform": "AWS names a platform for Windows instances only",
        "SriovNetSupport": "no SR-IOV: AWS omits it then",
        "BootMode": _NEWER, "CpuOptions": _NEWER, "CurrentInstanceBootMode": _NEWER, "EnaSupport": _NEWER,
        "EnclaveOptions": _NEWER, "HibernationOptions.Configured": _NEWER, "PlatformDetails": _NEWER,
        "UsageOperation": _NEWER,
    }.items()},
    ("DescribeInstances", "Reservations.*.Instances.*.StateReason"): _NO_REASON,
    **{("DescribeAvailabilityZones", f"AvailabilityZones.*.{key}"): _NEWER
       for key in ("GroupName", "NetworkBorderGroup", "OptInStatus")},
    **{("DescribeInstanceTypes", f"InstanceTypes.*.{key}"): "virtual hardware the cloud has no source for"
       for key in ("EbsInfo", "NetworkInfo", "NitroEnclavesSupport", "NitroTpmSupport", "PhcSupport",
                   "PlacementGroupInfo", "ProcessorInfo.Manufacturer",
                   "ProcessorInfo.SustainedClockSpeedInGhz", "RebootMigrationSupport")},
    ("DescribeInstanceTypes", "InstanceTypes.*.InstanceStorageInfo"): _ROOT_DISK,
    ("DescribeKeyPairs", "KeyPairs.*.KeyType"): _NEWER,
    ("RunInstances", "Instances.*.PrivateIpAddress"): _NO_ADDRESS_YET,
    **{("DescribeImages", f"Images.*.{key}"): _NEWER
       for key in ("EnaSupport", "Hypervisor", "ImageLocation", "PlatformDetails", "UsageOperation")},
    ("DescribeImages", "Images.*.Platform"): "AWS names a platform for Windows images only",
    ("DescribeImages", "Images.*.Description"): "an image made without a description has none (moto: '')",
}  # fmt: skip


def once_idle(call: Callable[[], Any]) -> Any:
    """The call's answer once the instance has finished its last action: a reboot or an image here runs
    asynchronously (moto's are instant), and a busy instance answers IncorrectInstanceState, as AWS's does."""

    def attempt() -> Any:
        try:
            return call()
        except ClientError as error:
            if error.response["Error"]["Code"] != "IncorrectInstanceState":
                raise
            return None

    return wait_until(attempt, what="the instance to finish its last action")


def scenario(client: Any, image_id: str, instance_type: str, zone_region: str) -> dict[str, Any]:
    """Every action both implement, once, with what each answered."""
    answers: dict[str, Any] = {}
    answers["DescribeRegions"] = client.describe_regions(RegionNames=[zone_region])
    answers["DescribeAvailabilityZones"] = client.describe_availability_zones()
    answers["DescribeAccountAttributes"] = client.describe_account_attributes(
        AttributeNames=["max-instances"]
    )
    answers["DescribeInstanceTypes"] = client.describe_instance_types(InstanceTypes=[instance_type])
    key = rsa.generate_private_key(public_exponent=65537, key_size=2048).public_key()
    line = key.public_bytes(serialization.Encoding.OpenSSH, serialization.PublicFormat.OpenSSH)
    answers["CreateKeyPair"] = client.create_key_pair(KeyName="reference-made")
    answers["ImportKeyPair"] = client.import_key_pair(KeyName="reference-imported", PublicKeyMaterial=line)
    answers["DescribeKeyPairs"] = client.describe_key_pairs(KeyNames=["reference-made"])
    answers["RunInstances"] = client.run_instances(
        ImageId=image_id, MinCount=1, MaxCount=1, InstanceType=instance_type, KeyName="reference-imported",
        UserData=base64.b64encode(b"#!/bin/sh\n").decode(),
        TagSpecifications=[{"ResourceType": "instance", "Tags": [{"Key": "Name", "Value": "reference"}]}],
    )  # fmt: skip
    instance_id = answers["RunInstances"]["Instances"][0]["InstanceId"]
    client.get_waiter("instance_running").wait(InstanceIds=[instance_id], WaiterConfig=FAST)
    answers["DescribeInstances"] = client.describe_instances(InstanceIds=[instance_id])
    answers["DescribeInstanceStatus"] = client.describe_instance_status(InstanceIds=[instance_id])
    answers["DescribeInstanceAttribute"] = client.describe_instance_attribute(
        InstanceId=instance_id, Attribute="instanceType"
    )
    answers["GetConsoleOutput"] = client.get_console_output(InstanceId=instance_id)
    answers["CreateTags"] = client.create_tags(Resources=[instance_id], Tags=[{"Key": "tier", "Value": "x"}])
    answers["DescribeTags"] = client.describe_tags(Filters=[{"Name": "resource-id", "Values": [instance_id]}])
    answers["DeleteTags"] = client.delete_tags(Resources=[instance_id], Tags=[{"Key": "tier"}])
    answers["RebootInstances"] = client.reboot_instances(InstanceIds=[instance_id])
    answers["CreateImage"] = once_idle(
        lambda: client.create_image(InstanceId=instance_id, Name="reference-image")
    )
    image = answers["CreateImage"]["ImageId"]
    client.get_waiter("image_available").wait(ImageIds=[image], WaiterConfig=FAST)
    answers["DescribeImages"] = client.describe_images(ImageIds=[image])
    answers["ModifyImageAttribute"] = client.modify_image_attribute(
        ImageId=image, LaunchPermission={"Add": [{"UserId": "123456789012"}]}
    )
    answers["DescribeImageAttribute"] = client.describe_image_attribute(
        ImageId=image, Attribute="launchPermission"
    )
    answers["CopyImage"] = client.copy_image(
        SourceImageId=image, SourceRegion=zone_region, Name="reference-copy"
    )
    answers["DeregisterImage"] = client.deregister_image(ImageId=answers["CopyImage"]["ImageId"])
    answers["StopInstances"] = once_idle(lambda: client.stop_instances(InstanceIds=[instance_id]))
    client.get_waiter("instance_stopped").wait(InstanceIds=[instance_id], WaiterConfig=FAST)
    answers["StartInstances"] = client.start_instances(InstanceIds=[instance_id])
    answers["TerminateInstances"] = client.terminate_instances(InstanceIds=[instance_id])
    answers["DeleteKeyPair"] = client.delete_key_pair(KeyName="reference-made")
    return answers


def test_response_shapes_match_motos(ec2: Any, moto_ec2: Any) -> None:
    ours = scenario(ec2, AMI, "m1.tiny", "RegionOne")
    moto_image = moto_ec2.describe_images(Owners=["amazon"])["Images"][0]["ImageId"]
    theirs = scenario(moto_ec2, moto_image, "t2.micro", "us-east-1")
    found = answer_differences(ours, theirs, DELIBERATE)
    assert found == [], "\n".join(found)
