"""Server addresses and the SSH command from what the compute host stored; console tokens; which virt
driver "auto" picks; the compute host's image cache."""

from __future__ import annotations

import hashlib
import io
import os
import uuid
from collections.abc import Iterator
from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest

from overcast import errors
from overcast.bus import get_transport
from overcast.cli.servers import ssh_command
from overcast.cloud import Cloud
from overcast.compute import console_tokens, instance_extra, network_info
from overcast.compute.manager.image_cache import HostImageCache
from overcast.config import load_settings
from overcast.context import RequestContext
from overcast.db import Database
from overcast.db.models.compute import Instance
from overcast.image.api import ImageAPI
from overcast.image.patch import ImageChanges
from overcast.virt.driver import resolve_driver_name

QEMU_NETWORK = {"mode": "user", "guest_ip": "10.0.2.15", "ssh_host": "127.0.0.1", "ssh_port": 40022,
                "mac_address": "fa:16:3e:01:02:03"}  # fmt: skip


def test_addresses_render_the_guest_address_of_user_mode_networking() -> None:
    assert network_info.addresses(QEMU_NETWORK) == {
        "user": [{"version": 4, "addr": "10.0.2.15", "OS-EXT-IPS:type": "fixed",
                  "OS-EXT-IPS-MAC:mac_addr": "fa:16:3e:01:02:03"}]
    }  # fmt: skip
    assert network_info.addresses(None) == {}
    assert network_info.addresses({"mode": "user"}) == {}


def test_ssh_command_names_the_forwarded_port() -> None:
    assert network_info.ssh_command(QEMU_NETWORK) == "ssh -p 40022 root@127.0.0.1"
    assert network_info.ssh_command({**QEMU_NETWORK, "ssh_port": None}) is None
    assert network_info.ssh_command(None) is None


def test_default_vif_mac_is_stable_per_instance_and_in_nova_prefix() -> None:
    first, second = str(uuid.uuid4()), str(uuid.uuid4())
    assert network_info.default_vif(first) == network_info.default_vif(first)
    assert network_info.default_vif(first)["address"] != network_info.default_vif(second)["address"]
    assert network_info.default_vif(first)["address"].startswith("fa:16:3e:")
    assert len(network_info.default_vif(first)["address"].split(":")) == 6


def _instance(db: Database, name: str) -> str:
    with db.writer() as session:
        instance = Instance(display_name=name, project_id="p1", user_id="u1", flavor_id="1", vcpus=1,
                            memory_mb=512, root_gb=1, vm_state="active")  # fmt: skip
        session.add(instance)
        session.flush()
        return instance.uuid


def test_load_reads_the_stored_network_info_of_many_instances(db: Database) -> None:
    networked, plain, bare = _instance(db, "a"), _instance(db, "b"), _instance(db, "c")
    with db.writer() as session:
        instance_extra.update_system_metadata(session, networked, network_info=QEMU_NETWORK)
        instance_extra.update_system_metadata(session, plain, shelved_at="x")
    with db.reader() as session:
        loaded = network_info.load(session, [networked, plain, bare])
        assert network_info.load(session, []) == {}
    assert loaded == {networked: QEMU_NETWORK}


# --- console tokens -------------------------------------------------------------------------------
def test_console_tokens_are_single_use_expire_and_go_with_their_instance(db: Database) -> None:
    vm, other = _instance(db, "vm-1"), _instance(db, "vm-2")
    now = datetime(2026, 1, 1, tzinfo=UTC)
    ttl = timedelta(minutes=10)

    def grant(instance_uuid: str) -> console_tokens.ConsoleGrant:
        return console_tokens.ConsoleGrant(instance_uuid=instance_uuid, project_id="p1", user_id="u1",
                                           host="c1", console_type="serial",
                                           connect={"kind": "unix", "path": "/x/serial.sock"})  # fmt: skip

    def redeem(token: str, at: datetime) -> console_tokens.ConsoleGrant | None:
        return db.write(lambda session: console_tokens.redeem(session, token, now=at))

    def issue(instance_uuid: str) -> str:
        return db.write(lambda session: console_tokens.issue(session, grant(instance_uuid), now=now, ttl=ttl))

    first, second, third, gone = issue(vm), issue(vm), issue(vm), issue(other)
    assert len({first, second, third, gone}) == 4
    assert redeem(first, now + ttl - timedelta(seconds=1)) == grant(vm)
    assert redeem(first, now) is None  # spent
    assert redeem("made-up", now) is None
    assert redeem(second, now + ttl) is None  # expired
    db.write(lambda session: console_tokens.forget(session, other))
    assert redeem(gone, now) is None
    assert redeem(third, now) == grant(vm)  # another instance's tokens stay


# --- the default driver ---------------------------------------------------------------------------
def test_auto_driver_is_qemu_only_when_qemu_is_on_the_path(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("PATH", str(tmp_path))
    assert resolve_driver_name("auto") == "fake"
    qemu = tmp_path / "qemu-system-x86_64"
    qemu.write_text("#!/bin/sh\n")
    qemu.chmod(0o755)
    assert resolve_driver_name("auto") == "qemu"
    assert resolve_driver_name("fake") == "fake"


# --- the compute host's image cache ---------------------------------------------------------------
@pytest.fixture
def cloud(db: Database, tmp_path: Path) -> Iterator[Cloud]:
    transport = get_transport(f"inproc://image-cache-{uuid.uuid4().hex}")
    yield Cloud(settings=load_settings(data_dir=tmp_path), db=db, transport=transport)
    transport.close()


def _uploaded(images: ImageAPI, data: bytes) -> str:
    ctxt = RequestContext(user_id="u1", project_id="p1", roles=("member", "reader"))
    changes = ImageChanges(core={"name": "img", "disk_format": "raw", "container_format": "bare"})
    image_id = images.create(ctxt, changes).image.id
    images.upload(ctxt, image_id, io.BytesIO(data))
    return image_id


def test_image_cache_fetches_once_verified_and_prunes_unused(cloud: Cloud) -> None:
    images = ImageAPI(cloud)
    kept, dropped = _uploaded(images, b"k" * 5000), _uploaded(images, b"d" * 3000)
    cache = HostImageCache(cloud, "host-1", image_api=images)
    ctxt = RequestContext.admin()
    path = cache.fetch(ctxt, kept)
    assert hashlib.sha256(path.read_bytes()).hexdigest() == hashlib.sha256(b"k" * 5000).hexdigest()
    first_seen = os.stat(path).st_ino
    assert cache.fetch(ctxt, kept) == path and os.stat(path).st_ino == first_seen  # not fetched again
    cache.fetch(ctxt, dropped)
    assert path.parent == cloud.settings.data_dir / "image-cache" / "host-1"
    assert cache.prune([kept]) == [dropped]
    assert sorted(p.name for p in path.parent.iterdir()) == [kept]


def test_image_cache_refuses_an_image_without_data(cloud: Cloud) -> None:
    seeded = "a5e1f3c2-8d4b-4c6e-9f70-3b2d1e0c9a81"  # active, public, no data
    cache = HostImageCache(cloud, "host-1", ImageAPI(cloud))
    with pytest.raises(errors.Conflict):
        cache.fetch(RequestContext.admin(), seeded)
    assert not cache.path_for(seeded).exists()


# --- overcast server ssh-info ---------------------------------------------------------------------
def test_ssh_command_finds_the_server_by_id_or_unique_name(cloud: Cloud) -> None:
    db = cloud.db
    networked, stopped = _instance(db, "web"), _instance(db, "db")
    for _ in range(2):
        _instance(db, "twin")
    with db.writer() as session:
        instance_extra.update_system_metadata(session, networked, network_info=QEMU_NETWORK)
    assert ssh_command(cloud, "web") == ssh_command(cloud, networked) == "ssh -p 40022 root@127.0.0.1"
    with pytest.raises(errors.Conflict):
        ssh_command(cloud, stopped)  # nothing forwarded (the fake driver, or no VM)
    with pytest.raises(errors.Conflict):
        ssh_command(cloud, "twin")
    with pytest.raises(errors.NotFound):
        ssh_command(cloud, "nobody")
