"""Private flavors, extra specs, limits, quota sets and quota class sets through openstacksdk, raw HTTP
where the SDK hides the status code, and the `openstack` CLI, against the whole cloud in one process."""

from __future__ import annotations

import pytest
from openstack import exceptions as sdk_exceptions
from openstack.connection import Connection

from tests.support.cloud import IMAGE_ID, TINY, InProcessCloud
from tests.support.compute_api import compute


# --- os-flavor-access -------------------------------------------------------------------------------
def test_private_flavor_is_seen_and_booted_only_by_projects_given_access(
    admin: Connection, demo: Connection
) -> None:
    flavor = admin.compute.create_flavor(name="private.small", ram=256, vcpus=1, disk=1, is_public=False)
    assert flavor.is_public is False
    demo_project = demo.current_project_id
    assert flavor.id not in {f.id for f in demo.compute.flavors()}
    with pytest.raises(sdk_exceptions.NotFoundException):
        demo.compute.get_flavor(flavor.id)
    # openstacksdk asks for is_public=None (every flavor) unless told otherwise; only admins may.
    assert flavor.id in {f.id for f in admin.compute.flavors()}
    assert flavor.id not in {f.id for f in admin.compute.flavors(is_public=True)}
    assert {f.id for f in admin.compute.flavors(is_public=False)} == {flavor.id}
    assert admin.compute.get_flavor_access(flavor) == []

    admin.compute.flavor_add_tenant_access(flavor, demo_project)
    assert admin.compute.get_flavor_access(flavor) == [{"flavor_id": flavor.id, "tenant_id": demo_project}]
    assert flavor.id in {f.id for f in demo.compute.flavors()}
    assert demo.compute.get_flavor(flavor.id).name == "private.small"
    server = demo.compute.create_server(
        name="on-private", image_id=IMAGE_ID, flavor_id=flavor.id, networks="none"
    )
    server = demo.compute.wait_for_server(server, status="ACTIVE", failures=["ERROR"], interval=0.1, wait=30)
    assert server.flavor["original_name"] == "private.small"  # the embedded flavor (2.47)
    demo.compute.delete_server(server)
    demo.compute.wait_for_delete(server, interval=0.1, wait=30)

    again = compute(admin, "POST", f"/flavors/{flavor.id}/action",
                    json={"addTenantAccess": {"tenant": demo_project}})  # fmt: skip
    assert again.status_code == 409 and "conflict" in again.json()
    unknown = compute(admin, "POST", f"/flavors/{flavor.id}/action",
                      json={"addTenantAccess": {"tenant": "no-such-project"}})  # fmt: skip
    assert unknown.status_code == 400
    with pytest.raises(sdk_exceptions.ForbiddenException):
        demo.compute.flavor_add_tenant_access(flavor, demo_project)

    admin.compute.flavor_remove_tenant_access(flavor, demo_project)
    assert flavor.id not in {f.id for f in demo.compute.flavors()}
    gone = compute(admin, "POST", f"/flavors/{flavor.id}/action",
                   json={"removeTenantAccess": {"tenant": demo_project}})  # fmt: skip
    assert gone.status_code == 404 and gone.json()["itemNotFound"]["code"] == 404
    # A private flavor that is still shared can be deleted; its access list goes with it.
    admin.compute.flavor_add_tenant_access(flavor, demo_project)
    admin.compute.delete_flavor(flavor)
    assert compute(admin, "GET", f"/flavors/{flavor.id}/os-flavor-access").status_code == 404


def test_public_flavors_have_no_access_list(admin: Connection) -> None:
    listing = compute(admin, "GET", f"/flavors/{TINY}/os-flavor-access")
    assert listing.status_code == 404
    assert listing.json()["itemNotFound"]["message"] == "Access list not available for public flavors."
    # From 2.7 access to a public flavor is a conflict; before, only the unknown project is refused.
    adding = {"addTenantAccess": {"tenant": "x"}}
    action = f"/flavors/{TINY}/action"
    assert compute(admin, "POST", action, json=adding, microversion="2.7").status_code == 409
    assert compute(admin, "POST", action, json=adding).status_code == 400


# --- os-extra_specs ---------------------------------------------------------------------------------
def test_extra_specs_lifecycle(admin: Connection, demo: Connection) -> None:
    flavor = admin.compute.create_flavor(name="specs", ram=256, vcpus=1, disk=1)
    assert admin.compute.create_flavor_extra_specs(flavor, {"hw:cpu_policy": "dedicated", "quota:cpu": 10})
    specs = demo.compute.fetch_flavor_extra_specs(flavor).extra_specs
    assert specs == {"hw:cpu_policy": "dedicated", "quota:cpu": "10"}
    assert demo.compute.get_flavor_extra_specs_property(flavor, "hw:cpu_policy") == "dedicated"
    admin.compute.update_flavor_extra_specs_property(flavor, "hw:cpu_policy", "shared")
    assert admin.compute.get_flavor_extra_specs_property(flavor, "hw:cpu_policy") == "shared"
    with pytest.raises(sdk_exceptions.ForbiddenException):
        demo.compute.update_flavor_extra_specs_property(flavor, "hw:cpu_policy", "dedicated")

    mismatch = compute(admin, "PUT", f"/flavors/{flavor.id}/os-extra_specs/a", json={"b": "1"})
    assert (
        mismatch.status_code == 400
        and mismatch.json()["badRequest"]["message"] == "Request body and URI mismatch"
    )
    too_many = compute(admin, "PUT", f"/flavors/{flavor.id}/os-extra_specs/a", json={"a": "1", "b": "2"})
    assert too_many.status_code == 400
    bad_key = compute(
        admin, "POST", f"/flavors/{flavor.id}/os-extra_specs", json={"extra_specs": {"a/b": "1"}}
    )
    assert bad_key.status_code == 400

    deleted = compute(admin, "DELETE", f"/flavors/{flavor.id}/os-extra_specs/quota:cpu")
    assert deleted.status_code == 200 and deleted.content == b""
    missing = compute(admin, "GET", f"/flavors/{flavor.id}/os-extra_specs/quota:cpu")
    assert missing.status_code == 404
    assert admin.compute.fetch_flavor_extra_specs(flavor).extra_specs == {"hw:cpu_policy": "shared"}
    admin.compute.delete_flavor(flavor)


# --- limits and quota sets --------------------------------------------------------------------------
def test_limits_follow_quota_and_usage(admin: Connection, demo: Connection) -> None:
    before = demo.compute.get_limits().absolute
    assert (before.instances, before.total_cores, before.total_ram) == (10, 20, 51200)
    assert before.personality == 5 and before.personality_size == 10240 and before.server_meta == 128
    assert (before.instances_used, before.total_cores_used, before.total_ram_used) == (0, 0, 0)
    raw = compute(demo, "GET", "/limits").json()["limits"]
    assert raw["rate"] == []
    assert set(raw["absolute"]) == {
        "maxImageMeta", "maxPersonality", "maxPersonalitySize", "maxSecurityGroupRules", "maxSecurityGroups",
        "maxServerGroupMembers", "maxServerGroups", "maxServerMeta", "maxTotalCores", "maxTotalFloatingIps",
        "maxTotalInstances", "maxTotalKeypairs", "maxTotalRAMSize", "totalCoresUsed", "totalFloatingIpsUsed",
        "totalInstancesUsed", "totalRAMUsed", "totalSecurityGroupsUsed", "totalServerGroupsUsed",
    }  # fmt: skip

    server = demo.compute.create_server(name="counted", image_id=IMAGE_ID, flavor_id=TINY, networks="none")
    demo.compute.wait_for_server(server, status="ACTIVE", failures=["ERROR"], interval=0.1, wait=30)
    during = demo.compute.get_limits().absolute
    assert (during.instances_used, during.total_cores_used, during.total_ram_used) == (1, 1, 512)
    # An admin reads another project's limits with tenant_id; a member may not.
    other = admin.compute.get_limits(tenant_id=demo.current_project_id).absolute
    assert other.instances_used == 1
    refused = compute(demo, "GET", f"/limits?tenant_id={admin.current_project_id}")
    assert refused.status_code == 403

    detail = admin.compute.get_quota_set(demo.current_project_id, usage=True)
    assert detail.usage["instances"] == 1 and detail.usage["ram"] == 512 and detail.reservation["cores"] == 0
    # Lowering a limit below what is used is refused unless forced, as in Nova.
    below = compute(
        admin, "PUT", f"/os-quota-sets/{demo.current_project_id}", json={"quota_set": {"ram": 256}}
    )
    assert below.status_code == 400 and "already used" in below.json()["badRequest"]["message"]
    forced = compute(admin, "PUT", f"/os-quota-sets/{demo.current_project_id}",
                     json={"quota_set": {"ram": 256, "force": True}})  # fmt: skip
    assert forced.status_code == 200 and forced.json()["quota_set"]["ram"] == 256
    assert "id" not in forced.json()["quota_set"]
    demo.compute.delete_server(server)
    demo.compute.wait_for_delete(server, interval=0.1, wait=30)
    admin.compute.revert_quota_set(demo.current_project_id)
    assert demo.compute.get_limits().absolute.total_ram == 51200


def test_quota_sets_through_the_sdk(admin: Connection, demo: Connection) -> None:
    project = demo.current_project_id
    shown = demo.compute.get_quota_set(project)
    # openstacksdk speaks 2.56: network quotas (fixed_ips...) left at 2.36; injected files stay until 2.57.
    assert (shown.instances, shown.cores, shown.injected_files, shown.fixed_ips) == (10, 20, 5, None)
    assert compute(admin, "GET", f"/os-quota-sets/{project}").json()["quota_set"]["fixed_ips"] == -1
    updated = admin.compute.update_quota_set(project, instances=3, cores="7")
    assert (updated.instances, updated.cores) == (3, 7)
    assert demo.compute.get_quota_set(project).instances == 3
    assert demo.compute.get_quota_set_defaults(project).instances == 10
    with pytest.raises(sdk_exceptions.ForbiddenException):
        demo.compute.update_quota_set(project, instances=100)
    with pytest.raises(sdk_exceptions.ForbiddenException):
        demo.compute.get_quota_set(admin.current_project_id)

    for invalid in ({"instances": -2}, {"instances": "many"}, {"bogus": 1}, {"instances": 1.5}):
        answer = compute(admin, "PUT", f"/os-quota-sets/{project}", json={"quota_set": invalid})
        assert answer.status_code == 400, invalid
    # A user with no limits of their own has the project's (per-user quotas, Nova's legacy driver).
    someone = compute(admin, "GET", f"/os-quota-sets/{project}?user_id=someone").json()["quota_set"]
    assert someone["instances"] == 3
    assert compute(admin, "GET", "/os-quota-sets/no-such-project").status_code == 400

    deleted = compute(admin, "DELETE", f"/os-quota-sets/{project}")
    assert deleted.status_code == 202
    assert demo.compute.get_quota_set(project).instances == 10


def test_quota_set_update_that_names_no_limit_changes_nothing(admin: Connection, demo: Connection) -> None:
    # Nova's schema has no minProperties: an empty quota_set (or force alone) answers the current limits.
    project = demo.current_project_id
    admin.compute.update_quota_set(project, instances=4)
    for body in ({}, {"force": True}):
        answer = compute(admin, "PUT", f"/os-quota-sets/{project}", json={"quota_set": body})
        assert answer.status_code == 200, answer.text
        assert answer.json()["quota_set"]["instances"] == 4
    assert compute(admin, "DELETE", f"/os-quota-sets/{project}").status_code == 202


def test_quota_class_default_drives_the_defaults(admin: Connection, demo: Connection) -> None:
    shown = compute(admin, "GET", "/os-quota-class-sets/default").json()["quota_class_set"]
    assert shown["id"] == "default" and shown["instances"] == 10
    # Not at 2.1: the server group fields join quota class sets at 2.50.
    assert "server_groups" not in shown and "server_group_members" not in shown
    assert compute(demo, "GET", "/os-quota-class-sets/default").status_code == 403

    changed = compute(
        admin, "PUT", "/os-quota-class-sets/default", json={"quota_class_set": {"key_pairs": 7}}
    )
    assert changed.status_code == 200 and changed.json()["quota_class_set"]["key_pairs"] == 7
    assert demo.compute.get_quota_set_defaults(demo.current_project_id).key_pairs == 7
    assert demo.compute.get_limits().absolute.keypairs == 7
    compute(admin, "PUT", "/os-quota-class-sets/default", json={"quota_class_set": {"key_pairs": 100}})
    assert demo.compute.get_limits().absolute.keypairs == 100


@pytest.mark.slow
def test_openstack_cli_quotas_limits_and_flavor_properties(cloud: InProcessCloud, demo: Connection) -> None:
    cloud.openstack("quota", "set", "--cores", "33", "demo", user="overcast-admin")
    shown = cloud.openstack("quota", "show", "--compute", "demo", "-f", "json", user="overcast-admin")
    cores = (
        shown["cores"]
        if isinstance(shown, dict)
        else next(r["Limit"] for r in shown if r["Resource"] == "cores")
    )
    assert cores == 33
    limits = cloud.openstack("limits", "show", "--absolute", "-f", "json", user="overcast-demo")
    shown_limits = {row["Name"]: row["Value"] for row in limits}
    assert (shown_limits["max_total_cores"], shown_limits["total_cores_used"]) == (33, 0)
    cloud.openstack(
        "flavor", "create", "--ram", "128", "--disk", "1", "--vcpus", "1", "--private",
        "--property", "hw:mem_page_size=large", "cli.private", "-f", "json", user="overcast-admin",
    )  # fmt: skip
    flavor = cloud.openstack("flavor", "show", "cli.private", "-f", "json", user="overcast-admin")
    assert flavor["os-flavor-access:is_public"] is False
    assert flavor["properties"] == {"hw:mem_page_size": "large"}
    cloud.openstack("quota", "delete", "--compute", "demo", user="overcast-admin")
    assert demo.compute.get_quota_set(demo.current_project_id).cores == 20
