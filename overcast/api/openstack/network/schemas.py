"""Request bodies of the Networking v2 API, shaped like Neutron's resource attribute maps.

Types and lengths are checked here (a wrong type is a 400 in Neutron's shape); what needs the network's
state or address arithmetic (CIDRs, pools, fixed IPs, MACs) is checked by the service with Neutron's
messages, which is why those fields are taken as they come.
"""

from __future__ import annotations

from typing import Annotated, Any

from pydantic import BaseModel, ConfigDict, Field, StrictBool, StrictInt, StrictStr

from overcast.network.api.errors import InvalidInput

Name = Annotated[StrictStr, Field(max_length=255)]
Description = Annotated[StrictStr, Field(max_length=255)]
ProjectId = Annotated[StrictStr, Field(max_length=255)]
DeviceField = Annotated[StrictStr, Field(max_length=255)]


class Attributes(BaseModel):
    # Unknown attributes are a 400, as Neutron's "Unrecognized attribute(s)"; colon names by alias.
    model_config = ConfigDict(extra="forbid", populate_by_name=True)

    def given(self) -> dict[str, Any]:
        """The attributes the client sent, under their Neutron names."""
        return self.model_dump(exclude_unset=True, by_alias=True)


def bulk_bodies(one: Attributes | None, many: list[Any] | None, name: str) -> list[dict[str, Any]]:
    if (one is None) == (many is None):
        raise InvalidInput(f"Give either '{name}' or '{name}s' (a list), not both or neither.")
    if many is not None and not many:
        raise InvalidInput(f"'{name}s' is an empty list.")
    return [one.given()] if one is not None else [item.given() for item in many or []]


class NetworkAttributes(Attributes):
    name: Name | None = None
    description: Description | None = None
    admin_state_up: StrictBool | None = None
    shared: StrictBool | None = None
    router_external: StrictBool | None = Field(None, alias="router:external")
    is_default: StrictBool | None = None
    mtu: StrictInt | None = None
    port_security_enabled: StrictBool | None = None
    provider_network_type: StrictStr | None = Field(None, alias="provider:network_type")
    provider_physical_network: StrictStr | None = Field(None, alias="provider:physical_network")
    provider_segmentation_id: StrictInt | None = Field(None, alias="provider:segmentation_id")


class NetworkCreate(NetworkAttributes):
    project_id: ProjectId | None = None
    tenant_id: ProjectId | None = None
    tags: list[Any] | None = None


class NetworkCreateBody(Attributes):
    # One resource, or a list of them created all or none (Neutron's bulk create).
    network: NetworkCreate | None = None
    networks: list[NetworkCreate] | None = None

    def bodies(self) -> list[dict[str, Any]]:
        return bulk_bodies(self.network, self.networks, "network")


class NetworkUpdateBody(Attributes):
    network: NetworkAttributes


class SubnetAttributes(Attributes):
    name: Name | None = None
    description: Description | None = None
    gateway_ip: StrictStr | None = None
    allocation_pools: list[Any] | None = None
    dns_nameservers: list[Any] | None = None
    host_routes: list[Any] | None = None
    enable_dhcp: StrictBool | None = None


class SubnetCreate(SubnetAttributes):
    network_id: StrictStr
    ip_version: StrictInt
    cidr: StrictStr | None = None
    subnetpool_id: StrictStr | None = None
    # With a subnet pool: the size of the CIDR to allocate (the service converts numeric strings).
    prefixlen: StrictInt | StrictStr | None = None
    use_default_subnetpool: StrictBool | None = None
    ipv6_ra_mode: None = None
    ipv6_address_mode: None = None
    project_id: ProjectId | None = None
    tenant_id: ProjectId | None = None
    tags: list[Any] | None = None


class SubnetUpdate(SubnetAttributes):
    # Read-only after create: named so the service answers Neutron's "Cannot update read-only attribute".
    cidr: Any = None
    network_id: Any = None
    ip_version: Any = None
    subnetpool_id: Any = None
    project_id: Any = None
    tenant_id: Any = None


class SubnetCreateBody(Attributes):
    # One resource, or a list of them created all or none (Neutron's bulk create).
    subnet: SubnetCreate | None = None
    subnets: list[SubnetCreate] | None = None

    def bodies(self) -> list[dict[str, Any]]:
        return bulk_bodies(self.subnet, self.subnets, "subnet")


class SubnetUpdateBody(Attributes):
    subnet: SubnetUpdate


class PortAttributes(Attributes):
    name: Name | None = None
    description: Description | None = None
    admin_state_up: StrictBool | None = None
    mac_address: StrictStr | None = None
    fixed_ips: list[Any] | None = None
    device_id: DeviceField | None = None
    device_owner: DeviceField | None = None
    binding_host_id: DeviceField | None = Field(None, alias="binding:host_id")
    port_security_enabled: StrictBool | None = None
    allowed_address_pairs: list[Any] | None = None
    security_groups: list[Any] | None = None


class PortCreate(PortAttributes):
    network_id: StrictStr
    project_id: ProjectId | None = None
    tenant_id: ProjectId | None = None
    tags: list[Any] | None = None


class PortUpdate(PortAttributes):
    network_id: Any = None
    project_id: Any = None
    tenant_id: Any = None


class PortCreateBody(Attributes):
    # One resource, or a list of them created all or none (Neutron's bulk create).
    port: PortCreate | None = None
    ports: list[PortCreate] | None = None

    def bodies(self) -> list[dict[str, Any]]:
        return bulk_bodies(self.port, self.ports, "port")


class PortUpdateBody(Attributes):
    port: PortUpdate


class TagsBody(Attributes):
    tags: list[Any]


class SecurityGroupAttributes(Attributes):
    name: Name | None = None
    description: Description | None = None
    stateful: StrictBool | None = None


class SecurityGroupCreate(SecurityGroupAttributes):
    project_id: ProjectId | None = None
    tenant_id: ProjectId | None = None
    tags: list[Any] | None = None


class SecurityGroupCreateBody(Attributes):
    security_group: SecurityGroupCreate


class SecurityGroupUpdateBody(Attributes):
    security_group: SecurityGroupAttributes


class SecurityGroupRuleCreate(Attributes):
    security_group_id: StrictStr
    direction: StrictStr
    ethertype: StrictStr | None = None
    # A name or a number, as a string or an integer.
    protocol: StrictStr | StrictInt | None = None
    port_range_min: StrictInt | StrictStr | None = None
    port_range_max: StrictInt | StrictStr | None = None
    remote_ip_prefix: StrictStr | None = None
    remote_group_id: StrictStr | None = None
    description: Description | None = None
    project_id: ProjectId | None = None
    tenant_id: ProjectId | None = None


class SecurityGroupRuleCreateBody(Attributes):
    security_group_rule: SecurityGroupRuleCreate


class QuotaBody(Attributes):
    # Resource names are checked by the service against the quota engine's (Neutron's "Unrecognized").
    quota: dict[str, Any]


class RouterAttributes(Attributes):
    name: Name | None = None
    description: Description | None = None
    admin_state_up: StrictBool | None = None
    # {"network_id", "enable_snat", "external_fixed_ips"}, or null to clear it: checked by the service.
    external_gateway_info: dict[str, Any] | None = None


class RouterCreate(RouterAttributes):
    project_id: ProjectId | None = None
    tenant_id: ProjectId | None = None
    tags: list[Any] | None = None


class RouterUpdate(RouterAttributes):
    routes: list[Any] | None = None


class RouterCreateBody(Attributes):
    router: RouterCreate


class RouterUpdateBody(Attributes):
    router: RouterUpdate


class RouterInterfaceBody(Attributes):
    subnet_id: StrictStr | None = None
    port_id: StrictStr | None = None


class FloatingIPAttributes(Attributes):
    port_id: StrictStr | None = None
    fixed_ip_address: StrictStr | None = None
    description: Description | None = None


class FloatingIPCreate(FloatingIPAttributes):
    floating_network_id: StrictStr
    floating_ip_address: StrictStr | None = None
    project_id: ProjectId | None = None
    tenant_id: ProjectId | None = None
    tags: list[Any] | None = None


class FloatingIPCreateBody(Attributes):
    floatingip: FloatingIPCreate


class FloatingIPUpdateBody(Attributes):
    floatingip: FloatingIPAttributes


class AddressScopeAttributes(Attributes):
    name: Name | None = None
    shared: StrictBool | None = None


class AddressScopeCreate(AddressScopeAttributes):
    # 4 or 6, as a number or a string: checked by the service.
    ip_version: StrictInt | StrictStr
    project_id: ProjectId | None = None
    tenant_id: ProjectId | None = None


class AddressScopeUpdate(AddressScopeAttributes):
    # Read-only after create: named so the service answers Neutron's "Cannot update read-only attribute".
    ip_version: Any = None
    project_id: Any = None
    tenant_id: Any = None


class AddressScopeCreateBody(Attributes):
    address_scope: AddressScopeCreate


class AddressScopeUpdateBody(Attributes):
    address_scope: AddressScopeUpdate


PrefixLength = StrictInt | StrictStr


class SubnetPoolAttributes(Attributes):
    # Prefixes and prefix lengths are checked by the service (canonical CIDRs, one IP version, bounds).
    name: Name | None = None
    description: Description | None = None
    prefixes: list[Any] | None = None
    default_prefixlen: PrefixLength | None = None
    min_prefixlen: PrefixLength | None = None
    max_prefixlen: PrefixLength | None = None
    default_quota: PrefixLength | None = None
    address_scope_id: StrictStr | None = None
    is_default: StrictBool | None = None


class SubnetPoolCreate(SubnetPoolAttributes):
    shared: StrictBool | None = None
    project_id: ProjectId | None = None
    tenant_id: ProjectId | None = None
    tags: list[Any] | None = None


class SubnetPoolUpdate(SubnetPoolAttributes):
    ip_version: Any = None
    shared: Any = None
    project_id: Any = None
    tenant_id: Any = None


class SubnetPoolCreateBody(Attributes):
    subnetpool: SubnetPoolCreate


class SubnetPoolUpdateBody(Attributes):
    subnetpool: SubnetPoolUpdate


class PrefixesBody(Attributes):
    prefixes: list[Any]
