"""Real guests through the public API (an in-process cloud whose hosts run QEMU): the network a server
needs, its status, and SSH into it through the port the console shows."""

from __future__ import annotations

import re
from typing import Any

from openstack import utils
from openstack.connection import Connection

from overcast.cli.servers import ssh_command
from tests.support import qemu
from tests.support.cloud import InProcessCloud
from tests.support.waiting import wait_until

# A TCG guest's boot, snapshot or delete takes tens of seconds on a loaded machine.
WAIT = 120


def networks(conn: Connection) -> dict[str, str]:
    """From 2.37 a server create must say which networks: "auto" is user-mode networking here."""
    return {"networks": "auto"} if utils.supports_microversion(conn.compute, "2.37") else {}


def wait_status(conn: Connection, server: Any, status: str) -> Any:
    # Fetched first: wait_for_server trusts the status of the object it is given.
    return conn.compute.wait_for_server(
        conn.compute.get_server(server), status=status, wait=WAIT, interval=0.3
    )


def ssh_port(cloud: InProcessCloud, server: Any) -> int:
    return int(re.fullmatch(r"ssh -p (\d+) root@127\.0\.0\.1", ssh_command(cloud.cloud, server.name))[1])


def ssh(cloud: InProcessCloud, server: Any, command: str) -> str:
    """`command`'s output, run as root in the server's guest (retried until the guest's sshd answers)."""
    port = ssh_port(cloud, server)
    result = wait_until(
        lambda: (r := qemu.ssh(port, command)).returncode == 0 and r,
        60,
        what=f"ssh {command!r}",
        interval=0.2,
    )
    return str(result.stdout)
