"""Read-only views of one host's data plane, through the linuxbridge driver's own readers.

What ``overcast manage network`` shows of the kernel: links, nftables tables, maps and chains, the
driver's namespaces, dnsmasq processes and their host files. Nothing here writes: it only reads what
the driver made, by the names (``drivers/names.py``) and aliases it gives everything.
"""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

from overcast.network.drivers import names
from overcast.network.drivers.linuxbridge.commands import CommandFailed, HostCommands, namespaces
from overcast.network.drivers.linuxbridge.driver import LinuxBridgeDriver
from overcast.network.drivers.linuxbridge.firewall import port_chain_rules
from overcast.network.drivers.linuxbridge.links import Link
from overcast.network.drivers.model import Inventory, Port

TABLE = names.NFT_TABLE


class KernelView:
    def __init__(self, driver: LinuxBridgeDriver) -> None:
        self.driver = driver
        self.commands: HostCommands = driver.commands

    @property
    def host_namespace(self) -> str | None:
        return self.commands.namespace

    def inventory(self) -> Inventory:
        return self.driver.inventory()

    def links(self) -> dict[str, Link]:
        return self.driver.links.all()

    def namespaces(self) -> set[str]:
        return namespaces()

    def dhcp_namespace(self, network_id: str) -> str:
        return self.driver.dhcp.namespace(network_id)

    def router_namespace(self, router_id: str) -> str:
        return self.driver.routers.namespace(router_id)

    def nft_tables(self) -> list[str]:
        """The families holding Overcast's table (``bridge``, ``inet``)."""
        listed = self._nft_json("list", "tables") or []
        return sorted(
            item["table"]["family"] for item in listed if "table" in item and item["table"]["name"] == TABLE
        )

    def map_elements(self, family: str, name: str) -> dict[str, Any]:
        """A map of Overcast's table as {key: value}; empty if it is missing."""
        for item in self._nft_json("list", "map", family, TABLE, name) or []:
            if "map" in item:
                return {str(key): value for key, value in item["map"].get("elem", [])}
        return {}

    def chain_rules(self, family: str, chain: str) -> int | None:
        """How many rules the chain holds; None if it does not exist."""
        listed = self._nft_json("list", "chain", family, TABLE, chain)
        if listed is None:
            return None
        return sum(1 for item in listed if "rule" in item)

    def chain_lines(self, family: str, chain: str) -> list[str] | None:
        """The chain's rules as ``nft list`` prints them, one line each; None if it does not exist."""
        try:
            output = self.commands.inside("nft", "list", "chain", family, TABLE, chain)
        except CommandFailed:
            return None
        lines = [line.strip() for line in output.splitlines()]
        opening = next(
            (index for index, line in enumerate(lines) if line.startswith(f"chain {chain} ")), None
        )
        if opening is None:
            return []
        body = lines[opening + 1 :]
        body = body[: body.index("}")] if "}" in body else body
        return [line for line in body if line and not line.startswith(("type ", "policy "))]

    def _nft_json(self, *args: str) -> list[dict[str, Any]] | None:
        try:
            output = self.commands.inside("nft", "-j", *args)
        except CommandFailed:
            return None
        return list(json.loads(output)["nftables"]) if output.strip() else []

    def dnsmasq_pid(self, network_id: str) -> int | None:
        return self.driver.dhcp.pid(network_id)

    def dhcp_entries(self, network_id: str) -> set[tuple[str, str]]:
        """The (MAC, address) pairs in the network's dnsmasq hosts file."""
        hosts_file = Path(self.driver.dhcp.state_dir) / network_id / "hosts"
        try:
            lines = hosts_file.read_text().splitlines()
        except OSError:
            return set()
        return {(parts[0].lower(), parts[1]) for line in lines if len(parts := line.split(",")) >= 2}

    def namespace_addresses(self, namespace: str) -> set[str]:
        """Every address held in ``namespace`` (without prefix lengths); empty if it does not exist."""
        if namespace not in self.namespaces():
            return set()
        try:
            entries = HostCommands(namespace).ip_json("addr", "show")
        except CommandFailed:
            return set()
        return {address["local"] for entry in entries for address in entry.get("addr_info", [])}

    def port_chain_rules(self, port: Port, direction: str) -> int:
        """How many rules the firewall writes into the port's chain for ``direction`` (counted from the
        script it would run, so the report follows the driver)."""
        return len(port_chain_rules(port, direction))
