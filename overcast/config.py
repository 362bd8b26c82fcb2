"""One typed settings object: defaults < overcast.toml < OVERCAST_* environment < explicit overrides."""

from __future__ import annotations

import os
from pathlib import Path
from typing import Any

from pydantic import BaseModel, Field, field_validator
from pydantic_settings import (
    BaseSettings,
    PydanticBaseSettingsSource,
    SettingsConfigDict,
    TomlConfigSettingsSource,
)

# Nova's default_availability_zone: the zone of every compute host that no aggregate puts in another.
DEFAULT_AVAILABILITY_ZONE = "nova"


def _default_data_dir() -> Path:
    return Path(os.environ.get("XDG_DATA_HOME", Path.home() / ".local" / "share")) / "overcast"


def _config_file() -> Path:
    """overcast.toml is looked up in the working directory unless OVERCAST_CONFIG names another."""
    return Path(os.environ.get("OVERCAST_CONFIG", "overcast.toml"))


class SchedulerSettings(BaseModel):
    """[scheduler] in overcast.toml, OVERCAST_SCHEDULER__<FIELD> in the environment."""

    # "filter" (the pipeline below), or a Cactus preset: "chance", "simple", "zone".
    preset: str = "filter"
    enabled_filters: list[str] = Field(default_factory=lambda: [
        "ComputeFilter", "AvailabilityZoneFilter", "RamFilter", "CoreFilter", "DiskFilter",
        "ImagePropertiesFilter", "AggregateInstanceExtraSpecsFilter", "AggregateMultiTenancyIsolation",
        "ServerGroupAntiAffinityFilter", "ServerGroupAffinityFilter", "SameHostFilter",
        "DifferentHostFilter", "PciPassthroughFilter", "CpuTraitsFilter", "JsonFilter",
    ])  # fmt: skip
    # "spread" prefers the emptiest hosts, "pack" the fullest (flips the RAM/vCPU/disk weighers).
    strategy: str = "spread"
    ram_weight_multiplier: float = 1.0
    cpu_weight_multiplier: float = 1.0
    disk_weight_multiplier: float = 1.0
    io_ops_weight_multiplier: float = -1.0
    num_instances_weight_multiplier: float = 0.0
    build_failure_weight_multiplier: float = 1000000.0
    soft_affinity_weight_multiplier: float = 1.0
    soft_anti_affinity_weight_multiplier: float = 1.0
    # None: each compute node's own ratio (what its resource tracker reported).
    cpu_allocation_ratio: float | None = None
    ram_allocation_ratio: float | None = None
    disk_allocation_ratio: float | None = None
    # Seconds between incremental reloads of changed compute nodes and services into the host cache.
    host_state_refresh_interval: float = 5.0
    # Pick at random among the best N hosts (Nova's host_subset_size), so racing schedulers collide less.
    host_subset_size: int = 1
    # Operator rules for JsonFilter, each a JSON expression such as '[">=", "$free_ram_mb", 1024]'.
    json_filter_rules: list[str] = Field(default_factory=list)
    # PCI aliases named in flavors' pci_passthrough:alias: {"a100": {"vendor_id": "10de", ...}}.
    pci_aliases: dict[str, dict[str, str]] = Field(default_factory=dict)


class SerialConsoleSettings(BaseModel):
    """[serial_console]: where a compute host's VM serial ports listen (Nova's option names).

    By default (an empty `port_range`) a VM's serial port is a unix socket in its instance folder, which
    only the user running Overcast (the API process on this host) can open: enough for the all-in-one.
    A multi-host cloud whose API runs elsewhere sets `port_range` ("first:last"): each serial port is
    then a TCP server at a port of the range on `listen` (empty: `proxyclient_address`, the address the
    API's websocket proxy connects to). Such a port is plain TCP as in Nova: anyone who reaches it
    reaches the VM's console, so it must be an address only the API hosts can reach (a management
    network); a wildcard address is refused.
    """

    listen: str = ""
    proxyclient_address: str = "127.0.0.1"
    port_range: str = ""

    @field_validator("port_range")
    @classmethod
    def _first_last(cls, value: str) -> str:
        if not value:
            return value
        first, sep, last = value.partition(":")
        if not sep or not first.isdigit() or not last.isdigit() or not 0 < int(first) <= int(last) <= 65535:
            raise ValueError(f"port_range must be FIRST:LAST (1-65535), got {value!r}")
        return value

    @field_validator("listen", "proxyclient_address")
    @classmethod
    def _one_address(cls, value: str) -> str:
        if value.strip("[]") in ("0.0.0.0", "::", "*"):
            raise ValueError(f"serial ports listen on one address the console proxy reaches, not {value!r}")
        return value

    @property
    def listen_address(self) -> str:
        """Where a TCP serial port binds."""
        return self.listen or self.proxyclient_address

    @property
    def ports(self) -> range | None:
        if not self.port_range:
            return None
        first, _, last = self.port_range.partition(":")
        return range(int(first), int(last) + 1)


class ConsoleAuthSettings(BaseModel):
    """[consoleauth] (Nova's): how long a console URL's token may wait to be used, in seconds."""

    token_ttl: int = Field(default=600, gt=0)


class Settings(BaseSettings):
    model_config = SettingsConfigDict(env_prefix="OVERCAST_", env_nested_delimiter="__", extra="ignore")

    data_dir: Path = Field(default_factory=_default_data_dir)
    # host:port the API listens on.
    listen: str = "127.0.0.1:8774"
    # Public base URL written into the service catalog; derived from `listen` when empty.
    public_url: str = ""
    region: str = "RegionOne"
    host: str = Field(default_factory=lambda: os.uname().nodename)

    # Empty means SQLite inside data_dir.
    database_url: str = ""
    transport_url: str = "inproc://"

    rpc_timeout: float = 60.0
    # Services write a heartbeat every report_interval seconds and count as down after service_down_time.
    report_interval: float = 10.0
    service_down_time: float = 60.0
    # A build (BUILD) that shows no progress for this long goes to ERROR with a fault (the conductor's sweep);
    # a compute host spawning one shows it is alive several times within it (compute/build_progress.py).
    build_stall_timeout: float = Field(default=300.0, gt=0)

    # Nova's osapi max_request_body_size default.
    max_request_body_size: int = 114688
    log_level: str = "INFO"
    # "auto": QEMU when qemu-system-x86_64 is installed, else the in-memory fake; or "qemu", "fake".
    compute_driver: str = "auto"
    scheduler: SchedulerSettings = Field(default_factory=SchedulerSettings)
    serial_console: SerialConsoleSettings = Field(default_factory=SerialConsoleSettings)
    consoleauth: ConsoleAuthSettings = Field(default_factory=ConsoleAuthSettings)
    # Nova's: seconds a deleted server stays SOFT_DELETED (restorable) before it is reclaimed; 0 deletes
    # at once. shelved_offload_time: seconds a shelved server keeps its host; 0 offloads at once, -1 never.
    reclaim_instance_interval: int = 0
    shelved_offload_time: int = 0
    # True when every compute host sees the others' instances folders (shared storage): a cold move to
    # another host then reads the set-aside disk in place instead of sending it through the image service.
    resize_shared_instances_path: bool = False
    # The network agent's data plane: "linuxbridge", "noop", or "auto" (linuxbridge when root on Linux with
    # iproute2, nftables and dnsmasq and the virt driver is QEMU, else noop).
    network_driver: str = "auto"
    # This host's address on the underlay: the other hosts' VXLAN tunnels end here. Loopback serves one host.
    network_underlay_ip: str = "127.0.0.1"
    # Neutron's physical_interface_mappings: the host interface of each flat physical network.
    network_physical_interfaces: dict[str, str] = Field(default_factory=dict)
    # Seconds between the agent's full syncs of its host's data plane (repairing drift).
    network_sync_interval: float = Field(default=30.0, gt=0)
    # The all-in-one makes DevStack's networks on every start (network/defaults.py: the overcast-public
    # outside, public, the demo project's private and router1) when it wires VMs for real (linuxbridge:
    # root on Linux with QEMU); false keeps its VMs on QEMU's user-mode network even then.
    all_in_one_networks: bool = True
    # Neutron's and Nova's metadata_proxy_shared_secret: the metadata proxies sign the instance id with it
    # and the API's metadata service trusts only what it signed. Empty: a secret generated on first use in
    # data_dir/metadata-proxy-secret (0600), which every process of a one-data-directory cloud shares.
    metadata_proxy_shared_secret: str = ""
    # The volume service's storage: "iscsi" (sparse files in volume_pool_dir exported by its own tgtd),
    # "fake" (the same files, exports only remembered), or "auto" (iscsi when root on Linux with tgt and
    # QEMU's iSCSI client installed, else fake). Empty volume_pool_dir: data_dir/volumes.
    volume_driver: str = "auto"
    volume_pool_dir: Path | None = None
    # The backend name the host's pool reports (a volume type's volume_backend_name extra spec picks it).
    volume_backend_name: str = "pool"
    # Seconds between the volume service's capacity reports (and sweeps of exports nothing needs).
    volume_report_interval: float = Field(default=60.0, gt=0)
    # Where compute hosts reach this host's iSCSI targets; its tgtd listens there (3260: iSCSI's port).
    iscsi_portal_address: str = "127.0.0.1"
    iscsi_port: int = Field(default=3260, gt=0, le=65535)

    @field_validator("data_dir", mode="after")
    @classmethod
    def _absolute(cls, value: Path) -> Path:
        return value.expanduser().absolute()

    @field_validator("listen")
    @classmethod
    def _host_port(cls, value: str) -> str:
        host, sep, port = value.rpartition(":")
        if not sep or not host or not port.isdigit() or not 0 <= int(port) <= 65535:
            raise ValueError(f"listen must be HOST:PORT, got {value!r}")
        return value

    @classmethod
    def settings_customise_sources(
        cls,
        settings_cls: type[BaseSettings],
        init_settings: PydanticBaseSettingsSource,
        env_settings: PydanticBaseSettingsSource,
        dotenv_settings: PydanticBaseSettingsSource,
        file_secret_settings: PydanticBaseSettingsSource,
    ) -> tuple[PydanticBaseSettingsSource, ...]:
        return (init_settings, env_settings, TomlConfigSettingsSource(settings_cls, toml_file=_config_file()))

    @property
    def listen_host(self) -> str:
        return self.listen.rpartition(":")[0]

    @property
    def listen_port(self) -> int:
        return int(self.listen.rpartition(":")[2])

    @property
    def sql_url(self) -> str:
        return self.database_url or f"sqlite:///{self.data_dir / 'overcast.db'}"

    @property
    def base_url(self) -> str:
        if self.public_url:
            return self.public_url.rstrip("/")
        host = self.listen_host
        if host in ("0.0.0.0", "::"):
            host = "127.0.0.1"
        return f"http://{host}:{self.listen_port}"


def load_settings(**overrides: Any) -> Settings:
    """Build settings; keyword overrides (e.g. from command-line flags) win over every other source."""
    clean = {key: value for key, value in overrides.items() if value is not None}
    return Settings(**clean)
