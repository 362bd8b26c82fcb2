"""The commands the linuxbridge driver runs (`ip`, `bridge`, `nft`, ...), in its host's namespace.

``ip`` and ``bridge`` take the namespace themselves (``-n``); anything else is run through ``nsenter``
into the namespace's network, which costs no mount namespace as ``ip netns exec`` does.
"""

from __future__ import annotations

import json
import subprocess
from collections.abc import Sequence
from typing import Any

from overcast.network.drivers.base import NetworkDriverError

NETNS_DIR = "/run/netns"


class CommandFailed(NetworkDriverError):
    default_message = "A data-plane command failed."


def run(args: Sequence[str], stdin: str | None = None) -> str:
    completed = subprocess.run(list(args), input=stdin, capture_output=True, text=True, check=False)
    if completed.returncode != 0:
        detail = completed.stderr.strip() or completed.stdout.strip()
        raise CommandFailed(f"{' '.join(args)}: {detail}", returncode=completed.returncode)
    return completed.stdout


class HostCommands:
    """Runs commands as the host ``namespace`` (None: the namespace this process is in)."""

    def __init__(self, namespace: str | None) -> None:
        self.namespace = namespace

    def _netns(self) -> list[str]:
        return ["-n", self.namespace] if self.namespace else []

    def ip(self, *args: str) -> str:
        return run(["ip", *self._netns(), *args])

    def ip_batch(self, lines: Sequence[str]) -> None:
        """Several ``ip`` commands in one process: wiring a port costs one fork, not five."""
        if lines:
            run(["ip", *self._netns(), "-batch", "-"], stdin="\n".join(lines) + "\n")

    def ip_json_batch(self, lines: Sequence[str]) -> list[dict[str, Any]]:
        """Several ``ip -j -d`` reads in one process; a read that fails (a missing device) adds nothing."""
        completed = subprocess.run(
            ["ip", *self._netns(), "-j", "-d", "-force", "-batch", "-"],
            input="\n".join(lines) + "\n",
            capture_output=True,
            text=True,
            check=False,
        )
        return [entry for line in completed.stdout.splitlines() if line.strip() for entry in json.loads(line)]

    def ip_json(self, *args: str) -> list[dict[str, Any]]:
        output = self.ip("-j", *args)
        return json.loads(output) if output.strip() else []

    def bridge_json(self, *args: str) -> list[dict[str, Any]]:
        output = run(["bridge", *self._netns(), "-j", *args])
        return json.loads(output) if output.strip() else []

    def bridge(self, *args: str) -> str:
        return run(["bridge", *self._netns(), *args])

    def inside(self, *args: str, stdin: str | None = None) -> str:
        """Any other command, in the host namespace's network."""
        if self.namespace is None:
            return run(list(args), stdin=stdin)
        return run(["nsenter", f"--net={NETNS_DIR}/{self.namespace}", *args], stdin=stdin)


def namespaces() -> set[str]:
    output = run(["ip", "-j", "netns", "list"])
    return {entry["name"] for entry in json.loads(output)} if output.strip() else set()
