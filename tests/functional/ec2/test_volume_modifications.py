"""ModifyVolume's records and DescribeVolumesModifications, driven by boto3 against the in-process cloud with
a volume host on the fake volume driver (which a test tells to fail an extend)."""

from __future__ import annotations

from collections.abc import Iterator
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path
from typing import Any

import pytest
from botocore.exceptions import ClientError
from openstack.connection import Connection

from overcast.metadata.ec2_ids import derived_id
from overcast.volume.drivers.fake import FakeVolumeDriver
from overcast.volume.manager import VolumeManager
from tests.functional.ec2.support import AMI, FAST, VOLUME, Ec2Cloud, error_code
from tests.support.api_apps import roomy_login_limits
from tests.support.cloud import InProcessCloud
from tests.support.ec2 import client_options
from tests.support.waiting import wait_until

SERVICES = (VOLUME,)


@pytest.fixture(scope="module")
def running(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Ec2Cloud]:
    with roomy_login_limits():
        made = Ec2Cloud(Path(tmp_path_factory.mktemp("volume_modifications")), frozenset(SERVICES))
    yield made
    made.stop()


@pytest.fixture(scope="module")
def cloud(running: Ec2Cloud) -> InProcessCloud:
    return running.cloud


@pytest.fixture(scope="module")
def volume_driver(running: Ec2Cloud) -> FakeVolumeDriver:
    [driver] = [s.manager.driver for s in running.services if isinstance(s.manager, VolumeManager)]
    assert isinstance(driver, FakeVolumeDriver)
    return driver


def _new_volume(ec2: Any, size: int = 1) -> str:
    volume_id = str(ec2.create_volume(Size=size, AvailabilityZone="nova")["VolumeId"])
    ec2.get_waiter("volume_available").wait(VolumeIds=[volume_id], WaiterConfig=FAST)
    return volume_id


def _finished(ec2: Any, volume_id: str) -> dict[str, Any]:
    """Poll as a user does after ModifyVolume until the modification is completed or failed."""

    def done() -> dict[str, Any]:
        [found] = ec2.describe_volumes_modifications(VolumeIds=[volume_id])["VolumesModifications"]
        return found if found["ModificationState"] in ("completed", "failed") else {}

    found: dict[str, Any] = wait_until(done, what=f"{volume_id}'s modification to finish")
    return found


def test_size_then_type_each_read_until_completed(ec2: Any, admin: Connection) -> None:
    admin.block_storage.create_type(name="fast")
    volume_id = _new_volume(ec2)
    original_type = ec2.describe_volumes(VolumeIds=[volume_id])["Volumes"][0]["VolumeType"]

    grown = ec2.modify_volume(VolumeId=volume_id, Size=3)["VolumeModification"]
    assert (grown["VolumeId"], grown["OriginalSize"], grown["TargetSize"]) == (volume_id, 1, 3)
    assert grown["ModificationState"] in ("modifying", "completed")
    assert "TargetIops" not in grown and "OriginalThroughput" not in grown
    finished = _finished(ec2, volume_id)
    assert (finished["ModificationState"], finished["Progress"]) == ("completed", 100)
    assert finished["StartTime"] == grown["StartTime"] and finished["EndTime"] >= finished["StartTime"]
    assert ec2.describe_volumes(VolumeIds=[volume_id])["Volumes"][0]["Size"] == 3

    retyped = ec2.modify_volume(VolumeId=volume_id, VolumeType="fast")["VolumeModification"]
    assert (retyped["OriginalVolumeType"], retyped["TargetVolumeType"]) == (original_type, "fast")
    assert (retyped["OriginalSize"], retyped["TargetSize"]) == (3, 3)
    # Only a volume's latest modification is shown.
    [latest] = ec2.describe_volumes_modifications(VolumeIds=[volume_id])["VolumesModifications"]
    assert (latest["TargetVolumeType"], latest["ModificationState"]) == ("fast", "completed")
    assert latest["OriginalMultiAttachEnabled"] is False and latest["TargetMultiAttachEnabled"] is False
    ec2.delete_volume(VolumeId=volume_id)


def test_an_extend_the_volume_host_fails_reads_failed(ec2: Any, volume_driver: FakeVolumeDriver) -> None:
    volume_id = _new_volume(ec2)
    volume_driver.fail_next("extend_volume")
    answer = ec2.modify_volume(VolumeId=volume_id, Size=2)["VolumeModification"]
    assert answer["ModificationState"] == "failed"
    failed = _finished(ec2, volume_id)
    assert failed["ModificationState"] == "failed"
    assert "told to fail extend_volume" in failed["StatusMessage"]
    assert "EndTime" in failed and failed["TargetSize"] == 2
    assert ec2.describe_volumes(VolumeIds=[volume_id])["Volumes"][0]["Size"] == 1
    # The volume service refuses to grow a volume in error_extending: that is no modification at all, and
    # the failed one stays the latest.
    with pytest.raises(ClientError) as refused:
        ec2.modify_volume(VolumeId=volume_id, Size=3)
    assert error_code(refused)[1] == 400
    [still] = ec2.describe_volumes_modifications(VolumeIds=[volume_id])["VolumesModifications"]
    assert (still["ModificationState"], still["TargetSize"]) == ("failed", 2)
    ec2.delete_volume(VolumeId=volume_id)


def test_filters_and_pages(ec2: Any) -> None:
    small, large = _new_volume(ec2), _new_volume(ec2, size=2)
    ec2.modify_volume(VolumeId=small, Size=4)
    ec2.modify_volume(VolumeId=large, Size=5)
    _finished(ec2, small), _finished(ec2, large)

    def shown(**kwargs: Any) -> set[str]:
        found = ec2.describe_volumes_modifications(**kwargs)["VolumesModifications"]
        return {item["VolumeId"] for item in found} & {small, large}

    assert shown() == {small, large}
    assert shown(Filters=[{"Name": "target-size", "Values": ["5"]}]) == {large}
    assert shown(Filters=[{"Name": "original-size", "Values": ["1", "2"]}]) == {small, large}
    assert shown(Filters=[{"Name": "volume-id", "Values": [small]}]) == {small}
    assert shown(Filters=[{"Name": "modification-state", "Values": ["completed"]}]) == {small, large}
    assert shown(Filters=[{"Name": "modification-state", "Values": ["modifying", "optimizing"]}]) == set()
    [item] = ec2.describe_volumes_modifications(VolumeIds=[small])["VolumesModifications"]
    day = item["StartTime"].strftime("%Y-%m-%d")
    assert shown(Filters=[{"Name": "start-time", "Values": [f"{day}*"]}]) == {small, large}
    original_type = item["OriginalVolumeType"]
    assert shown(Filters=[{"Name": "original-volume-type", "Values": [original_type]},
                          {"Name": "target-size", "Values": ["4"]}]) == {small}  # fmt: skip

    first = ec2.describe_volumes_modifications(MaxResults=1)
    assert len(first["VolumesModifications"]) == 1 and first["NextToken"]
    pages = ec2.get_paginator("describe_volumes_modifications").paginate(PaginationConfig={"PageSize": 1})
    paged = [item["VolumeId"] for page in pages for item in page["VolumesModifications"]]
    assert len(paged) == len(set(paged)) and {small, large} <= set(paged)

    with pytest.raises(ClientError) as bad_filter:
        ec2.describe_volumes_modifications(Filters=[{"Name": "size", "Values": ["1"]}])
    assert error_code(bad_filter) == ("InvalidParameterValue", 400)
    with pytest.raises(ClientError) as bad_token:
        ec2.describe_volumes_modifications(NextToken="not-a-token")
    assert error_code(bad_token) == ("InvalidNextToken", 400)
    for volume_id in (small, large):
        ec2.delete_volume(VolumeId=volume_id)


def test_errors_dry_run_and_other_projects(ec2: Any, admin_ec2: Any) -> None:
    never_modified = _new_volume(ec2)
    with pytest.raises(ClientError) as no_modification:
        ec2.describe_volumes_modifications(VolumeIds=[never_modified])
    assert error_code(no_modification) == ("InvalidVolumeModification.NotFound", 400)
    with pytest.raises(ClientError) as unknown:
        ec2.describe_volumes_modifications(VolumeIds=["vol-0123456789abcdef0"])
    assert error_code(unknown) == ("InvalidVolume.NotFound", 400)
    with pytest.raises(ClientError) as malformed:
        ec2.describe_volumes_modifications(VolumeIds=["i-0123456789abcdef0"])
    assert error_code(malformed) == ("InvalidVolumeID.Malformed", 400)
    with pytest.raises(ClientError) as dry:
        ec2.describe_volumes_modifications(DryRun=True)
    assert error_code(dry) == ("DryRunOperation", 412)
    with pytest.raises(ClientError) as missing:
        ec2.modify_volume(VolumeId=never_modified)
    assert error_code(missing) == ("MissingParameter", 400)

    theirs = _new_volume(admin_ec2)
    admin_ec2.modify_volume(VolumeId=theirs, Size=2)
    assert _finished(admin_ec2, theirs)["ModificationState"] == "completed"
    mine = {item["VolumeId"] for item in ec2.describe_volumes_modifications()["VolumesModifications"]}
    assert theirs not in mine
    with pytest.raises(ClientError) as hidden:
        ec2.describe_volumes_modifications(VolumeIds=[theirs])
    assert error_code(hidden) == ("InvalidVolume.NotFound", 400)
    with pytest.raises(ClientError) as not_theirs:
        ec2.modify_volume(VolumeId=theirs, Size=3)
    assert error_code(not_theirs) == ("InvalidVolume.NotFound", 400)
    admin_ec2.delete_volume(VolumeId=theirs)
    ec2.delete_volume(VolumeId=never_modified)


def test_a_deleted_volume_s_modifications_are_no_longer_shown(ec2: Any) -> None:
    volume_id = _new_volume(ec2)
    ec2.modify_volume(VolumeId=volume_id, Size=2)
    assert _finished(ec2, volume_id)["ModificationState"] == "completed"
    ec2.delete_volume(VolumeId=volume_id)
    gone = [{"Name": "volume-id", "Values": [volume_id]}]
    wait_until(lambda: not ec2.describe_volumes(Filters=gone)["Volumes"], what="the volume's deletion")
    assert ec2.describe_volumes_modifications(Filters=gone)["VolumesModifications"] == []
    with pytest.raises(ClientError) as unknown:
        ec2.describe_volumes_modifications(VolumeIds=[volume_id])
    assert error_code(unknown) == ("InvalidVolume.NotFound", 400)


def test_the_aws_cli_modifies_and_polls(aws: Any) -> None:
    created = aws("create-volume", "--size", "1", "--availability-zone", "nova")
    volume_id = created["VolumeId"]
    aws("wait", "volume-available", "--volume-ids", volume_id)
    modified = aws("modify-volume", "--volume-id", volume_id, "--size", "2",
                   "--query", "VolumeModification.[OriginalSize,TargetSize]")  # fmt: skip
    assert modified == [1, 2]

    def state() -> str:
        found = aws("describe-volumes-modifications", "--volume-ids", volume_id,
                    "--query", "VolumesModifications[0].ModificationState", "--output", "json")  # fmt: skip
        return str(found) if found in ("completed", "failed") else ""

    assert wait_until(state, what="the CLI's modification to finish") == "completed"
    listed = aws("describe-volumes-modifications", "--filters", "Name=modification-state,Values=completed",
                 "--query", "VolumesModifications[].VolumeId")  # fmt: skip
    assert volume_id in listed
    aws("delete-volume", "--volume-id", volume_id)


def test_an_attached_volume_is_modified_in_use(ec2: Any) -> None:
    made = ec2.run_instances(ImageId=AMI, MinCount=1, MaxCount=1, InstanceType="m1.tiny")
    instance_id = made["Instances"][0]["InstanceId"]
    ec2.get_waiter("instance_running").wait(InstanceIds=[instance_id], WaiterConfig=FAST)
    volume_id = _new_volume(ec2)
    ec2.attach_volume(VolumeId=volume_id, InstanceId=instance_id, Device="/dev/sdf")
    ec2.get_waiter("volume_in_use").wait(VolumeIds=[volume_id], WaiterConfig=FAST)
    ec2.modify_volume(VolumeId=volume_id, Size=2)
    assert _finished(ec2, volume_id)["ModificationState"] == "completed"
    [volume] = ec2.describe_volumes(VolumeIds=[volume_id])["Volumes"]
    assert (volume["Size"], volume["State"]) == (2, "in-use")
    ec2.detach_volume(VolumeId=volume_id)
    ec2.get_waiter("volume_available").wait(VolumeIds=[volume_id], WaiterConfig=FAST)
    ec2.delete_volume(VolumeId=volume_id)
    ec2.terminate_instances(InstanceIds=[instance_id])


def test_concurrent_modifications_of_one_volume_leave_a_true_record(
    ec2: Any, session: Any, cloud: InProcessCloud
) -> None:
    """Two ModifyVolume calls race: the volume service lets one grow the volume at a time, and the record
    shown is the latest one it accepted, matching the volume."""
    volume_id = _new_volume(ec2)
    clients = [session.client("ec2", **client_options(cloud)) for _ in range(2)]

    def modify(client: Any, size: int) -> str:
        try:
            client.modify_volume(VolumeId=volume_id, Size=size)
        except ClientError as error:
            return str(error.response["Error"]["Code"])
        return "accepted"

    with ThreadPoolExecutor(2) as pool:
        answers = list(pool.map(modify, clients, (2, 3)))
    assert "accepted" in answers
    assert set(answers) <= {"accepted", "IncorrectModificationState", "InvalidParameterValue"}, answers
    latest = _finished(ec2, volume_id)
    [volume] = ec2.describe_volumes(VolumeIds=[volume_id])["Volumes"]
    assert (latest["ModificationState"], latest["TargetSize"]) == ("completed", volume["Size"])
    ec2.delete_volume(VolumeId=volume_id)


def test_a_volume_another_change_is_growing_refuses_a_modification(demo: Connection, admin: Connection,
                                                                    ec2: Any) -> None:  # fmt: skip
    """The volume service is extending the volume (here as an OpenStack extend left it, by an admin's
    os-reset_status): ModifyVolume answers IncorrectModificationState and records nothing. The volume was
    made through the OpenStack API: its EC2 id names it before any EC2 listing showed it."""
    volume = demo.block_storage.create_volume(size=1)
    demo.block_storage.wait_for_status(volume, "available", wait=30)
    volume_id = derived_id("vol", volume.id)
    admin.block_storage.reset_volume_status(
        volume, status="extending", attach_status=None, migration_status=None
    )
    with pytest.raises(ClientError) as busy:
        ec2.modify_volume(VolumeId=volume_id, Size=2)
    assert error_code(busy) == ("IncorrectModificationState", 400)
    with pytest.raises(ClientError) as nothing:
        ec2.describe_volumes_modifications(VolumeIds=[volume_id])
    assert error_code(nothing) == ("InvalidVolumeModification.NotFound", 400)
    admin.block_storage.reset_volume_status(
        volume, status="available", attach_status=None, migration_status=None
    )
    ec2.modify_volume(VolumeId=volume_id, Size=2)
    assert _finished(ec2, volume_id)["ModificationState"] == "completed"
    ec2.delete_volume(VolumeId=volume_id)
