"""The APIs clients still call at their lower microversions (issue #16 item 3), through real HTTP with
openstacksdk's raw requests (no client command remains for most of them) and the `openstack` CLI."""

from __future__ import annotations

import time
from typing import Any

import httpx
import openstack
from openstack.connection import Connection

from tests.support.cloud import IMAGE_ID, InProcessCloud


def _server_with_port(demo: Connection, name: str, cidr: str) -> tuple[Any, Any, Any]:
    """A server and a port of the network service naming it as its device (what a server's interface
    is to the network service), without waiting for a network agent to wire it."""
    network = demo.network.create_network(name=f"{name}-net")
    subnet = demo.network.create_subnet(network_id=network.id, cidr=cidr, ip_version=4)
    server = demo.compute.create_server(name=name, image_id=IMAGE_ID, flavor_id="1", networks="none")
    server = demo.compute.wait_for_server(server, wait=60)
    demo.network.create_port(network_id=network.id, device_id=server.id, device_owner="compute:nova")
    return network, subnet, server


def test_security_group_proxies_in_novas_format(demo: Connection) -> None:
    created = demo.compute.post(
        "/os-security-groups",
        json={"security_group": {"name": "web", "description": "web tier"}},
        microversion="2.1",
    )
    assert created.status_code == 200, created.text
    group = created.json()["security_group"]
    assert (group["name"], group["description"], group["tenant_id"]) == (
        "web",
        "web tier",
        demo.current_project_id,
    )
    assert group["rules"] == []  # egress rules are not shown, as in Nova

    def add_rule(**fields: Any) -> Any:
        return demo.compute.post(
            "/os-security-group-rules",
            json={"security_group_rule": {"parent_group_id": group["id"], **fields}},
            microversion="2.35",
        )

    tcp = add_rule(ip_protocol="tcp", from_port=80, to_port=80, cidr="10.0.0.0/8")
    assert tcp.status_code == 200, tcp.text
    assert {k: v for k, v in tcp.json()["security_group_rule"].items() if k != "id"} == {
        "parent_group_id": group["id"],
        "ip_protocol": "tcp",
        "from_port": 80,
        "to_port": 80,
        "group": {},
        "ip_range": {"cidr": "10.0.0.0/8"},
    }
    icmp = add_rule(ip_protocol="icmp", from_port=-1, to_port=-1)
    assert icmp.status_code == 200, icmp.text
    assert icmp.json()["security_group_rule"]["ip_range"] == {"cidr": "0.0.0.0/0"}
    assert (
        icmp.json()["security_group_rule"]["from_port"],
        icmp.json()["security_group_rule"]["to_port"],
    ) == (-1, -1)
    assert add_rule(ip_protocol="tcp", from_port=80, to_port=80, cidr="10.0.0.0/8").status_code == 400
    assert add_rule(ip_protocol="tcp", from_port=90, to_port=80).status_code == 400
    assert add_rule(ip_protocol="gre").status_code == 400

    # The group as the network service holds it: Neutron's fields, the ports as -1 became None.
    neutron_rules = demo.network.security_group_rules(security_group_id=group["id"], direction="ingress")
    icmp_rule = next(rule for rule in neutron_rules if rule.protocol == "icmp")
    assert (icmp_rule.port_range_min, icmp_rule.port_range_max) == (None, None)

    assert demo.compute.get("/os-security-groups?limit=x", microversion="2.1").status_code == 400
    assert (
        len(demo.compute.get("/os-security-groups?limit=1", microversion="2.1").json()["security_groups"])
        == 1
    )
    listed = demo.compute.get("/os-security-groups", microversion="2.1").json()["security_groups"]
    default = next(one for one in listed if one["name"] == "default")
    members = [rule for rule in default["rules"] if rule["group"]]
    assert members and members[0]["group"] == {"name": "default", "tenant_id": demo.current_project_id}
    assert all(rule["ip_protocol"] is None and rule["from_port"] is None for rule in members)
    shown = demo.compute.get(f"/os-security-groups/{group['id']}", microversion="2.1").json()[
        "security_group"
    ]
    assert len(shown["rules"]) == 2

    renamed = demo.compute.put(
        f"/os-security-groups/{group['id']}",
        json={"security_group": {"name": "www", "description": "renamed"}},
        microversion="2.1",
    )
    assert renamed.status_code == 200 and renamed.json()["security_group"]["name"] == "www"
    # Gone from 2.36, as in Nova.
    assert demo.compute.get("/os-security-groups", microversion="2.36").status_code == 404
    assert demo.compute.get(f"/os-security-groups/{group['id']}", microversion="2.36").status_code == 404
    rule_id = tcp.json()["security_group_rule"]["id"]
    assert demo.compute.delete(f"/os-security-group-rules/{rule_id}", microversion="2.1").status_code == 202
    assert demo.compute.delete(f"/os-security-group-rules/{rule_id}", microversion="2.1").status_code == 404
    assert demo.compute.delete(f"/os-security-groups/{group['id']}", microversion="2.1").status_code == 202
    missing = demo.compute.get(f"/os-security-groups/{group['id']}", microversion="2.1")
    assert missing.status_code == 404 and f"Security group {group['id']} not found." in missing.text


def test_a_servers_security_groups_at_every_version(cloud: InProcessCloud, demo: Connection) -> None:
    network, subnet, server = _server_with_port(demo, "guarded", "10.81.0.0/24")
    bare = demo.compute.create_server(name="bare", image_id=IMAGE_ID, flavor_id="1", networks="none")
    no_ports = demo.compute.get(f"/servers/{bare.id}/os-security-groups", microversion="2.1")
    assert no_ports.status_code == 200 and no_ports.json() == {"security_groups": []}
    for version in ("2.1", "2.36", "2.100"):
        answer = demo.compute.get(f"/servers/{server.id}/os-security-groups", microversion=version)
        assert answer.status_code == 200, answer.text
        assert [group["name"] for group in answer.json()["security_groups"]] == ["default"]
        assert answer.json()["security_groups"][0]["tenant_id"] == demo.current_project_id
    # The CLI reads the same list.
    listed = cloud.openstack("server", "show", server.id, "-f", "json")
    assert listed["id"] == server.id
    missing = demo.compute.get("/servers/3f1a4c9e-0000-4000-8000-000000000000/os-security-groups")
    assert missing.status_code == 404
    for port in demo.network.ports(network_id=network.id, device_owner="compute:nova"):
        demo.network.delete_port(port)  # first: no agent here would answer the server delete's unwiring
    for one in (server, bare):
        demo.compute.delete_server(one)
        demo.compute.wait_for_delete(one, wait=60)
    demo.network.delete_subnet(subnet)
    demo.network.delete_network(network)


def test_compute_image_proxy_up_to_2_35(cloud: InProcessCloud, demo: Connection) -> None:
    listed = demo.compute.get("/images", microversion="2.1")
    assert listed.status_code == 200, listed.text
    summary = next(image for image in listed.json()["images"] if image["id"] == IMAGE_ID)
    assert set(summary) == {"id", "name", "links"}
    assert [link["rel"] for link in summary["links"]] == ["self", "bookmark", "alternate"]
    detail = demo.compute.get("/images/detail", microversion="2.35").json()["images"]
    seeded = next(image for image in detail if image["id"] == IMAGE_ID)
    assert (seeded["status"], seeded["progress"], seeded["minDisk"], seeded["minRam"]) == (
        "ACTIVE",
        100,
        0,
        0,
    )
    glance = demo.image.get_image(IMAGE_ID)
    assert (seeded["OS-EXT-IMG-SIZE:size"], seeded["name"]) == (glance.size, glance.name)
    assert seeded["created"].endswith("Z")
    # What a real client library reads through the proxy: openstacksdk's compute Image at 2.1.
    shown = demo.compute.get(f"/images/{IMAGE_ID}", microversion="2.1").json()["image"]
    assert shown == seeded
    for gone in ("/images", "/images/detail", f"/images/{IMAGE_ID}", f"/images/{IMAGE_ID}/metadata"):
        assert demo.compute.get(gone, microversion="2.36").status_code == 404
    assert demo.compute.get("/images/3f1a4c9e-0000-4000-8000-000000000000").status_code == 404

    # A snapshot names its server; its metadata is read and written through the proxy.
    server = demo.compute.create_server(name="snapped", image_id=IMAGE_ID, flavor_id="1", networks="none")
    server = demo.compute.wait_for_server(server, wait=60)
    snapshot_id = demo.compute.create_server_image(server, "snap", wait=True, timeout=60).id
    snapshot = demo.compute.get(f"/images/{snapshot_id}", microversion="2.1").json()["image"]
    assert snapshot["server"]["id"] == server.id and snapshot["metadata"]["image_type"] == "snapshot"
    base = f"/images/{snapshot_id}/metadata"
    added = demo.compute.post(
        base, json={"metadata": {"color": "blue", "os/~arch": "x86"}}, microversion="2.1"
    )
    assert added.status_code == 200 and added.json()["metadata"]["color"] == "blue"
    assert added.json()["metadata"]["os/~arch"] == "x86"
    item = demo.compute.put(f"{base}/color", json={"meta": {"color": "red"}}, microversion="2.1")
    assert item.status_code == 200 and item.json() == {"meta": {"color": "red"}}
    mismatch = demo.compute.put(f"{base}/color", json={"meta": {"shade": "red"}}, microversion="2.1")
    assert mismatch.status_code == 400 and "Request body and URI mismatch" in mismatch.text
    assert demo.compute.get(f"{base}/color", microversion="2.1").json() == {"meta": {"color": "red"}}
    assert demo.image.get_image(snapshot_id).properties["color"] == "red"
    assert demo.compute.delete(f"{base}/color", microversion="2.1").status_code == 204
    assert demo.compute.get(f"{base}/color", microversion="2.1").status_code == 404
    replaced = demo.compute.put(base, json={"metadata": {"only": "this"}}, microversion="2.1")
    assert replaced.json() == {"metadata": {"only": "this"}}
    assert demo.compute.get(base, microversion="2.1").json() == {"metadata": {"only": "this"}}
    assert demo.compute.delete(f"/images/{snapshot_id}", microversion="2.1").status_code == 204
    assert demo.compute.get(f"/images/{snapshot_id}", microversion="2.1").status_code == 404
    demo.compute.delete_server(server)
    demo.compute.wait_for_delete(server, wait=60)


def test_services_carry_novas_binary_names(cloud: InProcessCloud, admin: Connection) -> None:
    binaries = {service.binary for service in admin.compute.services()}
    assert {"nova-compute", "nova-scheduler", "nova-conductor"} <= binaries
    assert not {binary for binary in binaries if not binary.startswith("nova-")}
    for name in ("nova-compute", "overcast-compute"):
        only = admin.compute.get(f"/os-services?binary={name}", microversion="2.1").json()["services"]
        assert only and {service["binary"] for service in only} == {"nova-compute"}
    listed = cloud.openstack(
        "compute", "service", "list", "--service", "nova-scheduler", "-f", "json", user="overcast-admin"
    )
    assert listed and {row["Binary"] for row in listed} == {"nova-scheduler"}
    zones = admin.compute.get("/os-availability-zone/detail", microversion="2.1").json()[
        "availabilityZoneInfo"
    ]
    shown = {binary for zone in zones for services in (zone["hosts"] or {}).values() for binary in services}
    assert "nova-compute" in shown and "nova-conductor" in shown


def _daily_backups(demo: Connection) -> dict[str, Any]:
    """The project's daily backups as Glance lists them (their properties are top-level fields)."""
    listed = demo.image.get("/images?limit=100").json()["images"]
    return {image["id"]: image for image in listed if image.get("backup_type") == "daily"}


def _settled(demo: Connection, server_id: str) -> None:
    """Until the server's snapshot upload is over (its task state cleared)."""
    for _ in range(600):
        if demo.compute.get_server(server_id).task_state is None:
            return
        time.sleep(0.1)
    raise AssertionError(f"server {server_id} kept a task state")


def test_create_backup_rotates_the_oldest_away(demo: Connection) -> None:
    server = demo.compute.create_server(name="backed", image_id=IMAGE_ID, flavor_id="1", networks="none")
    server = demo.compute.wait_for_server(server, wait=60)

    def backup(name: str, rotation: Any, version: str = "2.45") -> Any:
        body = {"createBackup": {"name": name, "backup_type": "daily", "rotation": rotation}}
        answer = demo.compute.post(f"/servers/{server.id}/action", json=body, microversion=version)
        assert answer.status_code == 202, answer.text
        _settled(demo, server.id)
        return answer

    first = backup("b1", 2).json()["image_id"]
    second = backup("b2", "2").json()["image_id"]  # Nova's non_negative_integer takes a digit string
    old_style = backup("b3", 2, version="2.1")
    assert "image_id" not in old_style.text and "/images/" in old_style.headers["Location"]
    third = old_style.headers["Location"].rsplit("/", 1)[1]
    assert set(_daily_backups(demo)) == {second, third}  # rotation 2: the first is gone
    assert first not in _daily_backups(demo)
    image = _daily_backups(demo)[third]
    assert (image["image_type"], image["instance_uuid"], image["name"]) == ("backup", server.id, "b3")
    # openstacksdk's own call (Server.backup) at its default microversion.
    demo.compute.backup_server(server, "b4", "daily", 1)
    _settled(demo, server.id)
    assert [image["name"] for image in _daily_backups(demo).values()] == ["b4"]
    for bad in ({"name": "x", "backup_type": "daily", "rotation": -1}, {"name": "x", "backup_type": "daily"}):
        refused = demo.compute.post(f"/servers/{server.id}/action", json={"createBackup": bad})
        assert refused.status_code == 400, refused.text
    for image_id in _daily_backups(demo):
        demo.image.delete_image(image_id)
    demo.compute.delete_server(server)
    demo.compute.wait_for_delete(server, wait=60)


def _service_user(cloud: InProcessCloud, admin: Connection) -> Connection:
    """A user holding only Keystone's `service` role (what Neutron and Cinder call Nova with)."""
    project = admin.identity.create_project(name="service-project", domain_id="default")
    user = admin.identity.create_user(
        name="neutron-svc", password="secret-pass", default_project_id=project.id, domain_id="default"
    )
    role = next(role for role in admin.identity.roles() if role.name == "service")
    admin.identity.assign_project_role_to_user(project, user, role)
    return openstack.connect(
        auth_url=f"{cloud.base_url}/identity",
        username="neutron-svc",
        password="secret-pass",
        project_name="service-project",
        user_domain_name="Default",
        project_domain_name="Default",
        region_name="RegionOne",
        identity_api_version="3",
    )


def test_server_external_events_as_nova_answers(
    cloud: InProcessCloud, admin: Connection, demo: Connection
) -> None:
    server = demo.compute.create_server(name="evented", image_id=IMAGE_ID, flavor_id="1", networks="none")
    server = demo.compute.wait_for_server(server, wait=60)
    missing = "3f1a4c9e-0000-4000-8000-000000000000"
    service = _service_user(cloud, admin)

    def send(conn: Connection, events: list[dict[str, Any]], version: str = "2.1") -> Any:
        return conn.compute.post("/os-server-external-events", json={"events": events}, microversion=version)

    plugged = {"name": "network-vif-plugged", "server_uuid": server.id, "tag": "port-1"}
    answer = send(service, [plugged])
    assert answer.status_code == 200, answer.text
    assert answer.json() == {"events": [{**plugged, "status": "completed", "code": 200}]}
    mixed = send(admin, [plugged, {"name": "network-changed", "server_uuid": missing}])
    assert mixed.status_code == 207
    assert [(event["code"], event["status"]) for event in mixed.json()["events"]] == [
        (200, "completed"),
        (404, "failed"),
    ]
    assert send(service, [{"name": "network-changed", "server_uuid": missing}]).status_code == 404
    # Names arrive with their microversions: volume-extended at 2.51, power-update at 2.76.
    extended = {"name": "volume-extended", "server_uuid": server.id, "tag": "vol-1"}
    assert send(service, [extended], "2.50").status_code == 400
    assert send(service, [extended], "2.51").status_code == 200
    power = {"name": "power-update", "server_uuid": server.id, "tag": "POWER_OFF"}
    assert send(service, [power], "2.75").status_code == 400
    assert send(service, [power], "2.76").status_code == 200
    assert send(service, [{**power, "tag": "SLEEP"}], "2.76").status_code == 400
    assert send(service, [{**plugged, "status": "done"}]).status_code == 400
    assert send(service, []).status_code == 400
    # Members may not speak for other services.
    assert send(demo, [plugged]).status_code == 403
    demo.compute.delete_server(server)
    demo.compute.wait_for_delete(server, wait=60)


def test_version_documents_list_v2_0_and_v2_1(cloud: InProcessCloud, demo: Connection) -> None:
    listed = httpx.get(f"{cloud.base_url}/compute/", timeout=30).json()["versions"]
    assert [(one["id"], one["status"]) for one in listed] == [("v2.0", "SUPPORTED"), ("v2.1", "CURRENT")]
    legacy = listed[0]
    assert (legacy["version"], legacy["min_version"]) == ("", "")
    assert legacy["links"][0]["href"] == f"{cloud.base_url}/compute/v2/"
    shown = httpx.get(legacy["links"][0]["href"], timeout=30).json()["version"]
    assert shown == legacy
    assert listed[1]["version"] == "2.100"
    # Discovery still settles on v2.1 and its microversions.
    assert demo.compute.get_endpoint().rstrip("/").endswith("/compute/v2.1")


def test_networks_proxy_and_extensions(cloud: InProcessCloud, demo: Connection) -> None:
    network = demo.network.create_network(name="proxied")
    subnet = demo.network.create_subnet(
        network_id=network.id, cidr="10.93.0.0/24", ip_version=4, dns_nameservers=["192.0.2.53"]
    )
    listed = demo.compute.get("/os-networks", microversion="2.1").json()["networks"]
    mine = next(one for one in listed if one["id"] == network.id)
    assert (mine["label"], mine["cidr"], mine["netmask"], mine["gateway"]) == (
        "proxied",
        "10.93.0.0/24",
        "255.255.255.0",
        "10.93.0.1",
    )
    assert (mine["broadcast"], mine["dns1"], mine["dns2"], mine["cidr_v6"]) == (
        "10.93.0.255",
        "192.0.2.53",
        None,
        None,
    )
    assert "project_id" not in mine  # nova-network's admin fields are for admins
    shown = demo.compute.get(f"/os-networks/{network.id}", microversion="2.35").json()["network"]
    assert shown == mine
    assert demo.compute.get("/os-networks", microversion="2.36").status_code == 404
    missing = demo.compute.get("/os-networks/3f1a4c9e-0000-4000-8000-000000000000", microversion="2.1")
    assert missing.status_code == 404 and "Network could not be found." in missing.text
    demo.network.delete_subnet(subnet)
    demo.network.delete_network(network)

    extensions = demo.compute.get("/extensions", microversion="2.100").json()["extensions"]
    aliases = {extension["alias"] for extension in extensions}
    assert {"os-security-groups", "os-create-backup", "os-server-external-events"} <= aliases
    one = demo.compute.get("/extensions/os-keypairs").json()["extension"]
    assert (one["name"], one["links"]) == ("Keypairs", [])
    assert demo.compute.get("/extensions/os-nope").status_code == 404
    cli = cloud.openstack("extension", "list", "--compute", "-f", "json")
    assert "os-keypairs" in {row["Alias"] for row in cli}


def test_floating_ip_pools_up_to_2_35(admin: Connection, demo: Connection) -> None:
    public = admin.network.create_network(name="pool-public", is_router_external=True)
    inside = demo.network.create_network(name="pool-inside")
    pools = demo.compute.get("/os-floating-ip-pools", microversion="2.1").json()["floating_ip_pools"]
    # The external networks, whoever owns them; a project's own network is no pool.
    assert {"name": "pool-public"} in pools and {"name": "pool-inside"} not in pools
    assert all(set(pool) == {"name"} for pool in pools)
    assert demo.compute.get("/os-floating-ip-pools", microversion="2.36").status_code == 404
    assert {"name": "pool-public"} in demo.list_floating_ip_pools()
    demo.network.delete_network(inside)
    admin.network.delete_network(public)

def test_os_hosts_up_to_2_42(admin: Connection, demo: Connection) -> None:
    hosts = admin.compute.get("/os-hosts", microversion="2.42").json()["hosts"]
    assert {"host_name": "compute-1", "service": "compute", "zone": "nova"} in hosts
    assert {host["service"] for host in hosts} == {"compute", "conductor", "scheduler"}
    assert all(host["zone"] == "internal" for host in hosts if host["service"] != "compute")
    shown = admin.compute.get("/os-hosts/compute-1", microversion="2.1").json()["host"]
    assert [row["resource"]["project"] for row in shown] == ["(total)", "(used_now)", "(used_max)"]
    nodes = admin.compute.get("/os-hypervisors/detail", microversion="2.87").json()["hypervisors"]
    node = next(one for one in nodes if one["hypervisor_hostname"] == "compute-1")
    assert (shown[0]["resource"]["cpu"], shown[0]["resource"]["memory_mb"]) == (
        node["vcpus"],
        node["memory_mb"],
    )
    disabled = admin.compute.put("/os-hosts/compute-1", json={"status": "disable"}, microversion="2.1")
    assert disabled.json() == {"host": "compute-1", "status": "disabled"}
    service = next(
        s for s in admin.compute.services() if s.host == "compute-1" and s.binary == "nova-compute"
    )
    assert service.status == "disabled"
    enabled = admin.compute.put("/os-hosts/compute-1", json={"status": "enable"}, microversion="2.1")
    assert enabled.json() == {"host": "compute-1", "status": "enabled"}
    maintenance = {"maintenance_mode": "enable"}
    assert admin.compute.put("/os-hosts/compute-1", json=maintenance, microversion="2.1").status_code == 501
    assert admin.compute.get("/os-hosts/compute-1/reboot", microversion="2.1").status_code == 501
    assert (
        admin.compute.put("/os-hosts/compute-1", json={"status": "off"}, microversion="2.1").status_code
        == 400
    )
    assert admin.compute.get("/os-hosts/nowhere", microversion="2.1").status_code == 404
    assert admin.compute.get("/os-hosts", microversion="2.43").status_code == 404
    assert demo.compute.get("/os-hosts", microversion="2.1").status_code == 403


def test_cold_migration_without_another_host_is_a_synchronous_400(
    admin: Connection, demo: Connection
) -> None:
    server = demo.compute.create_server(name="alone", image_id=IMAGE_ID, flavor_id="1", networks="none")
    server = demo.compute.wait_for_server(server, wait=60)
    here = admin.compute.get_server(server.id).compute_host
    others = [s for s in admin.compute.services() if s.binary == "nova-compute" and s.host != here]
    for other in others:
        admin.compute.disable_service(other)
    try:
        refused = admin.compute.post(
            f"/servers/{server.id}/action", json={"migrate": None}, microversion="2.1"
        )
        assert refused.status_code == 400, refused.text
        assert "No valid host was found. No valid host found for cold migrate" in refused.text
        assert demo.compute.get_server(server.id).status == "ACTIVE"
        assert admin.compute.get(f"/os-migrations?instance_uuid={server.id}").json()["migrations"] == []
    finally:
        for other in others:
            admin.compute.enable_service(other)
    demo.compute.delete_server(server)
    demo.compute.wait_for_delete(server, wait=60)


def test_instance_usage_audit_log(cloud: InProcessCloud, admin: Connection, demo: Connection) -> None:
    latest = admin.compute.get("/os-instance_usage_audit_log").json()["instance_usage_audit_logs"]
    assert latest["num_hosts"] == latest["num_hosts_not_run"] == 2
    assert latest["hosts_not_run"] == ["compute-1", "compute-2"]
    assert latest["overall_status"] == "0 of 2 hosts done. 0 errors."
    before = admin.compute.get("/os-instance_usage_audit_log/2024-03-15 10:00:00").json()
    report = before["instance_usage_audit_logs"]
    assert (report["period_beginning"], report["period_ending"]) == (
        "2024-02-01 00:00:00",
        "2024-03-01 00:00:00",
    )
    january = admin.compute.get("/os-instance_usage_audit_log/2024-01-02 00:00:00.5").json()
    assert january["instance_usage_audit_logs"]["period_beginning"] == "2023-12-01 00:00:00"
    assert admin.compute.get("/os-instance_usage_audit_log/yesterday").status_code == 400
    assert demo.compute.get("/os-instance_usage_audit_log").status_code == 403


def test_trigger_crash_dump_from_2_17(cloud: InProcessCloud, demo: Connection) -> None:
    server = demo.compute.create_server(name="crashy", image_id=IMAGE_ID, flavor_id="1", networks="none")
    server = demo.compute.wait_for_server(server, wait=60)
    driver = next(d for d in cloud.drivers.values() if server.id in d.hypervisor.vms)
    path = f"/servers/{server.id}/action"
    too_old = demo.compute.post(path, json={"trigger_crash_dump": None}, microversion="2.16")
    assert too_old.status_code == 400, too_old.text
    assert demo.compute.post(path, json={"trigger_crash_dump": {}}, microversion="2.17").status_code == 400
    sent = demo.compute.post(path, json={"trigger_crash_dump": None}, microversion="2.17")
    assert sent.status_code == 202, sent.text
    assert driver.hypervisor.vms[server.id].nmis == 1
    assert "NMI received" in demo.compute.get_server_console_output(server)["output"]
    demo.compute.stop_server(server)
    demo.compute.wait_for_server(server, status="SHUTOFF", wait=60)
    stopped = demo.compute.post(path, json={"trigger_crash_dump": None}, microversion="2.17")
    assert stopped.status_code == 409, stopped.text
    demo.compute.delete_server(server)
    demo.compute.wait_for_delete(server, wait=60)


def test_add_and_remove_floating_ip_actions_up_to_2_43(admin: Connection, demo: Connection) -> None:
    public = admin.network.create_network(name="action-fip-public", is_router_external=True)
    public_subnet = admin.network.create_subnet(
        network_id=public.id, ip_version=4, cidr="198.51.100.0/24", is_dhcp_enabled=False
    )
    network, subnet, server = _server_with_port(demo, "action-fip", "10.91.0.0/24")
    router = demo.network.create_router(
        name="action-fip-router", external_gateway_info={"network_id": public.id}
    )
    demo.network.add_interface_to_router(router, subnet=subnet.id)
    [port] = list(demo.network.ports(device_id=server.id))
    fixed = port.fixed_ips[0]["ip_address"]
    fip = demo.network.create_ip(floating_network_id=public.id)

    def act(body: dict[str, Any], version: str = "2.43") -> Any:
        return demo.compute.post(f"/servers/{server.id}/action", json=body, microversion=version)

    added = act({"addFloatingIp": {"address": fip.floating_ip_address}})
    assert added.status_code == 202, added.text
    associated = demo.network.get_ip(fip.id)
    assert (associated.port_id, associated.fixed_ip_address) == (port.id, fixed)
    shown = demo.compute.get_server(server.id).addresses["action-fip-net"]
    assert [(entry["addr"], entry["OS-EXT-IPS:type"]) for entry in shown] == [
        (fixed, "fixed"),
        (fip.floating_ip_address, "floating"),
    ]

    removed = act({"removeFloatingIp": {"address": fip.floating_ip_address}})
    assert removed.status_code == 202, removed.text
    assert demo.network.get_ip(fip.id).port_id is None
    # Nova's answers: not held by this server 409, unknown address 404, a fixed address elsewhere 400.
    assert act({"removeFloatingIp": {"address": fip.floating_ip_address}}).status_code == 409
    assert act({"addFloatingIp": {"address": "203.0.113.250"}}).status_code == 404
    elsewhere = act({"addFloatingIp": {"address": fip.floating_ip_address, "fixed_address": "10.91.9.9"}})
    assert elsewhere.status_code == 400
    assert "not assigned to instance" in elsewhere.json()["badRequest"]["message"]
    assert act({"addFloatingIp": {"address": "not-an-ip"}}).status_code == 400
    assert act({"addFloatingIp": {"address": fip.floating_ip_address, "spare": 1}}).status_code == 400
    # Gone from 2.44, as in Nova.
    assert act({"addFloatingIp": {"address": fip.floating_ip_address}}, "2.44").status_code == 404
    assert demo.network.get_ip(fip.id).port_id is None
    explicit = act({"addFloatingIp": {"address": fip.floating_ip_address, "fixed_address": fixed}}, "2.1")
    assert explicit.status_code == 202, explicit.text
    assert demo.network.get_ip(fip.id).fixed_ip_address == fixed

    demo.network.delete_ip(fip)
    demo.network.delete_port(port)  # first: no agent here would answer the server delete's unwiring
    demo.compute.delete_server(server)
    demo.compute.wait_for_delete(server, wait=60)
    demo.network.remove_interface_from_router(router, subnet=subnet.id)
    demo.network.delete_router(router)
    demo.network.delete_subnet(subnet)
    demo.network.delete_network(network)
    admin.network.delete_subnet(public_subnet)
    admin.network.delete_network(public)


def test_add_and_remove_fixed_ip_actions_up_to_2_43(demo: Connection) -> None:
    network, subnet, server = _server_with_port(demo, "multinic", "10.92.0.0/24")
    elsewhere = demo.network.create_network(name="multinic-elsewhere")
    [port] = list(demo.network.ports(device_id=server.id))
    first = port.fixed_ips[0]["ip_address"]

    def act(body: dict[str, Any], version: str = "2.43") -> Any:
        return demo.compute.post(f"/servers/{server.id}/action", json=body, microversion=version)

    added = act({"addFixedIp": {"networkId": network.id}})
    assert added.status_code == 202, added.text
    held = [entry["ip_address"] for entry in demo.network.get_port(port.id).fixed_ips]
    assert len(held) == 2 and first in held
    [second] = [address for address in held if address != first]
    shown = demo.compute.get_server(server.id).addresses["multinic-net"]
    assert sorted(entry["addr"] for entry in shown) == sorted(held)

    removed = act({"removeFixedIp": {"address": second}}, "2.1")
    assert removed.status_code == 202, removed.text
    assert [entry["ip_address"] for entry in demo.network.get_port(port.id).fixed_ips] == [first]
    again = act({"removeFixedIp": {"address": second}})
    assert again.status_code == 400
    assert again.json()["badRequest"]["message"] == f"Instance {server.id} does not have fixed IP '{second}'."
    assert act({"addFixedIp": {"networkId": elsewhere.id}}).status_code == 404
    assert act({"addFixedIp": {"networkId": ""}}).status_code == 400
    assert act({"addFixedIp": {}}).status_code == 400
    assert act({"removeFixedIp": {"address": "10.92.0.300"}}).status_code == 400
    # Gone from 2.44, as in Nova.
    assert act({"addFixedIp": {"networkId": network.id}}, "2.44").status_code == 404
    assert act({"removeFixedIp": {"address": first}}, "2.44").status_code == 404
    assert [entry["ip_address"] for entry in demo.network.get_port(port.id).fixed_ips] == [first]

    demo.network.delete_port(port)  # first: no agent here would answer the server delete's unwiring
    demo.compute.delete_server(server)
    demo.compute.wait_for_delete(server, wait=60)
    demo.network.delete_network(elsewhere)
    demo.network.delete_subnet(subnet)
    demo.network.delete_network(network)


def test_virtual_interfaces_are_the_servers_ports_up_to_2_43(demo: Connection) -> None:
    network, subnet, server = _server_with_port(demo, "vifs", "10.93.0.0/24")
    [port] = list(demo.network.ports(device_id=server.id))
    path = f"/servers/{server.id}/os-virtual-interfaces"
    listed = demo.compute.get(path, microversion="2.11")
    assert listed.status_code == 200, listed.text
    assert listed.json() == {"virtual_interfaces": [{"id": port.id, "mac_address": port.mac_address}]}
    with_network = demo.compute.get(path, microversion="2.43").json()["virtual_interfaces"]
    assert with_network == [{"id": port.id, "mac_address": port.mac_address, "net_id": network.id}]
    assert demo.compute.get(f"{path}?offset=1", microversion="2.12").json() == {"virtual_interfaces": []}
    assert demo.compute.get(f"{path}?limit=x", microversion="2.12").status_code == 400
    assert demo.compute.get(path, microversion="2.44").status_code == 404
    unknown = demo.compute.get("/servers/nonexistent/os-virtual-interfaces", microversion="2.1")
    assert unknown.status_code == 404

    demo.network.delete_port(port)  # first: no agent here would answer the server delete's unwiring
    demo.compute.delete_server(server)
    demo.compute.wait_for_delete(server, wait=60)
    demo.network.delete_subnet(subnet)
    demo.network.delete_network(network)
