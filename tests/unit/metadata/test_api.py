"""Who a metadata request speaks for: the proxy's signature, then the instance and its tenant, read from
a real database with ports made by the network service."""

from __future__ import annotations

import base64
import random
import threading
import uuid
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

from overcast import errors
from overcast.bus import get_transport
from overcast.cloud import Cloud
from overcast.config import load_settings
from overcast.context import RequestContext
from overcast.db import Database
from overcast.db.models.compute import Instance, KeyPair
from overcast.metadata.api import MetadataAPI
from overcast.metadata.ec2_ids import DerivedEc2Ids
from overcast.metadata.signing import signed_headers
from overcast.network.api.service import NetworkAPI

SECRET = "proxy-secret"
ALICE = RequestContext(user_id="alice", project_id="project-a", roles=("member",))
ADMIN = RequestContext(user_id="root", project_id="admin", roles=("admin", "member"), is_admin=True)
KEY = "ssh-ed25519 AAAAC3NzaC1lZDI1NTE5AAAAIJ alice@laptop"


@pytest.fixture
def cloud(db: Database, tmp_path: Path) -> Iterator[Cloud]:
    transport = get_transport(f"inproc://metadata-{uuid.uuid4().hex}")
    settings = load_settings(data_dir=tmp_path, metadata_proxy_shared_secret=SECRET)
    with db.writer() as session:
        # The key pair's type is what meta_data.json's keys show (x509 here, to tell it from the default).
        session.add(KeyPair(name="mine", user_id="alice", fingerprint="fp", public_key=KEY, type="x509"))
    yield Cloud(settings=settings, db=db, transport=transport)
    transport.close()


@pytest.fixture
def service(cloud: Cloud) -> MetadataAPI:
    return MetadataAPI(cloud)


def add_instance(cloud: Cloud, **values: Any) -> str:
    row: dict[str, Any] = dict(
        display_name="vm1", hostname="vm1", project_id="project-a", user_id="alice", flavor_id="1", vcpus=1,
        memory_mb=512, root_gb=1, vm_state="active", key_name="mine", key_data=KEY,
        user_data=base64.b64encode(b"#!/bin/sh\n").decode(), image_ref=str(uuid.uuid4()),
        reservation_id="r-0000abcd", security_groups=["default"],
    )  # fmt: skip
    row.update(values)
    with cloud.db.writer() as session:
        instance = Instance(**row)
        session.add(instance)
    return instance.uuid


def headers(instance_id: str, tenant_id: str = "project-a", secret: str = SECRET) -> dict[str, str]:
    return signed_headers(secret, instance_id, tenant_id)


@pytest.mark.parametrize("missing", ["X-Instance-ID", "X-Tenant-ID", "X-Instance-ID-Signature"])
def test_a_missing_header_is_a_bad_request(service: MetadataAPI, cloud: Cloud, missing: str) -> None:
    sent = headers(add_instance(cloud))
    del sent[missing]
    with pytest.raises(errors.BadRequest, match=f"{missing} header is missing"):
        service.instance_for(sent)


def test_a_wrong_signature_is_forbidden(service: MetadataAPI, cloud: Cloud) -> None:
    instance_id = add_instance(cloud)
    with pytest.raises(errors.Forbidden):
        service.instance_for(headers(instance_id, secret="guessed"))
    forged = {**headers(instance_id), "X-Instance-ID": add_instance(cloud, display_name="other")}
    with pytest.raises(errors.Forbidden):
        service.instance_for(forged)


def test_unknown_deleted_or_other_tenants_instances_are_not_found(service: MetadataAPI, cloud: Cloud) -> None:
    with pytest.raises(errors.NotFound):
        service.instance_for(headers(str(uuid.uuid4())))
    with pytest.raises(errors.NotFound):
        service.instance_for(headers(add_instance(cloud), tenant_id="project-b"))
    with pytest.raises(errors.NotFound):
        service.instance_for(headers(add_instance(cloud, deleted=True, vm_state="deleted")))


def test_facts_of_an_instance_without_ports(service: MetadataAPI, cloud: Cloud) -> None:
    instance_id = add_instance(cloud)
    facts = service.instance_for(headers(instance_id))
    assert (facts.uuid, facts.name, facts.project_id, facts.flavor_name) == (instance_id, "vm1", "project-a",
                                                                             "m1.tiny")  # fmt: skip
    assert facts.user_data == b"#!/bin/sh\n"
    assert facts.key is not None and (facts.key.name, facts.key.type, facts.key.data) == ("mine", "x509", KEY)
    assert facts.ports == () and facts.fixed_ips == () and facts.floating_ips == ()
    assert facts.ec2_instance_id == DerivedEc2Ids().instance_id(instance_id)
    assert facts.ec2_instance_id.startswith("i-") and len(facts.ec2_instance_id) == 19
    assert facts.image_id.startswith("ami-") and facts.availability_zone == "nova"


def test_facts_carry_the_instances_ports_and_their_subnets(service: MetadataAPI, cloud: Cloud) -> None:
    instance_id = add_instance(cloud, user_data=None, key_name=None, key_data=None, security_groups=["ssh"])
    network = NetworkAPI(cloud, rng=random.Random(3))
    net = network.networks.create(ALICE, {"name": "private"})
    served = network.subnets.create(ALICE, {"network_id": net["id"], "ip_version": 4, "cidr": "10.0.0.0/24"})
    static = network.subnets.create(ALICE, {
        "network_id": net["id"], "ip_version": 4, "cidr": "10.0.1.0/24", "enable_dhcp": False,
        "dns_nameservers": ["192.0.2.53"],
    })  # fmt: skip
    port = network.ports.create(ADMIN, {
        "network_id": net["id"], "project_id": "project-a", "device_id": instance_id,
        "device_owner": "compute:nova",
        "fixed_ips": [{"subnet_id": served["id"], "ip_address": "10.0.0.10"},
                      {"subnet_id": static["id"], "ip_address": "10.0.1.10"}],
    })  # fmt: skip
    # Ports of something else never count as the instance's.
    network.ports.create(ADMIN, {"network_id": net["id"], "project_id": "project-a", "device_id": instance_id,
                                 "device_owner": "network:router_interface"})  # fmt: skip
    facts = service.instance_for(headers(instance_id))
    assert facts.user_data is None and facts.key is None
    assert [p.id for p in facts.ports] == [port["id"]]
    (seen,) = facts.ports
    assert (seen.mac_address, seen.network_id, seen.mtu) == (port["mac_address"], net["id"], net["mtu"])
    by_address = {fixed.ip_address: fixed.subnet for fixed in seen.fixed_ips}
    assert by_address["10.0.0.10"].dhcp and by_address["10.0.0.10"].gateway_ip == "10.0.0.1"
    assert not by_address["10.0.1.10"].dhcp and by_address["10.0.1.10"].dns_nameservers == ("192.0.2.53",)
    assert sorted(facts.fixed_ips) == ["10.0.0.10", "10.0.1.10"]
    # The groups are the port's (the project's default one here), not what the server was created with.
    assert facts.security_groups == ("default",)
    web = network.security_groups.create(ALICE, {"name": "web"})
    network.ports.update(ADMIN, port["id"], {"security_groups": [web["id"]]})
    assert service.instance_for(headers(instance_id)).security_groups == ("web",)


def test_a_guest_posts_its_password_once(service: MetadataAPI, cloud: Cloud) -> None:
    facts = service.instance_for(headers(add_instance(cloud)))
    assert facts.password == ""
    with pytest.raises(errors.BadRequest):
        service.post_password(facts, b"x" * 257)
    with pytest.raises(errors.BadRequest):
        service.post_password(facts, b"\xff\xfe")
    service.post_password(facts, b"x" * 256)
    assert service.instance_for(headers(facts.uuid)).password == "x" * 256
    with pytest.raises(errors.Conflict):
        service.post_password(facts, b"another")
    assert service.instance_for(headers(facts.uuid)).password == "x" * 256


def test_of_two_posts_at_once_one_is_kept(service: MetadataAPI, cloud: Cloud) -> None:
    facts = service.instance_for(headers(add_instance(cloud)))
    outcomes: list[str] = []

    def post(password: bytes) -> None:
        try:
            service.post_password(facts, password)
            outcomes.append("stored")
        except errors.Conflict:
            outcomes.append("conflict")

    threads = [threading.Thread(target=post, args=(f"password-{n}".encode(),)) for n in range(6)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    assert sorted(outcomes) == ["conflict"] * 5 + ["stored"]
    assert service.instance_for(headers(facts.uuid)).password.startswith("password-")


def test_a_floating_ip_on_the_instances_port_is_its_public_address(
    service: MetadataAPI, cloud: Cloud
) -> None:
    instance_id = add_instance(cloud)
    network = NetworkAPI(cloud, rng=random.Random(4))
    public = network.networks.create(ADMIN, {
        "name": "public", "router:external": True, "provider:network_type": "flat",
        "provider:physical_network": "public",
    })  # fmt: skip
    network.subnets.create(ADMIN, {"network_id": public["id"], "ip_version": 4, "cidr": "203.0.113.0/24",
                                   "enable_dhcp": False})  # fmt: skip
    private = network.networks.create(ALICE, {"name": "private"})
    subnet = network.subnets.create(
        ALICE, {"network_id": private["id"], "ip_version": 4, "cidr": "10.0.0.0/24"}
    )
    router = network.routers.create(ALICE, {"external_gateway_info": {"network_id": public["id"]}})
    network.routers.add_interface(ALICE, router["id"], {"subnet_id": subnet["id"]})
    owned = {"project_id": "project-a", "device_id": instance_id, "device_owner": "compute:nova"}
    port = network.ports.create(ADMIN, {"network_id": private["id"], **owned})
    assert service.instance_for(headers(instance_id)).floating_ips == ()
    floating = network.floating_ips.create(ALICE, {"floating_network_id": public["id"]})
    network.floating_ips.update(ALICE, floating["id"], {"port_id": port["id"]})
    facts = service.instance_for(headers(instance_id))
    assert facts.floating_ips == (floating["floating_ip_address"],)
    assert facts.fixed_ips == (port["fixed_ips"][0]["ip_address"],)
