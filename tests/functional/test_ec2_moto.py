"""The reference check: the same boto3 calls against moto's EC2 server (started here on loopback) and
against the cloud, with the parsed responses compared key by key (values differ; keys and types must
not), for every action both implement. DELIBERATE lists what differs on purpose, with the reason."""

from __future__ import annotations

import base64
import subprocess
import sys
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import boto3
import httpx
import pytest
from botocore.config import Config
from cryptography.hazmat.primitives import serialization
from cryptography.hazmat.primitives.asymmetric import rsa

from overcast.metadata.ec2_ids import derived_id
from tests.support.cloud import IMAGE_ID, InProcessCloud
from tests.support.ec2 import client_options, ec2_session
from tests.support.ports import free_port
from tests.support.waiting import wait_until

MOTO_SERVER = Path(sys.executable).with_name("moto_server")
FAST = {"Delay": 0.2, "MaxAttempts": 100}
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


def _free_moto() -> Iterator[str]:
    port = free_port()
    process = subprocess.Popen(
        [str(MOTO_SERVER), "-H", "127.0.0.1", "-p", str(port)],
        stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL,
    )  # fmt: skip
    url = f"http://127.0.0.1:{port}"

    def up() -> bool:
        try:
            return httpx.get(f"{url}/moto-api/", timeout=1).status_code < 500
        except httpx.HTTPError:
            return False

    try:
        wait_until(up, 30, what="moto's server")
        yield url
    finally:
        process.terminate()
        process.wait(10)


@pytest.fixture(scope="module")
def moto_url() -> Iterator[str]:
    yield from _free_moto()


def _shape(value: Any) -> Any:
    """What is compared: dict keys with their shapes, a list's first item, a scalar's type."""
    if isinstance(value, dict):
        return {key: _shape(child) for key, child in value.items() if key != "ResponseMetadata"}
    if isinstance(value, list):
        return [_shape(value[0])] if value else []
    return type(value).__name__


def _differences(action: str, ours: Any, theirs: Any, path: str = "") -> list[str]:
    if isinstance(ours, dict) and isinstance(theirs, dict):
        found = []
        for key in sorted(set(ours) | set(theirs)):
            child = f"{path}.{key}" if path else key
            if (action, child) in DELIBERATE or ("*", child) in DELIBERATE:
                continue
            if key not in ours:
                found.append(f"{action}: {child} only in moto")
            elif key not in theirs:
                found.append(f"{action}: {child} only in overcast")
            else:
                found.extend(_differences(action, ours[key], theirs[key], child))
        return found
    if isinstance(ours, list) and isinstance(theirs, list):
        if ours and theirs:
            return _differences(action, ours[0], theirs[0], f"{path}.*")
        return []
    if ours != theirs and not (isinstance(ours, (dict, list)) or isinstance(theirs, (dict, list))):
        return [f"{action}: {path} is {ours} here, {theirs} in moto"]
    if ours != theirs:
        return [f"{action}: {path} differs in kind"]
    return []


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
    answers["CreateImage"] = client.create_image(InstanceId=instance_id, Name="reference-image")
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
    answers["StopInstances"] = client.stop_instances(InstanceIds=[instance_id])
    client.get_waiter("instance_stopped").wait(InstanceIds=[instance_id], WaiterConfig=FAST)
    answers["StartInstances"] = client.start_instances(InstanceIds=[instance_id])
    answers["TerminateInstances"] = client.terminate_instances(InstanceIds=[instance_id])
    answers["DeleteKeyPair"] = client.delete_key_pair(KeyName="reference-made")
    return answers


def test_response_shapes_match_motos(cloud: InProcessCloud, moto_url: str) -> None:
    ours = scenario(ec2_session(cloud, "demo").client("ec2", **client_options(cloud)),
                    derived_id("ami", IMAGE_ID), "m1.tiny", "RegionOne")  # fmt: skip
    moto = boto3.session.Session(aws_access_key_id="testing", aws_secret_access_key="testing",
                                 region_name="us-east-1").client(
        "ec2", endpoint_url=moto_url, config=Config(retries={"max_attempts": 1}))  # fmt: skip
    moto_image = moto.describe_images(Owners=["amazon"])["Images"][0]["ImageId"]
    theirs = scenario(moto, moto_image, "t2.micro", "us-east-1")
    differences = [
        difference for action in ours
        for difference in _differences(action, _shape(ours[action]), _shape(theirs[action]))
    ]  # fmt: skip
    assert differences == [], "\n".join(differences)
