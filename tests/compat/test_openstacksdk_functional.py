"""openstacksdk's own functional tests (from its sdist) run against one in-process Overcast cloud.

scripts/install.sh --test unpacks the sdist of the installed openstacksdk under the venv's share/. Each area
runs in a pytest subprocess with a clouds.yaml that names the cloud's users as the sdk's devstack clouds.
Beside the in-process cloud's compute hosts (fake virt driver) run a network agent on each (noop data plane)
and one volume host (fake volume driver), as a deployment has them.
"""

from __future__ import annotations

import json
import os
import subprocess
import sys
import xml.etree.ElementTree as ElementTree
from collections.abc import Iterator
from importlib.metadata import version
from pathlib import Path

import pytest

from overcast.network.drivers.noop import NoopDriver
from overcast.network.manager import NetworkManager
from overcast.service import Service
from overcast.volume.drivers.fake import FakeVolumeDriver
from overcast.volume.manager import VolumeManager
from tests.compat.sdk_functional_exclusions import EXCLUDED
from tests.support.cloud import InProcessCloud

SDK_SOURCE = Path(sys.prefix) / "share" / f"openstacksdk-{version('openstacksdk')}"
FUNCTIONAL = "openstack/tests/functional"
AREAS: dict[str, tuple[str, ...]] = {
    "identity": ("identity/v3", "cloud/test_identity.py"),
    "compute": ("compute/v2", "cloud/test_compute.py"),
    "image": ("image/v2", "cloud/test_image.py"),
    "network": ("network/v2", "cloud/test_network.py"),
    "block_storage": ("block_storage/v3", "cloud/test_block_storage.py"),
}
IMAGE_NAME = "cirros-sdk"


def _cloud_entry(cloud: InProcessCloud, user: str, project: str | None) -> dict[str, object]:
    auth: dict[str, str] = {
        "auth_url": f"{cloud.base_url}/identity",
        "username": user,
        "password": cloud.password(user),
        "user_domain_name": "Default",
    }
    if project is None:
        auth["system_scope"] = "all"
    else:
        auth |= {"project_name": project, "project_domain_name": "Default"}
    return {"auth": auth, "region_name": cloud.settings.region, "identity_api_version": "3"}


@pytest.fixture(scope="module")
def clouds_file(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Path]:
    if not (SDK_SOURCE / FUNCTIONAL).is_dir():
        pytest.fail(f"{SDK_SOURCE} is missing: run scripts/install.sh --test")
    data = tmp_path_factory.mktemp("sdk")
    with pytest.MonkeyPatch.context() as patch:
        # The sdk's tests log in hundreds of times from one address within a minute.
        patch.setenv("OVERCAST_IDENTITY_LOGIN_BURST_PER_ADDRESS", "100000")
        patch.setenv("OVERCAST_IDENTITY_LOGIN_BURST_PER_USER", "100000")
        cloud = InProcessCloud(data / "cloud", volume_driver="fake")
    agents = [NetworkManager(cloud.cloud, host, driver=NoopDriver()) for host in cloud.drivers]
    volumes = VolumeManager(cloud.cloud, "volume-1", driver=FakeVolumeDriver(data / "volume-pool"),
                            images=cloud.image_api)  # fmt: skip
    services = [Service(cloud.cloud, manager) for manager in (*agents, volumes)]
    for service in services:
        service.start()
    admin = cloud.connect("admin")
    admin.image.create_image(
        name=IMAGE_NAME, data=b"\0" * 65536, disk_format="raw", container_format="bare", visibility="public"
    )
    # The external network a deployment gives routers and floating IPs (devstack's "public").
    public = admin.network.create_network(name="public", is_router_external=True, is_default=True)
    admin.network.create_subnet(network_id=public.id, ip_version=4, cidr="172.24.4.0/24", name="public")
    clouds = {
        "devstack-admin": _cloud_entry(cloud, "admin", "admin"),
        "devstack": _cloud_entry(cloud, "demo", "demo"),
        "devstack-alt": _cloud_entry(cloud, "demo", "demo"),
        "devstack-system-admin": _cloud_entry(cloud, "admin", None),
    }
    path = data / "clouds.yaml"
    path.write_text(json.dumps({"clouds": clouds}))
    yield path
    for service in services:
        service.stop()
    cloud.stop()


def _exclusion_args(area: str) -> list[str]:
    args: list[str] = []
    for excluded in EXCLUDED:
        if excluded.startswith(AREAS[area]):
            option = "--deselect" if "::" in excluded else "--ignore"
            args += [option, f"{FUNCTIONAL}/{excluded}"]
    return args


def _outcomes(report: Path) -> tuple[int, dict[str, str]]:
    passed, failed = 0, {}
    for case in ElementTree.parse(report).iter("testcase"):
        problem = case.find("failure")
        if problem is None:
            problem = case.find("error")
        if problem is not None:
            failed[f"{case.get('classname')}::{case.get('name')}"] = (problem.text or "").strip()[-600:]
        elif case.find("skipped") is None:
            passed += 1
    return passed, failed


@pytest.mark.slow
@pytest.mark.parametrize("area", sorted(AREAS))
def test_sdk_functional_area_passes(area: str, clouds_file: Path, tmp_path: Path) -> None:
    env = {key: value for key, value in os.environ.items() if not key.startswith(("OS_", "OPENSTACKSDK_"))}
    # OS_TEST_TIMEOUT bounds each test (5 s unless set; the sdk's tox sets 600 for its functional tests).
    env |= {
        "OS_CLIENT_CONFIG_FILE": str(clouds_file),
        "OPENSTACKSDK_IMAGE": IMAGE_NAME,
        "OPENSTACKSDK_FUNC_TEST_TIMEOUT": "60",
        "OS_TEST_TIMEOUT": "120",
    }
    report = tmp_path / "report.xml"
    command = [
        sys.executable, "-m", "pytest", "-q", "-p", "no:cacheprovider", "-c", os.devnull,
        "--rootdir", str(SDK_SOURCE), "--timeout", "120", f"--junitxml={report}", *_exclusion_args(area),
        *(f"{FUNCTIONAL}/{path}" for path in AREAS[area]),
    ]  # fmt: skip
    # From the sdist's root, as tox runs them: some tests read files of the tree (CONTRIBUTING.rst).
    subprocess.run(command, env=env, cwd=SDK_SOURCE, timeout=900, check=False, capture_output=True)
    passed, failed = _outcomes(report)
    print(f"openstacksdk {area}: {passed} passed, {len(failed)} failed")
    assert passed > 0
    assert not failed, json.dumps(failed, indent=1)
