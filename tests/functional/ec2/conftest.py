"""Fixtures the EC2 modules share: the module's cloud (with the hosts beside compute that the module's
`SERVICES` names: support.NETWORK, support.VOLUME), boto3 clients of its `demo` and `admin` users, the
networks a user's instances get addresses and elastic IPs from, and moto's EC2 server."""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any

import boto3
import pytest
from botocore.config import Config
from openstack.connection import Connection

from tests.functional.ec2.support import Ec2Cloud, moto_server
from tests.support.api_apps import roomy_login_limits
from tests.support.cloud import InProcessCloud
from tests.support.ec2 import client_options, ec2_session


@pytest.fixture(scope="module")
def cloud(
    request: pytest.FixtureRequest, tmp_path_factory: pytest.TempPathFactory
) -> Iterator[InProcessCloud]:
    services = frozenset(getattr(request.module, "SERVICES", ()))
    with roomy_login_limits():
        running = Ec2Cloud(tmp_path_factory.mktemp(request.module.__name__.rpartition(".")[2]), services)
    yield running.cloud
    running.stop()


@pytest.fixture(scope="module")
def session(cloud: InProcessCloud) -> boto3.session.Session:
    return ec2_session(cloud, "demo")


@pytest.fixture(scope="module")
def ec2(cloud: InProcessCloud, session: boto3.session.Session) -> Any:
    return session.client("ec2", **client_options(cloud))


@pytest.fixture(scope="module")
def admin_ec2(cloud: InProcessCloud) -> Any:
    return ec2_session(cloud, "admin").client("ec2", **client_options(cloud))


@pytest.fixture(scope="module")
def topology(demo: Connection, admin: Connection) -> dict[str, Any]:
    """An external network (the elastic IPs' pool) and the user's network, subnet and router to it."""
    public = admin.network.create_network(name="public", is_router_external=True)
    admin.network.create_subnet(
        network_id=public.id, ip_version=4, cidr="198.51.100.0/24", is_dhcp_enabled=False
    )
    private = demo.network.create_network(name="private")
    subnet = demo.network.create_subnet(network_id=private.id, ip_version=4, cidr="10.70.0.0/24", name="apps")
    router = demo.network.create_router(name="edge", external_gateway_info={"network_id": public.id})
    demo.network.add_interface_to_router(router, subnet=subnet.id)
    return {"public": public, "private": private, "subnet": subnet}


@pytest.fixture(scope="module")
def moto_ec2() -> Iterator[Any]:
    """A boto3 client of moto's EC2 server, started for the module on loopback."""
    for url in moto_server():
        session = boto3.session.Session(
            aws_access_key_id="testing", aws_secret_access_key="testing", region_name="us-east-1"
        )
        yield session.client("ec2", endpoint_url=url, config=Config(retries={"max_attempts": 1}))
