"""Ansible's openstack.cloud collection (bundled with the `ansible` package) drives the in-process cloud.

Three playbooks under playbooks/: converge.yml declares a key pair, a server with metadata, a project, a user
with a role on it, and a catalog service with an endpoint; power_cycle.yml stops and starts the server;
teardown.yml removes it all. converge.yml runs twice, and its second run must change nothing.
"""

from __future__ import annotations

import json
import os
import re
import subprocess
from collections.abc import Iterator
from pathlib import Path

import pytest
from cryptography.hazmat.primitives import serialization
from cryptography.hazmat.primitives.asymmetric import ed25519
from openstack.connection import Connection

from tests.support.cloud import IMAGE_ID, InProcessCloud

PLAYBOOKS = Path(__file__).with_name("playbooks")
# Ansible runs from its own venv (scripts/install.sh --test, pyproject's `ansible` extra): the collection
# reads openstack.version, which openstacksdk dropped in 4.15, so its users pin an older sdk than ours.
ANSIBLE_VENV = Path(__file__).resolve().parents[2] / ".venv-ansible" / "bin"
ANSIBLE_PLAYBOOK = ANSIBLE_VENV / "ansible-playbook"
PREFIX = "ansible"
RECAP = re.compile(r"^localhost\s*:\s*ok=(\d+)\s+changed=(\d+)\s+unreachable=(\d+)\s+failed=(\d+)", re.M)


class Ansible:
    def __init__(self, cloud: InProcessCloud, workdir: Path) -> None:
        public_key = (
            ed25519.Ed25519PrivateKey.generate()
            .public_key()
            .public_bytes(serialization.Encoding.OpenSSH, serialization.PublicFormat.OpenSSH)
        )
        variables = {
            "prefix": PREFIX, "image": IMAGE_ID, "public_key": public_key.decode(),
            "user_password": "ansible-Secret-1",
        }  # fmt: skip
        self.variables = workdir / "vars.json"
        self.variables.write_text(json.dumps(variables))
        # Everything Ansible writes stays in this test's directory (parallel runs share no file).
        inherited = os.environ.items()
        self.env = {key: value for key, value in inherited if not key.startswith(("OS_", "ANSIBLE_"))}
        self.env |= {
            "OS_CLIENT_CONFIG_FILE": str(cloud.credentials.clouds_yaml),
            "HOME": str(workdir),
            "ANSIBLE_HOME": str(workdir / "ansible"),
            "ANSIBLE_LOCAL_TEMP": str(workdir / "ansible-tmp"),
            "ANSIBLE_REMOTE_TEMP": str(workdir / "ansible-remote-tmp"),
            "ANSIBLE_PYTHON_INTERPRETER": str(ANSIBLE_VENV / "python"),
            "ANSIBLE_NOCOLOR": "1",
            "ANSIBLE_RETRY_FILES_ENABLED": "0",
            "ANSIBLE_LOCALHOST_WARNING": "0",
            "ANSIBLE_INVENTORY_UNPARSED_WARNING": "0",
        }

    def play(self, playbook: str) -> tuple[int, int]:
        """Run one playbook; (ok, changed) from its recap, which must show no failure."""
        command = [str(ANSIBLE_PLAYBOOK), "-i", "localhost,", "-c", "local", "-e", f"@{self.variables}",
                   str(PLAYBOOKS / playbook)]  # fmt: skip
        result = subprocess.run(
            command, env=self.env, capture_output=True, text=True, timeout=300, check=False
        )
        recap = RECAP.search(result.stdout)
        assert result.returncode == 0 and recap is not None, f"{playbook}:\n{result.stdout}\n{result.stderr}"
        ok, changed, unreachable, failed = (int(count) for count in recap.groups())
        assert (unreachable, failed) == (0, 0), result.stdout
        return ok, changed


@pytest.fixture(scope="module")
def cloud(tmp_path_factory: pytest.TempPathFactory) -> Iterator[InProcessCloud]:
    cloud = InProcessCloud(tmp_path_factory.mktemp("ansible-cloud"))
    yield cloud
    cloud.stop()


def _endpoints_of(admin: Connection, service_name: str) -> list[object]:
    services = [service for service in admin.identity.services() if service.name == service_name]
    return [endpoint for service in services for endpoint in admin.identity.endpoints(service_id=service.id)]


@pytest.mark.slow
def test_playbooks_build_an_idempotent_cloud_and_remove_it(cloud: InProcessCloud, tmp_path: Path) -> None:
    if not ANSIBLE_PLAYBOOK.exists():
        pytest.fail(f"{ANSIBLE_PLAYBOOK} is missing: run scripts/install.sh --test")
    ansible = Ansible(cloud, tmp_path)
    admin = cloud.connect("admin")

    _, changed = ansible.play("converge.yml")
    assert changed == 7
    server = admin.compute.find_server(f"{PREFIX}-server")
    assert server is not None
    server = admin.compute.get_server(server.id)
    assert (server.status, server.key_name) == ("ACTIVE", f"{PREFIX}-key")
    assert server.metadata == {"role": "web", "owner": "ansible"}
    project = admin.identity.find_project(f"{PREFIX}-project", domain_id="default")
    user = admin.identity.find_user(f"{PREFIX}-user", domain_id="default")
    assert project is not None and user is not None and user.default_project_id == project.id
    assigned = list(admin.identity.role_assignments(user_id=user.id, scope_project_id=project.id))
    member = admin.identity.find_role("member")
    assert [assignment.role["id"] for assignment in assigned] == [member.id]
    endpoints = _endpoints_of(admin, f"{PREFIX}-service")
    assert [(endpoint.interface, endpoint.url) for endpoint in endpoints] == [  # type: ignore[attr-defined]
        ("public", f"http://127.0.0.1:9/{PREFIX}")
    ]

    _, changed = ansible.play("power_cycle.yml")
    assert changed == 2

    ok, changed = ansible.play("converge.yml")
    assert (ok, changed) == (7, 0)

    ansible.play("teardown.yml")
    assert admin.compute.find_server(f"{PREFIX}-server") is None
    assert admin.compute.find_keypair(f"{PREFIX}-key") is None
    assert admin.identity.find_project(f"{PREFIX}-project", domain_id="default") is None
    assert admin.identity.find_user(f"{PREFIX}-user", domain_id="default") is None
    assert not [service for service in admin.identity.services() if service.name == f"{PREFIX}-service"]
    assert not list(admin.identity.endpoints(url=f"http://127.0.0.1:9/{PREFIX}"))
