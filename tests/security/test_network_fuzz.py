"""Schemathesis against the Networking API's routes on a running cloud, as a member and as an admin.

The networking API has no OpenAPI document of its own yet, so the operations come from the app's own
(FastAPI's) schema, cut to the paths below /networking/v2.0. Every operation gets valid and invalid
requests from a fixed seed, once with generated path ids and once with the ids of real resources (a
network, subnet, port, security group and rule, router with a gateway and an interface, floating IP), so
the bodies reach the code behind the lookups. Only one check: no answer is a 5xx (a bad input is a 4xx,
never a 500). Found this way: a null `stateful` on a security group update, an empty quota body.
"""

from __future__ import annotations

import copy
import logging
import os
import re
from typing import Any

import httpx
import pytest
import schemathesis
from hypothesis import HealthCheck, Phase, given, seed, settings
from hypothesis.errors import Unsatisfiable
from schemathesis import GenerationMode

from tests.support.cloud import InProcessCloud, project_token

pytestmark = pytest.mark.slow

FUZZ_EXAMPLES = int(os.environ.get("OVERCAST_FUZZ_EXAMPLES", "10"))
SEED = 20261205
PREFIX = "/networking/v2.0"
PATH_PARAMETER = re.compile(r"{(\w+)}")


def _post(client: httpx.Client, path: str, body: dict[str, Any]) -> dict[str, Any]:
    response = client.post(PREFIX + path, json=body)
    assert response.status_code == 201, response.text
    created: dict[str, Any] = next(iter(response.json().values()))
    return created


def real_ids(cloud: InProcessCloud, token: str, admin_token: str) -> dict[str, str]:
    """Resources of the fuzzing user (the public network is the admin's) to put into the paths."""
    with (
        httpx.Client(base_url=cloud.base_url, headers={"X-Auth-Token": token}, timeout=30) as mine,
        httpx.Client(base_url=cloud.base_url, headers={"X-Auth-Token": admin_token}, timeout=30) as admin,
    ):
        public = _post(admin, "/networks", {"network": {"name": "fuzz-public", "router:external": True}})
        _post(
            admin,
            "/subnets",
            {"subnet": {"network_id": public["id"], "ip_version": 4, "cidr": "203.0.113.0/24"}},
        )
        network = _post(mine, "/networks", {"network": {"name": "fuzz"}})
        subnet = _post(
            mine,
            "/subnets",
            {"subnet": {"network_id": network["id"], "ip_version": 4, "cidr": "10.0.0.0/24"}},
        )
        port = _post(mine, "/ports", {"port": {"network_id": network["id"]}})
        group = _post(mine, "/security-groups", {"security_group": {"name": "fuzz"}})
        router = _post(
            mine,
            "/routers",
            {"router": {"name": "fuzz", "external_gateway_info": {"network_id": public["id"]}}},
        )
        added = mine.put(
            f"{PREFIX}/routers/{router['id']}/add_router_interface", json={"subnet_id": subnet["id"]}
        )
        assert added.status_code == 200, added.text
        floating_ip = _post(
            mine, "/floatingips", {"floatingip": {"floating_network_id": public["id"], "port_id": port["id"]}}
        )
        project = mine.get(f"{PREFIX}/networks/{network['id']}").json()["network"]["project_id"]
    return {
        "network_id": network["id"],
        "subnet_id": subnet["id"],
        "port_id": port["id"],
        "security_group_id": group["id"],
        "security_group_rule_id": group["security_group_rules"][0]["id"],
        "router_id": router["id"],
        "floatingip_id": floating_ip["id"],
        "resource_id": network["id"],
        "project_id": project,
        "alias": "router",
    }


def network_schema(cloud: InProcessCloud) -> Any:
    document = copy.deepcopy(cloud.server.config.app.openapi())
    document["paths"] = {path: item for path, item in document["paths"].items() if path.startswith(PREFIX)}
    schema = schemathesis.openapi.from_dict(document)
    schema.config.update(base_url=cloud.base_url)
    return schema


def fuzz_operation(operation: Any, mode: GenerationMode, token: str, path_ids: dict[str, str]) -> str | None:
    @seed(SEED)
    @settings(
        max_examples=FUZZ_EXAMPLES,
        phases=[Phase.explicit, Phase.generate],
        database=None,
        deadline=None,
        suppress_health_check=list(HealthCheck),
    )
    @given(case=operation.as_strategy(generation_mode=mode, path_parameters=path_ids or None))
    def run(case: schemathesis.Case) -> None:
        response = case.call(headers={"X-Auth-Token": token}, timeout=30)
        assert response.status_code < 500, (
            f"{response.status_code} {case.method} {case.formatted_path} query={case.query} "
            f"body={case.body!r}: {response.text[:300]}"
        )

    try:
        run()
    except Unsatisfiable:
        return None  # nothing to make invalid: the valid requests ran already
    except AssertionError as error:
        return f"{operation.label} ({mode.value}{', real ids' if path_ids else ''}): {error}"
    return None


@pytest.mark.timeout(900)
@pytest.mark.parametrize("user", ["demo", "admin"])
def test_no_networking_request_gets_a_5xx(
    fresh_cloud: InProcessCloud, user: str, caplog: pytest.LogCaptureFixture
) -> None:
    caplog.set_level(logging.CRITICAL)  # the 5xx under test log their traces; the report says enough
    token, admin_token = project_token(fresh_cloud, user), project_token(fresh_cloud, "admin")
    ids = real_ids(fresh_cloud, token, admin_token)
    findings = []
    for result in network_schema(fresh_cloud).get_all_operations():
        operation = result.ok()
        known = {name: ids[name] for name in PATH_PARAMETER.findall(operation.path) if name in ids}
        for path_ids in ({}, known) if known else ({},):
            for mode in (GenerationMode.POSITIVE, GenerationMode.NEGATIVE):
                finding = fuzz_operation(operation, mode, token, path_ids)
                if finding is not None:
                    findings.append(finding)
    assert not findings, "\n\n".join(findings)
