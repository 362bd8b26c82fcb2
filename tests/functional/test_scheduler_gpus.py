"""GPUs are counted through the whole cloud: one compute host with one GPU and plenty of RAM, a GPU
flavor made through the admin API, servers booted with openstacksdk."""

from __future__ import annotations

from collections.abc import Iterator

import pytest
from openstack.compute.v2.server import Server

from overcast.virt.driver import Device
from overcast.virt.fake import FakeDriver
from tests.support.cloud import IMAGE_ID, InProcessCloud

A100 = Device(kind="gpu", vendor_id="10de", product_id="20b5", model="A100", count=1)


@pytest.fixture(scope="module")
def cloud(tmp_path_factory: pytest.TempPathFactory) -> Iterator[InProcessCloud]:
    driver = FakeDriver(memory_mb=65536, vcpus=32, local_gb=500, devices=[A100])
    running = InProcessCloud(tmp_path_factory.mktemp("gpu-cloud"), drivers={"gpu-1": driver})
    yield running
    running.stop()


def test_the_only_gpu_goes_to_one_server_at_a_time(cloud: InProcessCloud) -> None:
    admin, demo = cloud.connect("admin"), cloud.connect("demo")
    flavor = admin.compute.create_flavor(name="g1.small", ram=512, vcpus=1, disk=1)
    admin.compute.create_flavor_extra_specs(flavor, {"resources:VGPU": "1"})

    def boot(name: str) -> Server:
        return demo.compute.create_server(name=name, image_id=IMAGE_ID, flavor_id=flavor.id, networks="none")

    first = demo.compute.wait_for_server(
        boot("gpu-a"), status="ACTIVE", failures=["ERROR"], interval=0.1, wait=30
    )
    refused = demo.compute.wait_for_server(boot("gpu-b"), status="ERROR", failures=[], interval=0.1, wait=30)
    message = refused.fault["message"]
    assert message.startswith("No valid host was found.")
    assert "PciPassthroughFilter: 1 of 1 hosts rejected (need 1 GPU(s), best 0 free)" in message
    assert "RamFilter" not in message  # RAM was never the problem

    demo.compute.delete_server(first)
    demo.compute.wait_for_delete(first, interval=0.1, wait=30)
    again = demo.compute.wait_for_server(
        boot("gpu-c"), status="ACTIVE", failures=["ERROR"], interval=0.1, wait=30
    )
    assert admin.compute.get_server(again.id).compute_host == "gpu-1"
    for server in (refused, again):
        demo.compute.delete_server(server)
        demo.compute.wait_for_delete(server, interval=0.1, wait=30)
