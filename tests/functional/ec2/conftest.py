"""Fixtures the EC2 modules share: the module's cloud (with the hosts beside compute that the module's
`SERVICES` names: support.NETWORK, support.VOLUME), boto3 clients of its `demo` and `admin` users, the AWS
CLI as `demo`, the networks a user's instances get addresses and elastic IPs from, and moto's EC2 server."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import boto3
import pytest
from botocore.config import Config
from openstack.connection import Connection

from tests.functional.ec2.support import Ec2Cloud, moto_server
from tests.support.api_apps import roomy_login_limits
from tests.support.cloud import InProcessCloud
from tests.support.ec2 import REGION, client_options, ec2_credentials, ec2_session

AWS = Path(sys.executable).with_name("aws")


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


@pytest.fixture(scope="module")
def aws(cloud: InProcessCloud, tmp_path_factory: pytest.TempPathFactory) -> Any:
    """The AWS CLI (`aws ec2 ...`) as the module's `demo` user: its JSON output parsed, or with
    check=False the finished process."""
    access, secret = ec2_credentials(cloud, "demo")
    home = tmp_path_factory.mktemp("aws-home")
    env = {key: value for key, value in os.environ.items() if not key.startswith("AWS_")}
    env.update(
        AWS_ACCESS_KEY_ID=access, AWS_SECRET_ACCESS_KEY=secret, AWS_DEFAULT_REGION=REGION, HOME=str(home),
        AWS_CONFIG_FILE=str(home / "config"), AWS_SHARED_CREDENTIALS_FILE=str(home / "credentials"),
        AWS_MAX_ATTEMPTS="1",
    )  # fmt: skip

    def run(*args: str, check: bool = True) -> Any:
        result = subprocess.run(
            [str(AWS), "--endpoint-url", f"{cloud.base_url}/ec2", "--output", "json", "ec2", *args],
            env=env, capture_output=True, text=True, timeout=120, check=False,
        )  # fmt: skip
        if not check:
            return result
        assert result.returncode == 0, f"aws ec2 {' '.join(args)} failed:\n{result.stderr}"
        return json.loads(result.stdout) if result.stdout.strip() else None

    return run
