"""Helpers of the compute admin functional tests: raw compute calls and the `openstack` CLI."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path
from typing import Any

from openstack.connection import Connection

from tests.functional.cloud import InProcessCloud

OPENSTACK = Path(sys.executable).with_name("openstack")


def compute(conn: Connection, method: str, path: str, **kwargs: Any) -> Any:
    """A raw compute API call through the SDK's authenticated session (status codes, error bodies)."""
    return conn.compute.request(path, method, raise_exc=False, **kwargs)


def openstack_cli(
    cloud: InProcessCloud, *args: str, name: str = "overcast-admin", formatted: bool = True
) -> Any:
    env = {key: value for key, value in os.environ.items() if not key.startswith("OS_")}
    env.update(OS_CLIENT_CONFIG_FILE=str(cloud.credentials.clouds_yaml), OS_CLOUD=name,
               HOME=str(cloud.cloud.settings.data_dir))  # fmt: skip
    result = subprocess.run(
        [str(OPENSTACK), *args, *(["-f", "json"] if formatted else [])],
        env=env,
        capture_output=True,
        text=True,
        timeout=120,
    )
    assert result.returncode == 0, f"openstack {' '.join(args)} failed:\n{result.stderr}"
    return json.loads(result.stdout) if result.stdout.strip() else None
