"""The EC2 API's EBS actions (volumes, attachments, snapshots) driven by boto3's client, resource API and
the volume_available waiter, against the in-process cloud with the fake virt driver and a volume host on
the fake volume driver."""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any

import boto3
import pytest
from botocore.exceptions import ClientError
from openstack.connection import Connection

from overcast.metadata.ec2_ids import derived_id
from tests.functional.ec2.support import AMI, FAST, VOLUME, delete_snapshot, error_code
from tests.support.cloud import InProcessCloud
from tests.support.ec2 import client_options
from tests.support.waiting import wait_until

SERVICES = (VOLUME,)


def _available(ec2: Any, *volume_ids: str) -> list[dict[str, Any]]:
    ec2.get_waiter("volume_available").wait(VolumeIds=list(volume_ids), WaiterConfig=FAST)
    volumes: list[dict[str, Any]] = ec2.describe_volumes(VolumeIds=list(volume_ids))["Volumes"]
    return volumes


@pytest.fixture(scope="module")
def instance(ec2: Any) -> Iterator[str]:
    made = ec2.run_instances(ImageId=AMI, MinCount=1, MaxCount=1, InstanceType="m1.tiny")
    instance_id = str(made["Instances"][0]["InstanceId"])
    ec2.get_waiter("instance_running").wait(InstanceIds=[instance_id], WaiterConfig=FAST)
    yield instance_id
    ec2.terminate_instances(InstanceIds=[instance_id])


def test_create_describe_filter_tag_and_delete_volumes(ec2: Any) -> None:
    made = ec2.create_volume(
        Size=2, AvailabilityZone="nova", VolumeType="gp2",
        TagSpecifications=[{"ResourceType": "volume", "Tags": [{"Key": "role", "Value": "data"}]}],
    )  # fmt: skip
    volume_id = made["VolumeId"]
    assert volume_id.startswith("vol-") and len(volume_id) == 4 + 17
    assert (made["Size"], made["AvailabilityZone"], made["Encrypted"]) == (2, "nova", False)
    assert made["State"] in ("creating", "available") and made["Tags"] == [{"Key": "role", "Value": "data"}]
    other = ec2.create_volume(Size=1, AvailabilityZone="nova")["VolumeId"]
    [volume] = _available(ec2, volume_id)
    assert volume["State"] == "available" and volume["Attachments"] == [] and volume["Size"] == 2
    assert volume["VolumeType"] and volume["CreateTime"].tzinfo is not None

    # Filters (tags and attributes), ids, pages of MaxResults.
    tagged = ec2.describe_volumes(Filters=[{"Name": "tag:role", "Values": ["data"]}])["Volumes"]
    assert [v["VolumeId"] for v in tagged] == [volume_id]
    by_size = ec2.describe_volumes(Filters=[{"Name": "size", "Values": ["1"]}])["Volumes"]
    assert [v["VolumeId"] for v in by_size] == [other]
    ec2.create_tags(Resources=[other], Tags=[{"Key": "role", "Value": "scratch"}])
    roles = ec2.describe_volumes(Filters=[{"Name": "tag-key", "Values": ["role"]}])["Volumes"]
    assert {v["VolumeId"] for v in roles} == {volume_id, other}
    pages = list(ec2.get_paginator("describe_volumes").paginate(PaginationConfig={"PageSize": 5}))
    assert {v["VolumeId"] for p in pages for v in p["Volumes"]} >= {volume_id, other}

    ec2.delete_volume(VolumeId=other)
    with pytest.raises(ClientError) as gone:
        ec2.describe_volumes(VolumeIds=[derived_id("vol", "00000000-0000-0000-0000-000000000000")])
    assert error_code(gone) == ("InvalidVolume.NotFound", 400)


def test_client_token_makes_create_volume_idempotent(ec2: Any) -> None:
    asked = {"Size": 1, "AvailabilityZone": "nova", "ClientToken": "volume-once"}
    made = ec2.create_volume(**asked)
    again = ec2.create_volume(**asked)
    assert again["VolumeId"] == made["VolumeId"] and again["Size"] == 1
    with pytest.raises(ClientError) as error:
        ec2.create_volume(**{**asked, "Size": 2})
    assert error_code(error) == ("IdempotentParameterMismatch", 400)
    # botocore gives every CreateVolume a token of its own: two calls without one are two volumes.
    first, second = (ec2.create_volume(Size=1, AvailabilityZone="nova")["VolumeId"] for _ in range(2))
    assert len({made["VolumeId"], first, second}) == 3
    for volume_id in _available(ec2, made["VolumeId"], first, second):
        ec2.delete_volume(VolumeId=volume_id["VolumeId"])


def test_attach_and_detach_with_ebs_device_names(ec2: Any, instance: str) -> None:
    volume_id = ec2.create_volume(Size=1, AvailabilityZone="nova")["VolumeId"]
    _available(ec2, volume_id)
    attached = ec2.attach_volume(VolumeId=volume_id, InstanceId=instance, Device="/dev/sdf")
    assert (attached["VolumeId"], attached["InstanceId"]) == (volume_id, instance)
    assert attached["State"] == "attaching"
    # The device the guest got (its vdb), as DescribeInstances names it.
    assert attached["Device"] == "/dev/sdb"
    ec2.get_waiter("volume_in_use").wait(VolumeIds=[volume_id], WaiterConfig=FAST)

    def attachments() -> list[dict[str, Any]]:
        # In use from the moment the attach starts (AWS's 'attaching'); the attachment shows once done.
        [volume] = ec2.describe_volumes(VolumeIds=[volume_id])["Volumes"]
        listed: list[dict[str, Any]] = volume["Attachments"]
        return listed

    [attachment] = wait_until(attachments, what="the volume's attachment")
    assert (attachment["InstanceId"], attachment["Device"], attachment["State"]) == (
        instance,
        "/dev/sdb",
        "attached",
    )
    by_instance = ec2.describe_volumes(Filters=[{"Name": "attachment.instance-id", "Values": [instance]}])
    assert [v["VolumeId"] for v in by_instance["Volumes"]] == [volume_id]
    [reservation] = ec2.describe_instances(InstanceIds=[instance])["Reservations"]
    devices = reservation["Instances"][0]["BlockDeviceMappings"]
    assert [(d["DeviceName"], d["Ebs"]["VolumeId"]) for d in devices] == [("/dev/sdb", volume_id)]

    # An attached volume cannot be deleted; a bad device name is AWS's error.
    with pytest.raises(ClientError) as busy:
        ec2.delete_volume(VolumeId=volume_id)
    assert error_code(busy)[0] in ("IncorrectState", "InvalidParameterValue", "VolumeInUse")
    with pytest.raises(ClientError) as bad_device:
        ec2.attach_volume(VolumeId=volume_id, InstanceId=instance, Device="sdf")
    assert error_code(bad_device) == ("InvalidParameterValue", 400)

    detached = ec2.detach_volume(VolumeId=volume_id)
    assert (detached["State"], detached["InstanceId"]) == ("detaching", instance)
    _available(ec2, volume_id)
    with pytest.raises(ClientError) as not_attached:
        ec2.detach_volume(VolumeId=volume_id)
    assert error_code(not_attached) == ("IncorrectState", 400)
    ec2.delete_volume(VolumeId=volume_id)


def test_modify_volume_grows_it(ec2: Any) -> None:
    volume_id = ec2.create_volume(Size=1, AvailabilityZone="nova")["VolumeId"]
    _available(ec2, volume_id)
    modification = ec2.modify_volume(VolumeId=volume_id, Size=3)["VolumeModification"]
    assert (modification["OriginalSize"], modification["TargetSize"]) == (1, 3)
    # ModifyVolume waits for the volume host's extend: its answer is the modification as that ended.
    assert (modification["ModificationState"], modification["Progress"]) == ("completed", 100)
    [volume] = _available(ec2, volume_id)
    assert volume["Size"] == 3
    with pytest.raises(ClientError) as smaller:
        ec2.modify_volume(VolumeId=volume_id, Size=2)
    assert error_code(smaller)[1] == 400
    ec2.delete_volume(VolumeId=volume_id)


def test_modify_volume_changes_its_type_to_one_of_the_clouds(ec2: Any, admin: Connection) -> None:
    admin.block_storage.create_type(name="fast")
    made = ec2.create_volume(Size=1, AvailabilityZone="nova")
    volume_id, original = made["VolumeId"], made["VolumeType"]
    _available(ec2, volume_id)
    retyped = ec2.modify_volume(VolumeId=volume_id, VolumeType="fast")["VolumeModification"]
    assert (retyped["OriginalVolumeType"], retyped["TargetVolumeType"]) == (original, "fast")
    assert (retyped["ModificationState"], retyped["Progress"]) == ("completed", 100)
    both = ec2.modify_volume(VolumeId=volume_id, VolumeType=original, Size=2)["VolumeModification"]
    assert (both["TargetVolumeType"], both["TargetSize"]) == (original, 2)
    assert both["ModificationState"] == "completed"
    [volume] = _available(ec2, volume_id)
    assert (volume["VolumeType"], volume["Size"]) == (original, 2)
    for bad in ({"VolumeType": "io9"}, {"Iops": 3000}):
        with pytest.raises(ClientError) as error:
            ec2.modify_volume(VolumeId=volume_id, **bad)
        assert error_code(error) == ("InvalidParameterValue", 400), bad
    ec2.delete_volume(VolumeId=volume_id)


def test_snapshots_and_a_volume_made_from_one(ec2: Any, cloud: InProcessCloud) -> None:
    volume_id = ec2.create_volume(Size=1, AvailabilityZone="nova")["VolumeId"]
    _available(ec2, volume_id)
    snapshot = ec2.create_snapshot(VolumeId=volume_id, Description="nightly")
    snapshot_id = snapshot["SnapshotId"]
    assert snapshot_id.startswith("snap-") and snapshot["VolumeId"] == volume_id
    assert snapshot["State"] in ("pending", "completed") and snapshot["VolumeSize"] == 1
    ec2.get_waiter("snapshot_completed").wait(SnapshotIds=[snapshot_id], WaiterConfig=FAST)
    [listed] = ec2.describe_snapshots(
        OwnerIds=["self"], Filters=[{"Name": "volume-id", "Values": [volume_id]}]
    )["Snapshots"]
    assert (listed["SnapshotId"], listed["Description"], listed["State"]) == (
        snapshot_id,
        "nightly",
        "completed",
    )
    assert listed["Progress"] == "100%"

    restored = ec2.create_volume(SnapshotId=snapshot_id, AvailabilityZone="nova")
    assert restored["SnapshotId"] == snapshot_id and restored["Size"] == 1
    _available(ec2, restored["VolumeId"])
    ec2.delete_volume(VolumeId=restored["VolumeId"])
    delete_snapshot(ec2, snapshot_id)
    ec2.delete_volume(VolumeId=volume_id)


def test_register_image_of_a_snapshot_boots_instances_on_volumes_made_from_it(ec2: Any) -> None:
    volume_id = ec2.create_volume(Size=2, AvailabilityZone="nova")["VolumeId"]
    _available(ec2, volume_id)
    snapshot_id = ec2.create_snapshot(VolumeId=volume_id)["SnapshotId"]
    ec2.get_waiter("snapshot_completed").wait(SnapshotIds=[snapshot_id], WaiterConfig=FAST)
    root = {"DeviceName": "/dev/sda1", "Ebs": {"SnapshotId": snapshot_id, "VolumeSize": 3}}
    data = {"DeviceName": "/dev/sdf", "Ebs": {"VolumeSize": 1, "DeleteOnTermination": True}}
    image_id = ec2.register_image(
        Name="from-snapshot", RootDeviceName="/dev/sda1", BlockDeviceMappings=[root, data]
    )["ImageId"]
    [image] = ec2.describe_images(ImageIds=[image_id])["Images"]
    assert (image["State"], image["RootDeviceType"]) == ("available", "ebs")
    shown = [
        (m["DeviceName"], m["Ebs"].get("SnapshotId"), m["Ebs"]["VolumeSize"])
        for m in image["BlockDeviceMappings"]
    ]
    assert shown == [("/dev/sda1", snapshot_id, 3), ("/dev/sdf", None, 1)]

    made = ec2.run_instances(ImageId=image_id, MinCount=1, MaxCount=1, InstanceType="m1.tiny")
    instance_id = made["Instances"][0]["InstanceId"]
    ec2.get_waiter("instance_running").wait(InstanceIds=[instance_id], WaiterConfig=FAST)
    on_it = ec2.describe_volumes(Filters=[{"Name": "attachment.instance-id", "Values": [instance_id]}])
    assert sorted((v["Size"], v["SnapshotId"]) for v in on_it["Volumes"]) == [(1, ""), (3, snapshot_id)]
    ec2.terminate_instances(InstanceIds=[instance_id])
    ec2.get_waiter("instance_terminated").wait(InstanceIds=[instance_id], WaiterConfig=FAST)

    for mappings, code in (
        ([data], "InvalidBlockDeviceMapping"),  # the root device has no mapping
        ([{"DeviceName": "/dev/sda1", "Ebs": {"VolumeSize": 1}}], "MissingParameter"),  # nor a snapshot
        ([{**root, "Ebs": {"SnapshotId": snapshot_id, "VolumeSize": 1}}], "InvalidParameterValue"),  # < 2 GiB
        ([{**root, "Ebs": {"SnapshotId": "snap-0123456789abcdef0"}}], "InvalidSnapshot.NotFound"),
    ):  # fmt: skip
        with pytest.raises(ClientError) as error:
            ec2.register_image(Name="bad", RootDeviceName="/dev/sda1", BlockDeviceMappings=mappings)
        assert error_code(error)[0] == code, mappings
    ec2.deregister_image(ImageId=image_id)
    delete_snapshot(ec2, snapshot_id)
    ec2.delete_volume(VolumeId=volume_id)


def test_resource_api(session: boto3.session.Session, cloud: InProcessCloud) -> None:
    resource = session.resource("ec2", **client_options(cloud))
    volume = resource.create_volume(Size=1, AvailabilityZone="nova")
    _available(resource.meta.client, volume.id)
    volume.reload()
    assert volume.state == "available" and volume.size == 1
    snapshot = volume.create_snapshot(Description="via resource")
    snapshot.wait_until_completed(WaiterConfig=FAST)
    assert [s.id for s in volume.snapshots.all()] == [snapshot.id]
    snapshot.delete()  # asynchronous here, and the volume service keeps a volume with snapshots
    wait_until(lambda: not list(volume.snapshots.all()), what="the snapshot's deletion")
    volume.delete()


def test_bad_input_and_other_projects_volumes(ec2: Any, admin_ec2: Any) -> None:
    with pytest.raises(ClientError) as malformed:
        ec2.describe_volumes(VolumeIds=["i-0123456789abcdef0"])
    assert error_code(malformed) == ("InvalidVolumeID.Malformed", 400)
    with pytest.raises(ClientError) as no_size:
        ec2.create_volume(AvailabilityZone="nova")
    assert error_code(no_size) == ("MissingParameter", 400)
    with pytest.raises(ClientError) as too_big:
        ec2.create_volume(Size=100000, AvailabilityZone="nova")
    assert error_code(too_big) == ("InvalidParameterValue", 400)
    with pytest.raises(ClientError) as dry:
        ec2.create_volume(Size=1, AvailabilityZone="nova", DryRun=True)
    assert error_code(dry) == ("DryRunOperation", 412)

    # Another project's volume is one the caller cannot find.
    theirs = admin_ec2.create_volume(Size=1, AvailabilityZone="nova")["VolumeId"]
    _available(admin_ec2, theirs)
    for call in (
        lambda: ec2.describe_volumes(VolumeIds=[theirs]),
        lambda: ec2.delete_volume(VolumeId=theirs),
        lambda: ec2.create_snapshot(VolumeId=theirs),
        lambda: ec2.create_tags(Resources=[theirs], Tags=[{"Key": "k", "Value": "v"}]),
    ):
        with pytest.raises(ClientError) as hidden:
            call()
        assert error_code(hidden)[0] in ("InvalidVolume.NotFound", "InvalidID")
    assert theirs not in {v["VolumeId"] for v in ec2.describe_volumes()["Volumes"]}
    admin_ec2.delete_volume(VolumeId=theirs)
