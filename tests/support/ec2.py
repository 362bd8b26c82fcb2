"""EC2 clients of the in-process cloud: boto3 with a user's EC2 credentials (made through the identity
API, as `openstack ec2 credentials create` makes them) and the cloud's /ec2 endpoint."""

from __future__ import annotations

from typing import Any

import boto3
import httpx
from botocore.config import Config

from tests.support.cloud import InProcessCloud, project_token

REGION = "RegionOne"


def ec2_credentials(cloud: InProcessCloud, user: str) -> tuple[str, str]:
    """A new (access, secret) pair of the bootstrap `admin` or `demo` user in its own project."""
    token = project_token(cloud, user)
    headers = {"X-Auth-Token": token}
    me = httpx.get(
        f"{cloud.base_url}/identity/v3/auth/tokens", headers={**headers, "X-Subject-Token": token}, timeout=30
    )
    assert me.status_code == 200, me.text
    body = me.json()["token"]
    made = httpx.post(
        f"{cloud.base_url}/identity/v3/users/{body['user']['id']}/credentials/OS-EC2",
        json={"tenant_id": body["project"]["id"]}, headers=headers, timeout=30,
    )  # fmt: skip
    assert made.status_code == 201, made.text
    credential = made.json()["credential"]
    return credential["access"], credential["secret"]


def ec2_session(cloud: InProcessCloud, user: str) -> boto3.session.Session:
    access, secret = ec2_credentials(cloud, user)
    return boto3.session.Session(aws_access_key_id=access, aws_secret_access_key=secret, region_name=REGION)


def client_options(cloud: InProcessCloud) -> dict[str, Any]:
    # No retries: a test sees each answer as it came.
    return {"endpoint_url": f"{cloud.base_url}/ec2", "config": Config(retries={"max_attempts": 1})}
