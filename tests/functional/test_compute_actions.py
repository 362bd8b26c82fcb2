"""Server actions end to end: openstacksdk and the `openstack` CLI → API → conductor → compute → fake driver.

One in-process cloud (API over real HTTP, conductor, scheduler, two fake compute hosts) for the module.
"""

from __future__ import annotations

import json
import os
import subprocess
import threading
import time
from collections.abc import Iterator
from typing import Any

import pytest
from openstack import exceptions as sdk_exceptions
from openstack.connection import Connection
from sqlalchemy import select

from overcast.bus import NotificationListener
from overcast.compute.manager import ComputeManager
from overcast.context import RequestContext
from overcast.db.models.compute import ComputeNode
from overcast.virt.driver import PowerState
from tests.support.cloud import IMAGE_ID, OPENSTACK, TINY, InProcessCloud
from tests.support.compute_api import INTERVAL, WAIT_SECONDS, settled
from tests.support.waiting import wait_until


class Recorder:
    def __init__(self) -> None:
        self.events: list[tuple[str, dict[str, Any]]] = []
        self.lock = threading.Lock()

    def info(
        self, ctxt: RequestContext, publisher: str, event_type: str, payload: dict[str, Any], _: Any
    ) -> None:
        with self.lock:
            self.events.append((event_type, payload))

    def error(self, *args: Any) -> None:
        self.info(*args)

    def types_for(self, uuid: str) -> list[str]:
        with self.lock:
            return [event for event, payload in self.events if payload.get("instance_id") == uuid]


@pytest.fixture(scope="module")
def recorder(cloud: InProcessCloud) -> Iterator[Recorder]:
    recorder = Recorder()
    listener = NotificationListener(cloud.cloud.transport, [recorder], pool="actions-test")
    listener.start()
    yield recorder
    listener.stop()
    listener.wait(5)


def active(conn: Connection, name: str, **extra: Any) -> Any:
    extra.setdefault("networks", "none")  # required from microversion 2.37
    created = conn.compute.create_server(name=name, image_id=IMAGE_ID, flavor_id=TINY, **extra)
    return conn.compute.wait_for_server(
        created, status="ACTIVE", failures=["ERROR"], interval=INTERVAL, wait=WAIT_SECONDS
    )


def delete(conn: Connection, server: Any) -> None:
    conn.compute.delete_server(server)
    conn.compute.wait_for_delete(server, interval=INTERVAL, wait=WAIT_SECONDS)


def manager_of(cloud: InProcessCloud, host: str) -> ComputeManager:
    return next(s.manager for s in cloud.services if isinstance(s.manager, ComputeManager) and s.host == host)


def test_power_actions_change_status_and_record_actions_events_and_notifications(
    demo: Connection, admin: Connection, recorder: Recorder
) -> None:
    server = active(demo, "power")
    demo.compute.stop_server(server)
    assert settled(demo, server.id, "SHUTOFF").power_state == int(PowerState.SHUTDOWN)
    with pytest.raises(sdk_exceptions.ConflictException) as refused:
        demo.compute.stop_server(server)
    assert f"Cannot 'stop' instance {server.id} while it is in vm_state stopped" in str(refused.value)
    demo.compute.start_server(server)
    settled(demo, server.id, "ACTIVE")
    demo.compute.reboot_server(server, "SOFT")
    settled(demo, server.id, "ACTIVE")
    demo.compute.reboot_server(server, "HARD")
    settled(demo, server.id, "ACTIVE")
    demo.compute.pause_server(server)
    assert settled(demo, server.id, "PAUSED").power_state == int(PowerState.PAUSED)
    demo.compute.unpause_server(server)
    settled(demo, server.id, "ACTIVE")
    demo.compute.suspend_server(server)
    settled(demo, server.id, "SUSPENDED")
    demo.compute.resume_server(server)
    settled(demo, server.id, "ACTIVE")

    actions = list(demo.compute.server_actions(server))
    assert [a.action for a in actions] == [
        "resume", "suspend", "unpause", "pause", "reboot", "reboot", "start", "stop", "create",
    ]  # fmt: skip
    stop = next(a for a in actions if a.action == "stop")
    assert stop.user_id == demo.current_user_id and stop.project_id == demo.current_project_id
    # From 2.51 the owner sees the events too, without the admin's traceback (and, from 2.62, host).
    owned = demo.compute.get_server_action(stop.request_id, server)
    assert [(e.event, e.result, e.traceback, e.host) for e in owned.events] == [
        ("compute_stop_instance", "Success", None, None)
    ]
    detailed = admin.compute.get_server_action(stop.request_id, server)
    assert [(e.event, e.result) for e in detailed.events] == [("compute_stop_instance", "Success")]
    assert detailed.events[0].host and detailed.events[0].host_id == owned.events[0].host_id
    wait_until(lambda: "compute.instance.resume.end" in recorder.types_for(server.id))
    seen = recorder.types_for(server.id)
    for event in ("create", "power_off", "power_on", "reboot", "pause", "unpause", "suspend", "resume"):
        assert f"compute.instance.{event}.start" in seen and f"compute.instance.{event}.end" in seen
    payload = next(
        p
        for e, p in recorder.events
        if e == "compute.instance.power_off.end" and p["instance_id"] == server.id
    )
    assert payload["state"] == "stopped" and payload["flavor"]["name"] == "m1.tiny"
    assert payload["flavor"]["memory_mb"] == 512 and payload["launched_at"] and payload["tenant_id"]
    delete(demo, server)
    wait_until(lambda: "compute.instance.delete.end" in recorder.types_for(server.id))


def test_lock_refuses_the_owner_but_not_an_admin(demo: Connection, admin: Connection) -> None:
    server = active(demo, "locked")
    demo.compute.lock_server(server)
    with pytest.raises(sdk_exceptions.ConflictException) as refused:
        demo.compute.stop_server(server)
    assert f"Instance {server.id} is locked" in str(refused.value)
    with pytest.raises(sdk_exceptions.ConflictException):
        demo.compute.delete_server(server)
    admin.compute.stop_server(server)
    settled(demo, server.id, "SHUTOFF")
    demo.compute.unlock_server(server)
    demo.compute.start_server(server)
    settled(demo, server.id, "ACTIVE")
    admin.compute.lock_server(server)
    with pytest.raises(sdk_exceptions.ForbiddenException):
        demo.compute.unlock_server(server)
    admin.compute.unlock_server(server)
    raw = demo.compute.get(f"/servers/{server.id}").json()["server"]
    assert "locked" not in raw  # `locked` is a 2.9 field
    delete(demo, server)


def test_rescue_unrescue_password_console_and_diagnostics(demo: Connection, admin: Connection) -> None:
    server = active(demo, "rescuer")
    response = demo.compute.post(f"/servers/{server.id}/action", json={"rescue": {"adminPass": "s3cret"}})
    assert response.status_code == 200 and response.json() == {"adminPass": "s3cret"}
    settled(demo, server.id, "RESCUE")
    demo.compute.unrescue_server(server)
    settled(demo, server.id, "ACTIVE")
    demo.compute.rescue_server(server)
    settled(demo, server.id, "RESCUE")
    demo.compute.unrescue_server(server)
    settled(demo, server.id, "ACTIVE")

    demo.compute.change_server_password(server, "n3w-pass")
    assert settled(demo, server.id, "ACTIVE").status == "ACTIVE"
    assert demo.compute.get_server_password(server) == ""
    demo.compute.clear_server_password(server)

    output = demo.compute.get_server_console_output(server)["output"]
    assert "rescue image" in output and "login:" in output
    # Nova counts lines by splitting on newlines: the text after the last newline is the last "line".
    assert demo.compute.get_server_console_output(server, length=1)["output"] == ""
    last = demo.compute.get_server_console_output(server, length=2)["output"]
    assert last.count("\n") == 1 and last.strip().endswith("login:")

    diagnostics = admin.compute.get(f"/servers/{server.id}/diagnostics").json()
    assert diagnostics["driver"] == "fake" and diagnostics["num_cpus"] == 1
    assert demo.compute.get(f"/servers/{server.id}/diagnostics").status_code == 403
    delete(demo, server)


def test_resize_confirm_and_revert_through_the_conductor(
    cloud: InProcessCloud, demo: Connection, admin: Connection
) -> None:
    bigger = admin.compute.create_flavor(name="actions.bigger", ram=1024, vcpus=2, disk=1)
    server = active(demo, "resizer")
    demo.compute.resize_server(server, bigger.id)
    resized = settled(demo, server.id, "VERIFY_RESIZE")
    # From microversion 2.47 a server embeds its flavor (named by original_name) instead of linking it.
    assert resized.flavor["original_name"] == bigger.name and resized.flavor["vcpus"] == 2
    demo.compute.confirm_server_resize(server)
    confirmed = settled(demo, server.id, "ACTIVE")
    assert confirmed.flavor["original_name"] == bigger.name
    demo.compute.resize_server(server, TINY)
    settled(demo, server.id, "VERIFY_RESIZE")
    demo.compute.revert_server_resize(server)
    wait_until(lambda: demo.compute.get_server(server.id).flavor["original_name"] == bigger.name)
    assert settled(demo, server.id, "ACTIVE").flavor["original_name"] == bigger.name
    with pytest.raises(sdk_exceptions.BadRequestException):
        demo.compute.resize_server(server, bigger.id)  # must change flavor
    with pytest.raises(sdk_exceptions.ConflictException):
        demo.compute.confirm_server_resize(server)
    assert _used_memory(cloud) == 1024
    delete(demo, server)
    assert _used_memory(cloud) == 0
    admin.compute.delete_flavor(bigger)


def _used_memory(cloud: InProcessCloud) -> int:
    with cloud.cloud.db.reader() as session:
        return sum(node.memory_mb_used for node in session.scalars(select(ComputeNode)))


def test_rebuild_and_create_image(cloud: InProcessCloud, demo: Connection) -> None:
    server = active(demo, "rebuilder", metadata={"old": "1"})
    rebuilt = demo.compute.rebuild_server(
        server, IMAGE_ID, name="rebuilt", admin_password="pw-1", metadata={"new": "2"}
    )
    assert rebuilt.admin_password == "pw-1"
    server = settled(demo, server.id, "ACTIVE")
    assert server.name == "rebuilt" and server.metadata == {"new": "2"}
    image = demo.compute.create_server_image(server, "snap-1", metadata={"purpose": "backup"}, wait=True)
    wait_until(lambda: demo.compute.get_server(server.id).task_state is None)
    image_id = image.id
    assert image.status == "active" and image.owner == server.project_id and image.size > 0
    # Nova's snapshot properties: where it came from, plus createImage's metadata.
    shown = demo.image.get(f"/images/{image_id}").json()
    assert shown["purpose"] == "backup" and shown["image_type"] == "snapshot"
    assert shown["instance_uuid"] == server.id and shown["base_image_ref"] == IMAGE_ID
    with pytest.raises(sdk_exceptions.BadRequestException):
        demo.compute.create_server_image(server, "bad", metadata={"purpose": 1})
    # The snapshot boots like any image of the project.
    child = demo.compute.create_server(
        name="from-snapshot", image_id=image_id, flavor_id=TINY, networks="none"
    )
    assert settled(demo, child.id, "ACTIVE").image["id"] == image_id
    delete(demo, child)
    delete(demo, server)


def _stored_files(cloud: InProcessCloud) -> set[str]:
    return {path.name for path in (cloud.cloud.settings.data_dir / "images").iterdir()}


def test_shelve_offload_and_unshelve(cloud: InProcessCloud, demo: Connection, admin: Connection) -> None:
    server = active(demo, "shelver")
    demo.compute.shelve_server(server)
    offloaded = settled(demo, server.id, "SHELVED_OFFLOADED")
    assert admin.compute.get_server(server.id).compute_host is None
    shelved_images = list(demo.image.images(name="shelver-shelved"))
    assert [image.status for image in shelved_images] == ["active"]
    stored = _stored_files(cloud)
    demo.compute.unshelve_server(server)
    assert settled(demo, server.id, "ACTIVE").id == offloaded.id
    assert admin.compute.get_server(server.id).compute_host is not None
    # Unshelving deletes the shelved snapshot: its registry entry, its data and its quota.
    with pytest.raises(sdk_exceptions.NotFoundException):
        demo.image.get_image(shelved_images[0].id)
    assert _stored_files(cloud) == stored - {shelved_images[0].id}

    cloud.cloud.settings.shelved_offload_time = -1
    try:
        demo.compute.shelve_server(server)
        settled(demo, server.id, "SHELVED")
        with pytest.raises(sdk_exceptions.ForbiddenException):
            demo.compute.shelve_offload_server(server)
        admin.compute.shelve_offload_server(server)
        settled(demo, server.id, "SHELVED_OFFLOADED")
        demo.compute.unshelve_server(server)
        settled(demo, server.id, "ACTIVE")
    finally:
        cloud.cloud.settings.shelved_offload_time = 0
    assert _used_memory(cloud) == 512
    delete(demo, server)


def test_soft_delete_restore_force_delete_and_reclaim(
    cloud: InProcessCloud, demo: Connection, admin: Connection
) -> None:
    cloud.cloud.settings.reclaim_instance_interval = 3600
    try:
        server = active(demo, "soft")
        demo.compute.delete_server(server)
        soft = settled(demo, server.id, "SOFT_DELETED")
        assert soft.power_state == int(PowerState.SHUTDOWN)
        demo.compute.restore_server(server)
        settled(demo, server.id, "ACTIVE")
        demo.compute.delete_server(server)
        settled(demo, server.id, "SOFT_DELETED")
        demo.compute.delete_server(server, force=True)
        demo.compute.wait_for_delete(server, interval=INTERVAL, wait=WAIT_SECONDS)

        reclaimed = active(demo, "reclaimed")
        host = admin.compute.get_server(reclaimed.id).compute_host
        demo.compute.delete_server(reclaimed)
        settled(demo, reclaimed.id, "SOFT_DELETED")
        manager_of(cloud, host).reclaim_queued_deletes()
        assert demo.compute.get_server(reclaimed.id).status == "SOFT_DELETED"  # not old enough yet
        cloud.cloud.settings.reclaim_instance_interval = 1
        time.sleep(1.1)
        manager_of(cloud, host).reclaim_queued_deletes()
        demo.compute.wait_for_delete(reclaimed, interval=INTERVAL, wait=WAIT_SECONDS)
    finally:
        cloud.cloud.settings.reclaim_instance_interval = 0


def test_reset_state_is_for_admins(demo: Connection, admin: Connection) -> None:
    server = active(demo, "reset")
    with pytest.raises(sdk_exceptions.ForbiddenException):
        demo.compute.reset_server_state(server, "error")
    admin.compute.reset_server_state(server, "error")
    assert demo.compute.get_server(server.id).status == "ERROR"
    admin.compute.reset_server_state(server, "active")
    assert demo.compute.get_server(server.id).status == "ACTIVE"
    response = demo.compute.post(f"/servers/{server.id}/action", json={"teleport": None})
    assert response.status_code == 400
    delete(demo, server)


def test_server_metadata(demo: Connection) -> None:
    server = active(demo, "meta", metadata={"a": "1"})
    demo.compute.set_server_metadata(server, b="2")
    assert demo.compute.fetch_server_metadata(server).metadata == {"a": "1", "b": "2"}
    demo.compute.delete_server_metadata(server, ["a"])
    assert demo.compute.fetch_server_metadata(server).metadata == {"b": "2"}
    url = f"/servers/{server.id}/metadata"
    assert demo.compute.put(url, json={"metadata": {"only": "this"}}).json() == {"metadata": {"only": "this"}}
    assert demo.compute.get(f"{url}/only").json() == {"meta": {"only": "this"}}
    assert demo.compute.put(f"{url}/k", json={"meta": {"k": "v"}}).json() == {"meta": {"k": "v"}}
    assert demo.compute.put(f"{url}/k", json={"meta": {"other": "v"}}).status_code == 400
    assert demo.compute.get(f"{url}/missing").status_code == 404
    assert demo.compute.post(url, json={"metadata": {"bad/key": "x"}}).status_code == 400
    too_many = {f"key{i}": "v" for i in range(129)}
    assert demo.compute.post(url, json={"metadata": too_many}).status_code == 403
    assert demo.compute.get(url).json() == {"metadata": {"only": "this", "k": "v"}}
    delete(demo, server)


def test_a_vm_that_dies_shows_shutoff_at_once(
    cloud: InProcessCloud, demo: Connection, admin: Connection
) -> None:
    server = active(demo, "crashy")
    host = admin.compute.get_server(server.id).compute_host
    cloud.drivers[host].crash(server.id)
    crashed = demo.compute.get_server(server.id)
    assert crashed.status == "SHUTOFF" and crashed.power_state == int(PowerState.CRASHED)
    demo.compute.start_server(server)
    settled(demo, server.id, "ACTIVE")
    delete(demo, server)


def _cli(cloud: InProcessCloud, *args: str) -> Any:
    env = {key: value for key, value in os.environ.items() if not key.startswith("OS_")}
    env.update(OS_CLIENT_CONFIG_FILE=str(cloud.credentials.clouds_yaml), OS_CLOUD="overcast-demo",
               HOME=str(cloud.cloud.settings.data_dir))  # fmt: skip
    result = subprocess.run([str(OPENSTACK), *args], env=env, capture_output=True, text=True, timeout=120)
    assert result.returncode == 0, f"openstack {' '.join(args)} failed:\n{result.stderr}"
    return result.stdout


@pytest.mark.slow
def test_openstack_cli_server_actions(cloud: InProcessCloud, demo: Connection) -> None:
    server = active(demo, "cli-vm")
    _cli(cloud, "server", "stop", server.id)
    settled(demo, server.id, "SHUTOFF")
    _cli(cloud, "server", "start", server.id)
    settled(demo, server.id, "ACTIVE")
    _cli(cloud, "server", "reboot", "--hard", server.id)
    settled(demo, server.id, "ACTIVE")
    _cli(cloud, "server", "set", "--property", "tier=gold", server.id)
    shown = json.loads(_cli(cloud, "server", "show", server.id, "-f", "json"))
    assert shown["status"] == "ACTIVE" and "gold" in str(shown["properties"])
    actions = json.loads(_cli(cloud, "server", "event", "list", server.id, "-f", "json"))
    assert [row["Action"] for row in actions][:3] == ["reboot", "start", "stop"]
    delete(demo, server)
