"""The SigV4 check against requests botocore signs: what it accepts and each change it must refuse."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from urllib.parse import urlsplit

import pytest
from botocore.auth import SigV4Auth
from botocore.awsrequest import AWSRequest
from botocore.credentials import Credentials

from overcast.api.ec2 import sigv4
from overcast.ec2.errors import Ec2Error

SECRET = "wJalrXUtnFEMI/K7MDENG/bPxRfiCYEXAMPLEKEY"
URL = "http://127.0.0.1:8774/ec2/"
BODY = "Action=DescribeInstances&Version=2016-11-15&Filter.1.Name=tag%3AName&Filter.1.Value.1=a%20b%2A"


def _signed(body: str = BODY, *, url: str = URL, region: str = "RegionOne") -> sigv4.SignedRequest:
    form = {"Content-Type": "application/x-www-form-urlencoded; charset=utf-8"}
    request = AWSRequest(method="POST", url=url, data=body, headers=form)
    SigV4Auth(Credentials("AKIDEXAMPLE", SECRET), "ec2", region).add_auth(request)
    parts = urlsplit(url)
    headers: dict[str, list[str]] = {"host": [parts.netloc]}
    for name, value in request.headers.items():
        headers.setdefault(name.lower(), []).append(value)
    return sigv4.SignedRequest("POST", parts.path, parts.query, headers, body.encode())


def test_a_botocore_signature_verifies() -> None:
    request = _signed()
    signature = sigv4.parse(request)
    assert (signature.access_key, signature.region, signature.service) == ("AKIDEXAMPLE", "RegionOne", "ec2")
    sigv4.check_scope(signature, region="RegionOne", now=signature.timestamp + timedelta(minutes=14))
    sigv4.verify(request, signature, SECRET)


def test_a_query_string_is_part_of_what_is_signed() -> None:
    request = _signed("", url=URL + "?Action=DescribeRegions&Version=2016-11-15&RegionName.1=a%2Fb")
    sigv4.verify(request, sigv4.parse(request), SECRET)


@pytest.mark.parametrize(
    "change",
    [
        lambda r: sigv4.SignedRequest(r.method, r.raw_path, r.raw_query, r.headers, r.body + b"&DryRun=true"),
        lambda r: sigv4.SignedRequest("GET", r.raw_path, r.raw_query, r.headers, r.body),
        lambda r: sigv4.SignedRequest(r.method, "/ec2/other", r.raw_query, r.headers, r.body),
        lambda r: sigv4.SignedRequest(r.method, r.raw_path, "x=1", r.headers, r.body),
        lambda r: sigv4.SignedRequest(
            r.method, r.raw_path, r.raw_query, {**r.headers, "host": ["evil:1"]}, r.body
        ),
    ],
)
def test_any_change_to_a_signed_request_is_refused(change: object) -> None:
    request = _signed()
    changed = change(request)  # type: ignore[operator]
    with pytest.raises(Ec2Error) as error:
        sigv4.verify(changed, sigv4.parse(changed), SECRET)
    assert error.value.code == "SignatureDoesNotMatch"


def test_a_wrong_secret_is_refused() -> None:
    request = _signed()
    with pytest.raises(Ec2Error) as error:
        sigv4.verify(request, sigv4.parse(request), SECRET + "x")
    assert (error.value.code, error.value.status) == ("SignatureDoesNotMatch", 403)


@pytest.mark.parametrize(
    ("skew", "code"),
    [
        (timedelta(minutes=15, seconds=1), "RequestExpired"),
        (-timedelta(minutes=15, seconds=1), "RequestExpired"),
    ],
)
def test_a_request_more_than_15_minutes_off_is_expired(skew: timedelta, code: str) -> None:
    signature = sigv4.parse(_signed())
    with pytest.raises(Ec2Error) as error:
        sigv4.check_scope(signature, region="RegionOne", now=signature.timestamp + skew)
    assert error.value.code == code


def test_the_scope_must_be_the_clouds_region_and_ec2() -> None:
    signature = sigv4.parse(_signed(region="us-east-1"))
    with pytest.raises(Ec2Error) as error:
        sigv4.check_scope(signature, region="RegionOne", now=datetime.now(UTC))
    assert (error.value.code, error.value.status) == ("AuthFailure", 401)


@pytest.mark.parametrize(
    "authorization",
    [
        "AWS4-HMAC-SHA256",
        "AWS AKID:sig",
        "AWS4-HMAC-SHA256 Credential=a/b/c, SignedHeaders=host, Signature=" + "0" * 64,
    ],
)
def test_a_malformed_authorization_header_is_an_incomplete_signature(authorization: str) -> None:
    request = _signed()
    headers = {**request.headers, "authorization": [authorization]}
    broken = sigv4.SignedRequest(request.method, request.raw_path, request.raw_query, headers, request.body)
    with pytest.raises(Ec2Error) as error:
        sigv4.parse(broken)
    assert (error.value.code, error.value.status) == ("IncompleteSignature", 400)


def test_no_signature_at_all_is_an_auth_failure() -> None:
    with pytest.raises(Ec2Error) as error:
        sigv4.parse(sigv4.SignedRequest("POST", "/ec2/", "", {"host": ["h"]}, b"Action=DescribeRegions"))
    assert (error.value.code, error.value.status) == ("AuthFailure", 401)
