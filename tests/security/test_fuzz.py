"""Schemathesis against every API's own OpenAPI document, on a running cloud, as a member and as an admin.

Each role and document gets a fresh in-process cloud (so what the admin's requests change cannot leak into
the member's run; and the ten runs spread over the parallel suite's workers) and a project-scoped token.
Every operation of the five documents gets a fixed number of generated requests, valid and invalid
(FUZZ_EXAMPLES each way), from a fixed seed: the run is the same every time and costs about 3,200
requests per role. A request fails the test when the answer is a 5xx, a
status the document does not list, a content type it does not list, or a body that does not match the
documented schema. Every operation runs even after another failed, and the report lists each failing
operation once with the request that showed it.

Each operation runs twice: with generated path ids (they name nothing, so the request stops at a 404
unless the route has a bug before its lookup) and with the ids of real resources the role's user owns
(a server, an image, the m1.tiny flavor, a key pair; a network, subnet, port, security group and rule,
router with a gateway and an interface, floating IP; its project and user, or for the admin the member's,
so it can never delete or disable itself), so the bodies and queries reach the code behind the lookup.

Operations left out, and why:
- DELETE /identity/v3/auth/tokens revokes the token named in X-Subject-Token; schemathesis may send the
  fuzzer's own token there, after which every later request would be a 401.
The test ends by checking that the fuzzer's token still works, so the cloud stayed usable throughout.
"""

from __future__ import annotations

import logging
import os
import re
import time
import uuid
from dataclasses import dataclass
from typing import Any

import httpx
import pytest
import schemathesis
from hypothesis import HealthCheck, Phase, given, seed, settings
from hypothesis.errors import Unsatisfiable
from schemathesis import CheckContext, GenerationMode, Response
from schemathesis.checks import not_a_server_error
from schemathesis.core.result import Ok
from schemathesis.specs.openapi.checks import (
    content_type_conformance,
    response_schema_conformance,
    status_code_conformance,
)

from overcast.api.openstack.image.images import PATCH_MEDIA_TYPE
from tests.support.cloud import IMAGE_ID, TINY, InProcessCloud, project_token

pytestmark = pytest.mark.slow

DOCUMENTS = (
    "/compute/v2.1/openapi.json",
    "/identity/v3/openapi.json",
    "/image/v2/openapi.json",
    "/networking/v2.0/openapi.json",
    "/volume/v3/openapi.json",
    "/billing/v1/openapi.json",
    "/portal/v1/openapi.json",
    "/rating/v2/openapi.json",
)
# OVERCAST_FUZZ_EXAMPLES=50 digs deeper by hand; the suite's 6 keep it near 3,200 requests a role.
FUZZ_EXAMPLES = int(os.environ.get("OVERCAST_FUZZ_EXAMPLES", "6"))
SEED = 20261205


def not_a_server_error_but_a_documented_501(
    ctx: CheckContext, response: Response, case: schemathesis.Case
) -> None:
    """Any 5xx fails, except a 501 the document lists: Nova's deliberate "the driver cannot" (host uptime)."""
    if response.status_code == 501 and "501" in case.operation.definition.raw.get("responses", {}):
        return
    not_a_server_error(ctx, response, case)


CHECKS = [
    not_a_server_error_but_a_documented_501,
    status_code_conformance,
    content_type_conformance,
    response_schema_conformance,
]
# (method, path) pairs the fuzzer must not call; see the module docstring.
EXCLUDED = {("DELETE", "/identity/v3/auth/tokens")}
PATH_PARAMETER = re.compile(r"{(\w+)}")
REQUESTS = [0]  # sent by the running test (a list so the generated tests can count into it)


# Glance's JSON-patch body is JSON under its own media type.
schemathesis.serializer.alias(PATCH_MEDIA_TYPE, "application/json")


@dataclass
class Finding:
    operation: str
    mode: str
    report: str


def real_ids(cloud: InProcessCloud, user: str, token: str) -> dict[str, str]:
    """Resources the user owns, to put into the paths: (see the module docstring)."""
    headers = {"X-Auth-Token": token}
    base = cloud.base_url
    server = httpx.post(
        f"{base}/compute/v2.1/servers",
        json={"server": {"name": "fuzz-target", "imageRef": IMAGE_ID, "flavorRef": TINY}},
        headers=headers,
        timeout=30,
    )
    assert server.status_code == 202, server.text
    image = httpx.post(
        f"{base}/image/v2/images",
        json={"name": "fuzz-target", "disk_format": "raw", "container_format": "bare"},
        headers=headers,
        timeout=30,
    )
    assert image.status_code == 201, image.text
    keypair = httpx.post(
        f"{base}/compute/v2.1/os-keypairs",
        json={"keypair": {"name": "fuzz-target"}},
        headers=headers,
        timeout=30,
    )
    assert keypair.status_code == 200, keypair.text
    # The admin's identity requests name the member, never the admin itself.
    member = project_token(cloud, "demo") if user == "admin" else token
    scope = httpx.get(
        f"{base}/identity/v3/auth/tokens", headers={**headers, "X-Subject-Token": member}, timeout=30
    )
    assert scope.status_code == 200, scope.text
    owner = scope.json()["token"]
    return {
        **networking_ids(cloud, token),
        **volume_ids(cloud, token),
        "server_id": server.json()["server"]["id"],
        "image_id": image.json()["id"],
        "flavor_id": TINY,
        "name": "fuzz-target",
        "project_id": owner["project"]["id"],
        "tenant_id": owner["project"]["id"],
        "target_id": owner["project"]["id"],
        "user_id": owner["user"]["id"],
    }


def _created(client: httpx.Client, path: str, body: dict[str, Any]) -> dict[str, Any]:
    response = client.post("/networking/v2.0" + path, json=body)
    assert response.status_code == 201, response.text
    created: dict[str, Any] = next(iter(response.json().values()))
    return created


def networking_ids(cloud: InProcessCloud, token: str) -> dict[str, str]:
    """The user's network, subnet, port, security group and rule, router (its gateway on the admin's
    external network, an interface on the subnet), floating IP, address scope and subnet pool."""
    admin_token = project_token(cloud, "admin")
    with (
        httpx.Client(base_url=cloud.base_url, headers={"X-Auth-Token": token}, timeout=30) as mine,
        httpx.Client(base_url=cloud.base_url, headers={"X-Auth-Token": admin_token}, timeout=30) as admin,
    ):
        public = _created(admin, "/networks", {"network": {"name": "fuzz-public", "router:external": True}})
        external = {"network_id": public["id"], "ip_version": 4, "cidr": "203.0.113.0/24"}
        _created(admin, "/subnets", {"subnet": external})
        network = _created(mine, "/networks", {"network": {"name": "fuzz"}})
        subnet = _created(
            mine,
            "/subnets",
            {"subnet": {"network_id": network["id"], "ip_version": 4, "cidr": "10.0.0.0/24"}},
        )
        port = _created(mine, "/ports", {"port": {"network_id": network["id"]}})
        group = _created(mine, "/security-groups", {"security_group": {"name": "fuzz"}})
        gateway = {"network_id": public["id"]}
        router = _created(mine, "/routers", {"router": {"name": "fuzz", "external_gateway_info": gateway}})
        added = mine.put(
            f"/networking/v2.0/routers/{router['id']}/add_router_interface", json={"subnet_id": subnet["id"]}
        )
        assert added.status_code == 200, added.text
        floating_ip = _created(
            mine, "/floatingips", {"floatingip": {"floating_network_id": public["id"], "port_id": port["id"]}}
        )
        scope = _created(mine, "/address-scopes", {"address_scope": {"name": "fuzz", "ip_version": 4}})
        pool = {"name": "fuzz", "prefixes": ["10.200.0.0/16"], "address_scope_id": scope["id"]}
        subnetpool = _created(mine, "/subnetpools", {"subnetpool": pool})
    return {
        "network_id": network["id"],
        "subnet_id": subnet["id"],
        "port_id": port["id"],
        "security_group_id": group["id"],
        "security_group_rule_id": group["security_group_rules"][0]["id"],
        "router_id": router["id"],
        "floatingip_id": floating_ip["id"],
        "address_scope_id": scope["id"],
        "subnetpool_id": subnetpool["id"],
        "resource_id": network["id"],
        "alias": "router",
    }


def volume_ids(cloud: InProcessCloud, token: str) -> dict[str, str]:
    """The user's volume (in error: no volume host runs here, which the API must answer for too), an
    attachment of it, and the admin's volume type and QoS spec."""
    admin_token = project_token(cloud, "admin")
    with (
        httpx.Client(
            base_url=f"{cloud.base_url}/volume/v3", headers={"X-Auth-Token": token}, timeout=30
        ) as mine,
        httpx.Client(
            base_url=f"{cloud.base_url}/volume/v3", headers={"X-Auth-Token": admin_token}, timeout=30
        ) as admin,
    ):
        volume = mine.post("/volumes", json={"volume": {"size": 1, "name": "fuzz", "metadata": {"k": "v"}}})
        assert volume.status_code == 202, volume.text
        volume_type = admin.post("/types", json={"volume_type": {"name": f"fuzz-{uuid.uuid4().hex[:8]}"}})
        assert volume_type.status_code == 200, volume_type.text
        qos = admin.post("/qos-specs", json={"qos_specs": {"name": f"fuzz-{uuid.uuid4().hex[:8]}"}})
        assert qos.status_code == 200, qos.text
        volume_id = volume.json()["volume"]["id"]
        admin.post(f"/volumes/{volume_id}/action", json={"os-reset_status": {"status": "available"}})
        attachment = mine.post(
            "/attachments",
            json={"attachment": {"volume_uuid": volume_id, "instance_uuid": str(uuid.uuid4())}},
            headers={"OpenStack-API-Version": "volume 3.27"},
        )
        assert attachment.status_code == 200, attachment.text
    return {
        "volume_id": volume_id,
        "attachment_id": attachment.json()["attachment"]["id"],
        "type_id": volume_type.json()["volume_type"]["id"],
        "qos_id": qos.json()["qos_specs"]["id"],
        "key": "k",
        "target_project_id": volume.json()["volume"]["os-vol-tenant-attr:tenant_id"],
    }


def fuzz_operation(
    operation: Any, mode: GenerationMode, base_url: str, token: str, path_ids: dict[str, str]
) -> Finding | None:
    @seed(SEED)
    @settings(
        max_examples=FUZZ_EXAMPLES,
        phases=[Phase.explicit, Phase.generate],  # no shrinking: a few more requests, not hundreds
        database=None,
        deadline=None,
        suppress_health_check=list(HealthCheck),
    )
    @given(case=operation.as_strategy(generation_mode=mode, path_parameters=path_ids or None))
    def run(case: schemathesis.Case) -> None:
        REQUESTS[0] += 1
        case.call_and_validate(base_url=base_url, headers={"X-Auth-Token": token}, checks=CHECKS, timeout=30)

    try:
        run()
    except Unsatisfiable:
        return None  # nothing to make invalid (no parameters, no body): the valid requests ran already
    except (Exception, BaseExceptionGroup) as error:  # schemathesis's FailureGroup is the latter
        where = f"{mode.value}, real ids" if path_ids else mode.value
        return Finding(operation.label, where, str(error))
    return None


def fuzz(cloud: InProcessCloud, user: str, token: str, document: str) -> list[Finding]:
    ids = real_ids(cloud, user, token)
    findings: list[Finding] = []
    # The cloud builds all its documents on the first fetch: two seconds here, more than schemathesis's
    # default 10 s read timeout under coverage on a loaded machine (as in CI).
    schema = schemathesis.openapi.from_url(cloud.base_url + document, timeout=60)
    for result in schema.get_all_operations():
        assert isinstance(result, Ok), f"{document} has an operation schemathesis cannot read: {result}"
        operation = result.ok()
        if (operation.method.upper(), operation.path) in EXCLUDED:
            continue
        known = {name: ids[name] for name in PATH_PARAMETER.findall(operation.path) if name in ids}
        for path_ids in ({}, known) if known else ({},):
            for mode in (GenerationMode.POSITIVE, GenerationMode.NEGATIVE):
                finding = fuzz_operation(operation, mode, cloud.base_url, token, path_ids)
                if finding is not None:
                    findings.append(finding)
    return findings


@pytest.mark.timeout(900)
@pytest.mark.parametrize("document", DOCUMENTS, ids=lambda url: url.split("/")[1])
@pytest.mark.parametrize("user", ["demo", "admin"])
def test_no_request_gets_a_5xx_or_an_answer_the_document_does_not_describe(
    fresh_cloud: InProcessCloud, user: str, document: str, caplog: pytest.LogCaptureFixture
) -> None:
    caplog.set_level(logging.CRITICAL)  # the 5xx under test log their traces; the report says enough
    token = project_token(fresh_cloud, user)
    started, REQUESTS[0] = time.monotonic(), 0
    findings = fuzz(fresh_cloud, user, token, document)
    print(f"fuzzed {document} as {user}: {REQUESTS[0]} requests in {time.monotonic() - started:.0f} s")
    still = httpx.get(
        f"{fresh_cloud.base_url}/compute/v2.1/servers", headers={"X-Auth-Token": token}, timeout=30
    )
    assert still.status_code == 200, f"the fuzzer locked itself out: {still.status_code} {still.text}"
    report = "\n\n".join(f"=== {f.operation} ({f.mode}) ===\n{f.report}" for f in findings)
    assert not findings, f"{len(findings)} operations failed as {user}:\n\n{report}"
