"""What the /ec2 endpoint answers to bad requests: AWS's error codes, statuses and XML, never a 500."""

from __future__ import annotations

from collections.abc import Iterator
from datetime import UTC, datetime, timedelta
from typing import Any
from xml.etree import ElementTree

import boto3
import httpx
import pytest
from botocore.auth import SigV4Auth
from botocore.awsrequest import AWSRequest
from botocore.credentials import Credentials
from botocore.exceptions import ClientError

from tests.support.cloud import InProcessCloud
from tests.support.ec2 import REGION, client_options, ec2_credentials
from tests.support.waiting import WAIT_SECONDS

FORM = {"Content-Type": "application/x-www-form-urlencoded; charset=utf-8"}


@pytest.fixture(scope="module")
def keys(cloud: InProcessCloud) -> tuple[str, str]:
    return ec2_credentials(cloud, "demo")


@pytest.fixture(scope="module")
def http(cloud: InProcessCloud) -> Iterator[httpx.Client]:
    with httpx.Client(base_url=cloud.base_url, timeout=30) as client:
        yield client


def _signed(cloud: InProcessCloud, keys: tuple[str, str], body: str, *, region: str = REGION,
            service: str = "ec2", secret: str | None = None) -> tuple[str, dict[str, str]]:  # fmt: skip
    request = AWSRequest(method="POST", url=f"{cloud.base_url}/ec2/", data=body, headers=dict(FORM))
    SigV4Auth(Credentials(keys[0], secret or keys[1]), service, region).add_auth(request)
    return body, dict(request.headers.items())


def _error(response: httpx.Response) -> tuple[int, str]:
    root = ElementTree.fromstring(response.content)
    assert root.tag == "Response" and root.findtext("RequestID")
    return response.status_code, str(root.findtext("Errors/Error/Code"))


def _client(cloud: InProcessCloud, access: str, secret: str) -> Any:
    session = boto3.session.Session(
        aws_access_key_id=access, aws_secret_access_key=secret, region_name=REGION
    )
    return session.client("ec2", **client_options(cloud))


def test_a_signed_request_gets_xml_in_the_2016_namespace_with_a_request_id(
    cloud: InProcessCloud, keys: tuple[str, str], http: httpx.Client
) -> None:
    body, headers = _signed(cloud, keys, "Action=DescribeRegions&Version=2016-11-15")
    response = http.post("/ec2/", content=body, headers=headers)
    assert response.status_code == 200 and response.headers["content-type"].startswith("text/xml")
    root = ElementTree.fromstring(response.content)
    assert root.tag == "{http://ec2.amazonaws.com/doc/2016-11-15/}DescribeRegionsResponse"
    assert root.findtext("{http://ec2.amazonaws.com/doc/2016-11-15/}requestId")


def test_signature_failures_are_aws_codes(
    cloud: InProcessCloud, keys: tuple[str, str], http: httpx.Client
) -> None:
    action = "Action=DescribeRegions&Version=2016-11-15"
    assert _error(http.post("/ec2/", content=action, headers=FORM)) == (401, "AuthFailure")
    body, headers = _signed(cloud, keys, action, secret="wrong")
    assert _error(http.post("/ec2/", content=body, headers=headers)) == (403, "SignatureDoesNotMatch")
    body, headers = _signed(cloud, keys, action)
    # The body was signed: another body under the same signature is refused.
    tampered = http.post("/ec2/", content=action.replace("Regions", "AvailabilityZones"), headers=headers)
    assert _error(tampered) == (403, "SignatureDoesNotMatch")
    body, headers = _signed(cloud, ("AKIANOSUCHKEY", keys[1]), action)
    assert _error(http.post("/ec2/", content=body, headers=headers)) == (401, "AuthFailure")
    body, headers = _signed(cloud, keys, action, region="us-east-1")
    assert _error(http.post("/ec2/", content=body, headers=headers)) == (401, "AuthFailure")
    body, headers = _signed(cloud, keys, action, service="s3")
    assert _error(http.post("/ec2/", content=body, headers=headers)) == (403, "SignatureDoesNotMatch")
    for malformed in ("AWS4-HMAC-SHA256 Credential=x", "Bearer abc",
                      headers["Authorization"].replace("Signature=", "Signature=zz")):  # fmt: skip
        response = http.post("/ec2/", content=body, headers={**headers, "Authorization": malformed})
        assert _error(response) == (400, "IncompleteSignature")


def test_clock_skew_beyond_15_minutes_is_request_expired(
    cloud: InProcessCloud, keys: tuple[str, str], monkeypatch: pytest.MonkeyPatch
) -> None:
    client = _client(cloud, *keys)
    for skew, expected in (
        (timedelta(minutes=16), "RequestExpired"),
        (timedelta(minutes=-16), "RequestExpired"),
    ):
        monkeypatch.setattr("botocore.auth.get_current_datetime", lambda skew=skew: datetime.now(UTC) - skew)
        with pytest.raises(ClientError) as error:
            client.describe_regions()
        assert error.value.response["Error"]["Code"] == expected
    monkeypatch.setattr(
        "botocore.auth.get_current_datetime", lambda: datetime.now(UTC) - timedelta(minutes=14)
    )
    assert client.describe_regions()["Regions"]


def test_presigned_get_requests_are_served(
    cloud: InProcessCloud, keys: tuple[str, str], http: httpx.Client
) -> None:
    client = _client(cloud, *keys)
    url = client.generate_presigned_url("describe_availability_zones", ExpiresIn=60, HttpMethod="GET")
    response = http.get(url)
    assert response.status_code == 200, response.text
    assert b"<zoneName>nova</zoneName>" in response.content


def test_presigned_post_requests_are_served_and_their_body_cannot_add_to_them(
    cloud: InProcessCloud, keys: tuple[str, str], http: httpx.Client
) -> None:
    client = _client(cloud, *keys)
    url = client.generate_presigned_url("describe_availability_zones", ExpiresIn=60, HttpMethod="POST")
    response = http.post(url, headers=FORM)
    assert response.status_code == 200, response.text
    assert b"<zoneName>nova</zoneName>" in response.content
    # The URL signs an empty payload: parameters smuggled into the body are someone else's request.
    smuggled = http.post(url, content="ZoneName.1=elsewhere", headers=FORM)
    assert _error(smuggled) == (403, "SignatureDoesNotMatch")


@pytest.mark.parametrize(
    ("body", "status", "code"),
    [
        ("Version=2016-11-15", 400, "MissingParameter"),
        ("Action=DescribeRegions", 400, "MissingParameter"),
        ("Action=LaunchRockets&Version=2016-11-15", 400, "InvalidAction"),
        ("Action=RunInstances&Version=2016-11-15&MinCount=1&MaxCount=1", 400, "MissingParameter"),
        (
            "Action=RunInstances&Version=2016-11-15&ImageId=ami-1&MinCount=1&MaxCount=1",
            400,
            "InvalidAMIID.Malformed",
        ),
        (
            "Action=RunInstances&Version=2016-11-15&ImageId=vol-00000000000000000&MinCount=1&MaxCount=1",
            400,
            "InvalidAMIID.Malformed",
        ),
        (
            "Action=RunInstances&Version=2016-11-15&ImageId=ami-00000000000000000&MinCount=2&MaxCount=1",
            400,
            "InvalidParameterValue",
        ),
        (
            "Action=RunInstances&Version=2016-11-15&ImageId=ami-00000000000000000&MinCount=x&MaxCount=1",
            400,
            "InvalidParameterValue",
        ),
        (
            "Action=RunInstances&Version=2016-11-15&ImageId=ami-00000000000000000&MinCount=1&MaxCount=1",
            400,
            "InvalidAMIID.NotFound",
        ),
        (
            "Action=DescribeInstances&Version=2016-11-15&InstanceId.1=ami-00000000000000000",
            400,
            "InvalidInstanceID.Malformed",
        ),
        (
            "Action=DescribeInstances&Version=2016-11-15&InstanceId.1=i-00000000000000000",
            400,
            "InvalidInstanceID.NotFound",
        ),
        (
            "Action=DescribeInstances&Version=2016-11-15&InstanceId.x=i-00000000000000000",
            400,
            "InvalidParameter",
        ),
        (
            "Action=DescribeInstances&Version=2016-11-15&Filter.1.Name=no-such-filter&Filter.1.Value.1=x",
            400,
            "InvalidParameterValue",
        ),
        (
            "Action=DescribeInstances&Version=2016-11-15&Filter.1.Name=instance-id",
            400,
            "InvalidParameterCombination",
        ),
        ("Action=DescribeInstances&Version=2016-11-15&MaxResults=2", 400, "InvalidParameterValue"),
        (
            "Action=DescribeInstances&Version=2016-11-15&MaxResults=5&NextToken=%00%ff",
            400,
            "InvalidNextToken",
        ),
        ("Action=DescribeInstances&Version=2016-11-15&DryRun=true", 412, "DryRunOperation"),
        ("Action=DescribeInstances&Version=2016-11-15&DryRun=maybe", 400, "InvalidParameterValue"),
        ("Action=CreateTags&Version=2016-11-15&ResourceId.1=i-00000000000000000", 400, "MissingParameter"),
        (
            "Action=CreateTags&Version=2016-11-15&ResourceId.1=i-00000000000000000&Tag.1.Key=aws:x",
            400,
            "InvalidParameterValue",
        ),
        (
            "Action=GetConsoleOutput&Version=2016-11-15&InstanceId=i-%FF%FE",
            400,
            "InvalidInstanceID.Malformed",
        ),
        ("Action=ImportKeyPair&Version=2016-11-15&KeyName=k&PublicKeyMaterial=%%%", 400, "InvalidKey.Format"),
    ],
)
def test_bad_parameters_are_aws_codes(
    cloud: InProcessCloud, keys: tuple[str, str], http: httpx.Client, body: str, status: int, code: str
) -> None:
    signed, headers = _signed(cloud, keys, body)
    assert _error(http.post("/ec2/", content=signed, headers=headers)) == (status, code)


def test_a_reader_may_describe_but_not_launch(cloud: InProcessCloud, http: httpx.Client) -> None:
    admin = cloud.connect("admin")
    demo_project = admin.identity.find_project("demo")
    reader = admin.identity.create_user(name="ec2-reader", password="reader-password", domain_id="default")
    role = admin.identity.find_role("reader")
    admin.identity.assign_project_role_to_user(demo_project, reader, role)
    token = httpx.post(f"{cloud.base_url}/identity/v3/auth/tokens", json={"auth": {
        "identity": {"methods": ["password"], "password": {"user": {
            "name": "ec2-reader", "domain": {"id": "default"}, "password": "reader-password"}}},
        "scope": {"project": {"id": demo_project.id}},
    }}, timeout=WAIT_SECONDS).headers["X-Subject-Token"]  # fmt: skip
    made = httpx.post(
        f"{cloud.base_url}/identity/v3/users/{reader.id}/credentials/OS-EC2",
        json={"tenant_id": demo_project.id}, headers={"X-Auth-Token": token}, timeout=WAIT_SECONDS,
    ).json()  # fmt: skip
    client = _client(cloud, made["credential"]["access"], made["credential"]["secret"])
    assert client.describe_instances()["Reservations"] == []
    for call in (lambda: client.run_instances(ImageId="ami-00000000000000000", MinCount=1, MaxCount=1),
                 lambda: client.run_instances(ImageId="ami-00000000000000000", MinCount=1, MaxCount=1,
                                              DryRun=True)):  # fmt: skip
        with pytest.raises(ClientError) as error:
            call()
        assert (
            error.value.response["Error"]["Code"],
            error.value.response["ResponseMetadata"]["HTTPStatusCode"],
        ) == ("UnauthorizedOperation", 403)
