"""The EC2 API's network actions (VPCs, subnets, security groups, network interfaces, elastic IPs) driven
by boto3 against the in-process cloud: fake virt driver, a network agent on the noop data plane, the
networks and router made through Neutron's API as an operator and a user make them."""

from __future__ import annotations

from typing import Any

import boto3
import pytest
from botocore.exceptions import ClientError
from openstack.connection import Connection

from overcast.metadata.ec2_ids import derived_id
from tests.functional.ec2.support import AMI, FAST, NETWORK, error_code
from tests.support.cloud import InProcessCloud
from tests.support.ec2 import client_options, ec2_session

SERVICES = (NETWORK,)


def test_vpcs_and_subnets_are_the_users_networks(ec2: Any, topology: dict[str, Any]) -> None:
    vpcs = ec2.describe_vpcs()["Vpcs"]
    [vpc] = [v for v in vpcs if v["CidrBlock"] == "10.70.0.0/24"]
    assert vpc["VpcId"] == derived_id("vpc", topology["private"].id) and vpc["State"] == "available"
    assert derived_id("vpc", topology["public"].id) not in {v["VpcId"] for v in vpcs}  # external: no VPC
    assert ec2.describe_vpcs(VpcIds=[vpc["VpcId"]])["Vpcs"] == [vpc]

    subnets = ec2.describe_subnets(Filters=[{"Name": "vpc-id", "Values": [vpc["VpcId"]]}])["Subnets"]
    [subnet] = subnets
    assert subnet["SubnetId"] == derived_id("subnet", topology["subnet"].id)
    assert (subnet["CidrBlock"], subnet["AvailabilityZone"], subnet["State"]) == (
        "10.70.0.0/24",
        "nova",
        "available",
    )
    # The pool is .2-.254 (253 addresses); the router's interface holds the gateway, outside the pool,
    # and the DHCP port holds one.
    assert 0 < subnet["AvailableIpAddressCount"] <= 253
    ec2.create_tags(Resources=[subnet["SubnetId"]], Tags=[{"Key": "tier", "Value": "apps"}])
    tagged = ec2.describe_subnets(Filters=[{"Name": "tag:tier", "Values": ["apps"]}])["Subnets"]
    assert [s["SubnetId"] for s in tagged] == [subnet["SubnetId"]]

    with pytest.raises(ClientError) as unknown:
        ec2.describe_vpcs(VpcIds=[derived_id("vpc", "00000000-0000-0000-0000-000000000000")])
    assert error_code(unknown) == ("InvalidVpcID.NotFound", 400)
    with pytest.raises(ClientError) as malformed:
        ec2.describe_subnets(SubnetIds=["vpc-0123456789abcdef0"])
    assert error_code(malformed) == ("InvalidSubnetID.Malformed", 400)


def test_security_groups_and_their_permissions(ec2: Any, topology: dict[str, Any]) -> None:
    vpc_id = derived_id("vpc", topology["private"].id)
    group_id = ec2.create_security_group(GroupName="web", Description="web servers", VpcId=vpc_id)["GroupId"]
    assert group_id.startswith("sg-")
    with pytest.raises(ClientError) as duplicate_group:
        ec2.create_security_group(GroupName="web", Description="again")
    assert error_code(duplicate_group) == ("InvalidGroup.Duplicate", 400)

    ssh = {"IpProtocol": "tcp", "FromPort": 22, "ToPort": 22, "IpRanges": [{"CidrIp": "10.0.0.0/8"}]}
    peers = {
        "IpProtocol": "tcp",
        "FromPort": 8000,
        "ToPort": 8080,
        "UserIdGroupPairs": [{"GroupId": group_id}],
    }
    ping = {"IpProtocol": "icmp", "FromPort": -1, "ToPort": -1, "Ipv6Ranges": [{"CidrIpv6": "2001:db8::/32"}]}
    added = ec2.authorize_security_group_ingress(GroupId=group_id, IpPermissions=[ssh, peers, ping])
    assert added["Return"] is True and len(added["SecurityGroupRules"]) == 3
    with pytest.raises(ClientError) as duplicate_rule:
        ec2.authorize_security_group_ingress(GroupId=group_id, IpPermissions=[ssh])
    assert error_code(duplicate_rule) == ("InvalidPermission.Duplicate", 400)

    [group] = ec2.describe_security_groups(GroupIds=[group_id])["SecurityGroups"]
    assert (group["GroupName"], group["Description"]) == ("web", "web servers")
    ingress = {(p["IpProtocol"], p.get("FromPort"), p.get("ToPort")): p for p in group["IpPermissions"]}
    assert ingress[("tcp", 22, 22)]["IpRanges"] == [{"CidrIp": "10.0.0.0/8"}]
    assert [pair["GroupId"] for pair in ingress[("tcp", 8000, 8080)]["UserIdGroupPairs"]] == [group_id]
    assert ingress[("icmp", -1, -1)]["Ipv6Ranges"] == [{"CidrIpv6": "2001:db8::/32"}]
    # Neutron's default egress rules of a new group: everything out, IPv4 and IPv6.
    assert {
        (p["IpProtocol"], tuple(r["CidrIp"] for r in p["IpRanges"])) for p in group["IpPermissionsEgress"]
    } == {("-1", ("0.0.0.0/0",))}
    by_port = ec2.describe_security_groups(Filters=[{"Name": "ip-permission.from-port", "Values": ["22"]}])
    assert [g["GroupId"] for g in by_port["SecurityGroups"]] == [group_id]

    ec2.revoke_security_group_ingress(GroupId=group_id, IpPermissions=[ssh])
    with pytest.raises(ClientError) as gone:
        ec2.revoke_security_group_ingress(GroupId=group_id, IpPermissions=[ssh])
    assert error_code(gone) == ("InvalidPermission.NotFound", 400)
    # The flat form of older clients.
    ec2.authorize_security_group_ingress(
        GroupName="web", IpProtocol="udp", FromPort=53, ToPort=53, CidrIp="0.0.0.0/0"
    )
    egress = {"IpProtocol": "tcp", "FromPort": 443, "ToPort": 443, "IpRanges": [{"CidrIp": "192.0.2.0/24"}]}
    ec2.authorize_security_group_egress(GroupId=group_id, IpPermissions=[egress])
    ec2.revoke_security_group_egress(GroupId=group_id, IpPermissions=[egress])
    [group] = ec2.describe_security_groups(GroupNames=["web"])["SecurityGroups"]
    assert ("udp", 53, 53) in {
        (p["IpProtocol"], p.get("FromPort"), p.get("ToPort")) for p in group["IpPermissions"]
    }
    assert ("tcp", 22, 22) not in {
        (p["IpProtocol"], p.get("FromPort"), p.get("ToPort")) for p in group["IpPermissions"]
    }

    with pytest.raises(ClientError) as bad_port:
        ec2.authorize_security_group_ingress(
            GroupId=group_id, IpProtocol="tcp", FromPort=90, ToPort=80, CidrIp="0.0.0.0/0"
        )
    assert error_code(bad_port) == ("InvalidParameterValue", 400)
    with pytest.raises(ClientError) as default:
        ec2.delete_security_group(GroupName="default")
    assert error_code(default) == ("CannotDelete", 400)
    with pytest.raises(ClientError) as dry:
        ec2.delete_security_group(GroupId=group_id, DryRun=True)
    assert error_code(dry) == ("DryRunOperation", 412)
    ec2.delete_security_group(GroupId=group_id)
    with pytest.raises(ClientError) as deleted:
        ec2.describe_security_groups(GroupIds=[group_id])
    assert error_code(deleted) == ("InvalidGroup.NotFound", 400)


def test_an_instance_in_a_subnet_its_interface_and_an_elastic_ip(
    ec2: Any, session: boto3.session.Session, cloud: InProcessCloud, topology: dict[str, Any]
) -> None:
    # Ids are known once an EC2 call has named their object.
    [subnet] = ec2.describe_subnets(Filters=[{"Name": "cidr-block", "Values": ["10.70.0.0/24"]}])["Subnets"]
    subnet_id = subnet["SubnetId"]
    assert subnet_id == derived_id("subnet", topology["subnet"].id)
    group_id = ec2.create_security_group(GroupName="app", Description="app tier")["GroupId"]
    made = ec2.run_instances(
        ImageId=AMI,
        MinCount=1,
        MaxCount=1,
        InstanceType="m1.tiny",
        SubnetId=subnet_id,
        SecurityGroupIds=[group_id],
    )
    instance_id = made["Instances"][0]["InstanceId"]
    ec2.get_waiter("instance_running").wait(InstanceIds=[instance_id], WaiterConfig=FAST)

    attached = [{"Name": "attachment.instance-id", "Values": [instance_id]}]
    [interface] = ec2.describe_network_interfaces(Filters=attached)["NetworkInterfaces"]
    assert interface["NetworkInterfaceId"].startswith("eni-") and interface["SubnetId"] == subnet_id
    assert interface["VpcId"] == derived_id("vpc", topology["private"].id) and interface["Status"] == "in-use"
    assert interface["PrivateIpAddress"].startswith("10.70.0.")
    assert [g["GroupId"] for g in interface["Groups"]] == [group_id]
    assert interface["Attachment"]["InstanceId"] == instance_id
    with pytest.raises(ClientError) as in_use:
        ec2.delete_security_group(GroupId=group_id)
    assert error_code(in_use) == ("DependencyViolation", 400)

    allocated = ec2.allocate_address(Domain="vpc")
    allocation_id, public_ip = allocated["AllocationId"], allocated["PublicIp"]
    assert allocation_id.startswith("eipalloc-") and public_ip.startswith("198.51.100.")
    association_id = ec2.associate_address(AllocationId=allocation_id, InstanceId=instance_id)[
        "AssociationId"
    ]
    assert association_id.startswith("eipassoc-")
    [address] = ec2.describe_addresses(AllocationIds=[allocation_id])["Addresses"]
    assert (address["PublicIp"], address["InstanceId"], address["AssociationId"]) == (
        public_ip,
        instance_id,
        association_id,
    )
    assert address["PrivateIpAddress"] == interface["PrivateIpAddress"]
    assert address["NetworkInterfaceId"] == interface["NetworkInterfaceId"]
    [interface] = ec2.describe_network_interfaces(NetworkInterfaceIds=[interface["NetworkInterfaceId"]])[
        "NetworkInterfaces"
    ]
    assert interface["Association"]["PublicIp"] == public_ip
    by_instance = ec2.describe_addresses(Filters=[{"Name": "instance-id", "Values": [instance_id]}])[
        "Addresses"
    ]
    assert [a["AllocationId"] for a in by_instance] == [allocation_id]
    with pytest.raises(ClientError) as in_use_address:
        ec2.release_address(AllocationId=allocation_id)
    assert error_code(in_use_address) == ("InvalidIPAddress.InUse", 400)

    ec2.disassociate_address(AssociationId=association_id)
    [address] = ec2.describe_addresses(PublicIps=[public_ip])["Addresses"]
    assert "AssociationId" not in address and "InstanceId" not in address
    with pytest.raises(ClientError) as not_associated:
        ec2.disassociate_address(AssociationId=association_id)
    assert error_code(not_associated) == ("InvalidAssociationID.NotFound", 400)
    ec2.release_address(AllocationId=allocation_id)
    with pytest.raises(ClientError) as released:
        ec2.release_address(AllocationId=allocation_id)
    assert error_code(released) == ("InvalidAllocationID.NotFound", 400)

    ec2.terminate_instances(InstanceIds=[instance_id])
    ec2.get_waiter("instance_terminated").wait(InstanceIds=[instance_id], WaiterConfig=FAST)
    ec2.delete_security_group(GroupId=group_id)


def test_another_projects_network_objects_are_not_found(
    ec2: Any, cloud: InProcessCloud, admin: Connection, topology: dict[str, Any]
) -> None:
    admin_ec2 = ec2_session(cloud, "admin").client("ec2", **client_options(cloud))
    theirs = admin_ec2.create_security_group(GroupName="ops", Description="admins only")["GroupId"]
    for call in (
        lambda: ec2.describe_security_groups(GroupIds=[theirs]),
        lambda: ec2.delete_security_group(GroupId=theirs),
        lambda: ec2.authorize_security_group_ingress(
            GroupId=theirs, IpProtocol="tcp", FromPort=1, ToPort=2, CidrIp="10.0.0.0/8"
        ),
    ):
        with pytest.raises(ClientError) as hidden:
            call()
        assert error_code(hidden) == ("InvalidGroup.NotFound", 400)
    allocation = admin_ec2.allocate_address(Domain="vpc")["AllocationId"]
    with pytest.raises(ClientError) as not_yours:
        ec2.release_address(AllocationId=allocation)
    assert error_code(not_yours) == ("InvalidAllocationID.NotFound", 400)
    admin_ec2.release_address(AllocationId=allocation)
    admin_ec2.delete_security_group(GroupId=theirs)


def test_objects_made_through_neutron_are_found_by_their_ec2_ids_before_any_listing(
    demo: Connection, admin: Connection, ec2: Any, topology: dict[str, Any]
) -> None:
    """Each kind's id is the derived one, named by an action before DescribeX showed it; another project's
    object stays unknown to the caller."""
    network = demo.network.create_network(name="made-in-neutron")
    subnet = demo.network.create_subnet(network_id=network.id, ip_version=4, cidr="10.81.0.0/24")
    port = demo.network.create_port(network_id=network.id)
    group = demo.network.create_security_group(name="made-in-neutron")
    [vpc] = ec2.describe_vpcs(VpcIds=[derived_id("vpc", network.id)])["Vpcs"]
    assert vpc["CidrBlock"] == "10.81.0.0/24"
    [found_subnet] = ec2.describe_subnets(SubnetIds=[derived_id("subnet", subnet.id)])["Subnets"]
    assert found_subnet["VpcId"] == vpc["VpcId"]
    [interface] = ec2.describe_network_interfaces(NetworkInterfaceIds=[derived_id("eni", port.id)])[
        "NetworkInterfaces"
    ]
    assert interface["SubnetId"] == found_subnet["SubnetId"]
    group_id = derived_id("sg", group.id)
    [found_group] = ec2.describe_security_groups(GroupIds=[group_id])["SecurityGroups"]
    assert found_group["GroupName"] == "made-in-neutron"
    ec2.authorize_security_group_ingress(GroupId=group_id, IpPermissions=[
        {"IpProtocol": "tcp", "FromPort": 22, "ToPort": 22, "IpRanges": [{"CidrIp": "10.0.0.0/8"}]}
    ])  # fmt: skip

    address = demo.network.create_ip(floating_network_id=topology["public"].id)
    [elastic] = ec2.describe_addresses(AllocationIds=[derived_id("eipalloc", address.id)])["Addresses"]
    assert elastic["PublicIp"] == address.floating_ip_address
    ec2.release_address(AllocationId=elastic["AllocationId"])

    theirs = admin.network.create_security_group(name="theirs")
    with pytest.raises(ClientError) as hidden:
        ec2.describe_security_groups(GroupIds=[derived_id("sg", theirs.id)])
    assert error_code(hidden)[0] == "InvalidGroup.NotFound"
    admin.network.delete_security_group(theirs)
    demo.network.delete_security_group(group)
    demo.network.delete_port(port)
    demo.network.delete_subnet(subnet)
    demo.network.delete_network(network)
