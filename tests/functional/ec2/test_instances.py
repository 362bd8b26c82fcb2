"""The EC2 API's instance, zone and tag actions driven by boto3 (client, resource and waiters) against the
in-process cloud with the fake driver."""

from __future__ import annotations

import base64
from collections.abc import Iterator
from typing import Any

import boto3
import pytest
from botocore.exceptions import ClientError
from openstack.connection import Connection

from overcast.metadata.ec2_ids import derived_id
from tests.functional.ec2.support import AMI, FAST, error_code
from tests.support.cloud import IMAGE_ID, InProcessCloud
from tests.support.ec2 import client_options


@pytest.fixture
def running(ec2: Any) -> Iterator[str]:
    made = ec2.run_instances(ImageId=AMI, MinCount=1, MaxCount=1, InstanceType="m1.tiny")
    instance_id = made["Instances"][0]["InstanceId"]
    ec2.get_waiter("instance_running").wait(InstanceIds=[instance_id], WaiterConfig=FAST)
    yield instance_id
    ec2.modify_instance_attribute(InstanceId=instance_id, DisableApiTermination={"Value": False})
    ec2.terminate_instances(InstanceIds=[instance_id])


def test_regions_zones_and_account_attributes(ec2: Any, cloud: InProcessCloud) -> None:
    regions = ec2.describe_regions()["Regions"]
    assert regions == [{"RegionName": "RegionOne", "Endpoint": f"{cloud.base_url}/ec2",
                        "OptInStatus": "opt-in-not-required"}]  # fmt: skip
    assert ec2.describe_regions(Filters=[{"Name": "region-name", "Values": ["Other*"]}])["Regions"] == []
    zones = ec2.describe_availability_zones()["AvailabilityZones"]
    assert [(zone["ZoneName"], zone["State"], zone["RegionName"]) for zone in zones] == [
        ("nova", "available", "RegionOne")
    ]
    attributes = ec2.describe_account_attributes(AttributeNames=["max-instances"])["AccountAttributes"]
    assert attributes == [{"AttributeName": "max-instances", "AttributeValues": [{"AttributeValue": "10"}]}]
    with pytest.raises(ClientError) as error:
        ec2.describe_regions(RegionNames=["us-east-1"])
    assert error_code(error) == ("InvalidParameterValue", 400)


def test_instance_lifecycle_with_waiters_tags_and_filters(ec2: Any) -> None:
    user_data = "#!/bin/sh\necho hello\n"
    made = ec2.run_instances(
        ImageId=AMI, MinCount=2, MaxCount=2, InstanceType="m1.tiny", UserData=user_data,
        TagSpecifications=[{"ResourceType": "instance", "Tags": [{"Key": "Name", "Value": "web"},
                                                                 {"Key": "tier", "Value": "front"}]}],
    )  # fmt: skip
    assert made["ReservationId"].startswith("r-") and len(made["ReservationId"]) == 19
    ids = [instance["InstanceId"] for instance in made["Instances"]]
    assert all(i.startswith("i-") and len(i) == 19 for i in ids)
    assert [instance["State"] for instance in made["Instances"]] == [{"Code": 0, "Name": "pending"}] * 2
    ec2.get_waiter("instance_running").wait(InstanceIds=ids, WaiterConfig=FAST)

    described = ec2.describe_instances(InstanceIds=ids)["Reservations"]
    assert [r["ReservationId"] for r in described] == [made["ReservationId"]]
    first = described[0]["Instances"][0]
    assert first["State"] == {"Code": 16, "Name": "running"}
    assert first["ImageId"] == AMI and first["InstanceType"] == "m1.tiny"
    assert first["PrivateIpAddress"] and first["Placement"]["AvailabilityZone"] == "nova"
    assert {tag["Key"]: tag["Value"] for tag in first["Tags"]} == {"Name": "web", "tier": "front"}
    assert [g["GroupName"] for g in first["SecurityGroups"]] == ["default"]
    assert first["SecurityGroups"][0]["GroupId"].startswith("sg-")
    attribute = ec2.describe_instance_attribute(InstanceId=ids[0], Attribute="userData")
    assert base64.b64decode(attribute["UserData"]["Value"]).decode() == user_data

    by_tag = ec2.describe_instances(
        Filters=[
            {"Name": "tag:tier", "Values": ["fr*"]},
            {"Name": "instance-state-name", "Values": ["running"]},
        ]
    )
    assert sorted(i["InstanceId"] for r in by_tag["Reservations"] for i in r["Instances"]) == sorted(ids)
    by_reservation = ec2.describe_instances(
        Filters=[{"Name": "reservation-id", "Values": [made["ReservationId"]]}]
    )
    assert len(by_reservation["Reservations"][0]["Instances"]) == 2
    assert ec2.describe_instances(Filters=[{"Name": "tag-key", "Values": ["absent"]}])["Reservations"] == []

    statuses = ec2.describe_instance_status(InstanceIds=ids)["InstanceStatuses"]
    assert [(s["InstanceState"]["Name"], s["InstanceStatus"]["Status"]) for s in statuses] == [
        ("running", "ok")
    ] * 2

    stopping = ec2.stop_instances(InstanceIds=[ids[0]])["StoppingInstances"]
    assert stopping == [{"InstanceId": ids[0], "CurrentState": {"Code": 64, "Name": "stopping"},
                         "PreviousState": {"Code": 16, "Name": "running"}}]  # fmt: skip
    ec2.get_waiter("instance_stopped").wait(InstanceIds=[ids[0]], WaiterConfig=FAST)
    assert ec2.describe_instance_status(InstanceIds=[ids[0]])["InstanceStatuses"] == []
    stopped = ec2.describe_instance_status(InstanceIds=[ids[0]], IncludeAllInstances=True)["InstanceStatuses"]
    assert stopped[0]["InstanceState"] == {"Code": 80, "Name": "stopped"}
    starting = ec2.start_instances(InstanceIds=[ids[0]])["StartingInstances"]
    assert starting[0]["PreviousState"] == {"Code": 80, "Name": "stopped"}
    ec2.get_waiter("instance_running").wait(InstanceIds=[ids[0]], WaiterConfig=FAST)
    ec2.reboot_instances(InstanceIds=ids)

    output = ec2.get_console_output(InstanceId=ids[0])
    assert output["InstanceId"] == ids[0] and "login:" in output["Output"]

    terminating = ec2.terminate_instances(InstanceIds=ids)["TerminatingInstances"]
    assert [t["CurrentState"]["Name"] for t in terminating] == ["shutting-down"] * 2
    ec2.get_waiter("instance_terminated").wait(InstanceIds=ids, WaiterConfig=FAST)
    again = ec2.terminate_instances(InstanceIds=ids)["TerminatingInstances"]
    assert [t["PreviousState"]["Name"] for t in again] == ["terminated"] * 2
    with pytest.raises(ClientError) as error:
        ec2.start_instances(InstanceIds=[ids[0]])
    assert error_code(error)[0] in ("IncorrectInstanceState", "InvalidInstanceID.NotFound")


def test_client_token_makes_run_instances_idempotent(ec2: Any) -> None:
    first = ec2.run_instances(
        ImageId=AMI, MinCount=1, MaxCount=1, InstanceType="m1.tiny", ClientToken="once-1"
    )
    again = ec2.run_instances(
        ImageId=AMI, MinCount=1, MaxCount=1, InstanceType="m1.tiny", ClientToken="once-1"
    )
    assert again["ReservationId"] == first["ReservationId"]
    assert [i["InstanceId"] for i in again["Instances"]] == [i["InstanceId"] for i in first["Instances"]]
    assert again["Instances"][0]["ClientToken"] == "once-1"
    with pytest.raises(ClientError) as error:
        ec2.run_instances(ImageId=AMI, MinCount=1, MaxCount=1, InstanceType="m1.small", ClientToken="once-1")
    assert error_code(error) == ("IdempotentParameterMismatch", 400)
    ec2.terminate_instances(InstanceIds=[first["Instances"][0]["InstanceId"]])


def test_resource_api_and_its_waiters(cloud: InProcessCloud, session: boto3.session.Session) -> None:
    resource = session.resource("ec2", **client_options(cloud))
    (instance,) = resource.create_instances(ImageId=AMI, MinCount=1, MaxCount=1, InstanceType="m1.tiny")
    instance.wait_until_running(WaiterConfig=FAST)
    instance.reload()
    assert instance.state["Name"] == "running" and instance.instance_type == "m1.tiny"
    instance.create_tags(Tags=[{"Key": "role", "Value": "db"}])
    assert [(t["Key"], t["Value"]) for t in instance.tags] == [("role", "db")]
    instance.stop()
    instance.wait_until_stopped(WaiterConfig=FAST)
    instance.terminate()
    instance.wait_until_terminated(WaiterConfig=FAST)
    assert [i.id for i in resource.instances.filter(Filters=[{"Name": "tag:role", "Values": ["db"]}])] == [
        instance.id
    ]


def test_termination_protection_and_resize_through_attributes(ec2: Any, running: str) -> None:
    ec2.modify_instance_attribute(InstanceId=running, DisableApiTermination={"Value": True})
    locked = ec2.describe_instance_attribute(InstanceId=running, Attribute="disableApiTermination")
    assert locked["DisableApiTermination"] == {"Value": True}
    with pytest.raises(ClientError) as error:
        ec2.terminate_instances(InstanceIds=[running])
    assert error_code(error) == ("OperationNotPermitted", 400)
    ec2.modify_instance_attribute(InstanceId=running, DisableApiTermination={"Value": False})
    with pytest.raises(ClientError) as error:
        ec2.modify_instance_attribute(InstanceId=running, InstanceType={"Value": "m1.small"})
    assert error_code(error) == ("IncorrectInstanceState", 400)
    ec2.stop_instances(InstanceIds=[running])
    ec2.get_waiter("instance_stopped").wait(InstanceIds=[running], WaiterConfig=FAST)
    ec2.modify_instance_attribute(InstanceId=running, InstanceType={"Value": "m1.small"})
    ec2.get_waiter("instance_stopped").wait(InstanceIds=[running], WaiterConfig=FAST)
    attribute = ec2.describe_instance_attribute(InstanceId=running, Attribute="instanceType")
    assert attribute["InstanceType"] == {"Value": "m1.small"}


def test_instance_types_tags_and_pages(ec2: Any, running: str) -> None:
    types = ec2.describe_instance_types(InstanceTypes=["m1.tiny"])["InstanceTypes"]
    assert types[0]["VCpuInfo"]["DefaultVCpus"] == 1 and types[0]["MemoryInfo"]["SizeInMiB"] == 512
    ec2.create_tags(Resources=[running], Tags=[{"Key": f"k{n}", "Value": str(n)} for n in range(7)])
    seen: list[str] = []
    pages = 0
    kwargs: dict[str, Any] = {"MaxResults": 5, "Filters": [{"Name": "resource-id", "Values": [running]}]}
    while True:
        page = ec2.describe_tags(**kwargs)
        seen.extend(tag["Key"] for tag in page["Tags"])
        pages += 1
        if "NextToken" not in page:
            break
        kwargs["NextToken"] = page["NextToken"]
    assert (sorted(seen), pages) == ([f"k{n}" for n in range(7)], 2)
    ec2.delete_tags(Resources=[running], Tags=[{"Key": "k0"}, {"Key": "k1", "Value": "not-its-value"}])
    left = ec2.describe_tags(Filters=[{"Name": "resource-id", "Values": [running]}])["Tags"]
    assert sorted(tag["Key"] for tag in left) == [f"k{n}" for n in range(1, 7)]
    with pytest.raises(ClientError) as error:
        ec2.describe_tags(NextToken="forged", MaxResults=5)
    assert error_code(error) == ("InvalidNextToken", 400)


def test_another_projects_instances_do_not_exist(ec2: Any, admin_ec2: Any) -> None:
    theirs = admin_ec2.run_instances(ImageId=AMI, MinCount=1, MaxCount=1, InstanceType="m1.tiny")
    their_id = theirs["Instances"][0]["InstanceId"]
    try:
        for call in (lambda: ec2.describe_instances(InstanceIds=[their_id]),
                     lambda: ec2.terminate_instances(InstanceIds=[their_id]),
                     lambda: ec2.get_console_output(InstanceId=their_id)):  # fmt: skip
            with pytest.raises(ClientError) as error:
                call()
            assert error_code(error) == ("InvalidInstanceID.NotFound", 400)
        with pytest.raises(ClientError) as error:
            ec2.create_tags(Resources=[their_id], Tags=[{"Key": "mine", "Value": "no"}])
        assert error_code(error)[0] in ("InvalidID", "InvalidInstanceID.NotFound")
    finally:
        admin_ec2.terminate_instances(InstanceIds=[their_id])


def test_a_server_made_through_openstack_is_an_instance_with_a_stable_id(ec2: Any, demo: Connection) -> None:
    server = demo.compute.create_server(name="from-nova", image_id=IMAGE_ID, flavor_id="1", networks="none")
    demo.compute.wait_for_server(server, wait=60)
    instance_id = derived_id("i", server.id)
    listed = ec2.describe_instances(Filters=[{"Name": "instance-id", "Values": [instance_id]}])[
        "Reservations"
    ]
    assert [i["InstanceId"] for r in listed for i in r["Instances"]] == [instance_id]
    ec2.create_tags(Resources=[instance_id], Tags=[{"Key": "from", "Value": "nova"}])
    again = ec2.describe_instances(InstanceIds=[instance_id])["Reservations"][0]["Instances"][0]
    assert again["Tags"] == [{"Key": "from", "Value": "nova"}] and again["InstanceType"] == "m1.tiny"
    ec2.terminate_instances(InstanceIds=[instance_id])


def test_run_instances_placement_groups_protection_and_user_data(ec2: Any, demo: Connection) -> None:
    made = ec2.run_instances(
        ImageId=AMI, MinCount=1, MaxCount=1, InstanceType="m1.tiny", Placement={"AvailabilityZone": "nova"},
        SecurityGroups=["default"], DisableApiTermination=True,
    )  # fmt: skip
    instance_id = made["Instances"][0]["InstanceId"]
    assert made["Instances"][0]["Placement"]["AvailabilityZone"] == "nova"
    ec2.get_waiter("instance_running").wait(InstanceIds=[instance_id], WaiterConfig=FAST)
    with pytest.raises(ClientError) as error:
        ec2.terminate_instances(InstanceIds=[instance_id])
    assert error_code(error) == ("OperationNotPermitted", 400)
    # The OpenStack API holds to it too, and says why; the server is not locked.
    [server] = [s for s in demo.compute.servers() if derived_id("i", s.id) == instance_id]
    assert server.is_locked is False
    refused = demo.compute.delete(f"/servers/{server.id}", raise_exc=False)
    assert refused.status_code == 409 and "disableApiTermination" in refused.text
    # As on AWS, a protected instance stops (and starts) at its owner's word.
    ec2.stop_instances(InstanceIds=[instance_id])
    ec2.get_waiter("instance_stopped").wait(InstanceIds=[instance_id], WaiterConfig=FAST)
    protected = ec2.describe_instance_attribute(InstanceId=instance_id, Attribute="disableApiTermination")
    assert protected["DisableApiTermination"] == {"Value": True}
    ec2.modify_instance_attribute(InstanceId=instance_id, DisableApiTermination={"Value": False})
    ec2.modify_instance_attribute(InstanceId=instance_id, UserData={"Value": b"#cloud-config\n"})
    user_data = ec2.describe_instance_attribute(InstanceId=instance_id, Attribute="userData")["UserData"]
    assert base64.b64decode(user_data["Value"]) == b"#cloud-config\n"
    ec2.terminate_instances(InstanceIds=[instance_id])
    for bad, code in (({"Placement": {"AvailabilityZone": "elsewhere"}}, "InvalidParameterValue"),
                      ({"SecurityGroups": ["no-such-group"]}, "InvalidGroup.NotFound"),
                      ({"InstanceType": "m9.huge"}, "InvalidParameterValue")):  # fmt: skip
        with pytest.raises(ClientError) as error:
            ec2.run_instances(
                **{"ImageId": AMI, "MinCount": 1, "MaxCount": 1, "InstanceType": "m1.tiny", **bad}
            )
        assert error_code(error)[0] == code, bad
