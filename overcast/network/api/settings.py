"""Network-only settings, read from OVERCAST_NETWORK_* variables (the shared Settings stays small)."""

from __future__ import annotations

from pydantic_settings import BaseSettings, SettingsConfigDict

# A VXLAN packet carries 50 bytes of outer headers (Ethernet 14, IPv4 20, UDP 8, VXLAN 8).
VXLAN_OVERHEAD = 50


class NetworkSettings(BaseSettings):
    model_config = SettingsConfigDict(env_prefix="OVERCAST_NETWORK_", extra="ignore")

    # Neutron's ml2_type_vxlan vni_ranges: the VXLAN ids tenant networks are given, first and last.
    vxlan_first_id: int = 1
    vxlan_last_id: int = 1000
    # Neutron's ml2_type_flat flat_networks: the physical networks a flat network may name.
    flat_networks: tuple[str, ...] = ("public",)
    # Neutron's global_physnet_mtu: a flat network's MTU; a VXLAN network's is this less the overhead.
    physnet_mtu: int = 1500
    # Neutron's base_mac: generated MAC addresses keep its first three bytes (fa:16:3e is OpenStack's).
    base_mac: str = "fa:16:3e:00:00:00"
    # Where Neutron takes a default subnet pool's prefix: the subnet of each project's auto-allocated
    # (get-me-a-network) network. Projects' networks are isolated, so they all may share it.
    auto_allocated_cidr: str = "10.0.0.0/24"
