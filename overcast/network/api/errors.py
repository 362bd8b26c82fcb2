"""Typed network errors: each carries the exception name Neutron's error body names as its `type`.

Messages are whole sentences in Neutron's words, written where the error is raised.
"""

from __future__ import annotations

from typing import Any, ClassVar

from overcast import errors


class NeutronTyped:
    """Names the error's Neutron type after its class, as Neutron's bodies do."""

    neutron_type: ClassVar[str] = ""

    def __init_subclass__(cls, **kwargs: Any) -> None:
        super().__init_subclass__(**kwargs)
        cls.neutron_type = cls.__name__


class InvalidInput(NeutronTyped, errors.BadRequest):
    pass


class NetworkNotFound(NeutronTyped, errors.NotFound):
    pass


class SubnetNotFound(NeutronTyped, errors.NotFound):
    pass


class PortNotFound(NeutronTyped, errors.NotFound):
    pass


class TagNotFound(NeutronTyped, errors.NotFound):
    pass


class PolicyNotAuthorized(NeutronTyped, errors.Forbidden):
    pass


class OverQuota(NeutronTyped, errors.Conflict):
    pass


class NetworkInUse(NeutronTyped, errors.Conflict):
    pass


class SubnetInUse(NeutronTyped, errors.Conflict):
    pass


class SubnetOverlap(NeutronTyped, errors.Conflict):
    pass


class InvalidSharedSetting(NeutronTyped, errors.Conflict):
    pass


class IpAddressAlreadyAllocated(NeutronTyped, errors.Conflict):
    pass


class IpAddressGenerationFailure(NeutronTyped, errors.Conflict):
    pass


class MacAddressInUse(NeutronTyped, errors.Conflict):
    pass


class GatewayConflictWithAllocationPools(NeutronTyped, errors.Conflict):
    pass


class OverlappingAllocationPools(NeutronTyped, errors.Conflict):
    pass


class NoNetworkAvailable(NeutronTyped, errors.ServiceUnavailable):
    """Every VXLAN id of the configured range is taken."""


class TunnelIdInUse(NeutronTyped, errors.Conflict):
    pass


class FlatNetworkInUse(NeutronTyped, errors.Conflict):
    pass


class AddressPairAndPortSecurityRequired(NeutronTyped, errors.Conflict):
    pass


class ExtensionNotFound(NeutronTyped, errors.NotFound):
    pass


class SecurityGroupNotFound(NeutronTyped, errors.NotFound):
    pass


class SecurityGroupRuleNotFound(NeutronTyped, errors.NotFound):
    pass


class SecurityGroupInUse(NeutronTyped, errors.Conflict):
    pass


class SecurityGroupRuleExists(NeutronTyped, errors.Conflict):
    pass


class SecurityGroupCannotRemoveDefault(NeutronTyped, errors.Conflict):
    pass


class SecurityGroupCannotUpdateDefault(NeutronTyped, errors.Conflict):
    pass


class SecurityGroupDefaultAlreadyExists(NeutronTyped, errors.Conflict):
    pass


class PortSecurityAndIPRequiredForSecurityGroups(NeutronTyped, errors.BadRequest):
    pass


class PortSecurityPortHasSecurityGroup(NeutronTyped, errors.Conflict):
    pass


class InvalidQuotaValue(NeutronTyped, errors.BadRequest):
    pass


class RouterNotFound(NeutronTyped, errors.NotFound):
    pass


class RouterInUse(NeutronTyped, errors.Conflict):
    pass


class RouterInterfaceNotFound(NeutronTyped, errors.NotFound):
    pass


class RouterInterfaceInUseByFloatingIP(NeutronTyped, errors.Conflict):
    pass


class RouterExternalGatewayInUseByFloatingIp(NeutronTyped, errors.Conflict):
    pass


class InvalidRoutes(NeutronTyped, errors.BadRequest):
    pass


class DefaultExternalNetworkExists(NeutronTyped, errors.Conflict):
    pass


class BadRequest(NeutronTyped, errors.BadRequest):
    """Neutron's "Bad router request": what a router cannot take (a subnet twice, no gateway, ...)."""


class PortInUse(NeutronTyped, errors.Conflict):
    pass


class FloatingIPNotFound(NeutronTyped, errors.NotFound):
    pass


class ExternalGatewayForFloatingIPNotFound(NeutronTyped, errors.NotFound):
    pass


class FloatingIPPortAlreadyAssociated(NeutronTyped, errors.Conflict):
    pass


class L3PortInUse(NeutronTyped, errors.Conflict):
    pass


class RevisionNumberConstraintFailed(NeutronTyped, errors.OvercastError):
    status = 412
    title = "preconditionFailed"


class AddressScopeNotFound(NeutronTyped, errors.NotFound):
    pass


class AddressScopeInUse(NeutronTyped, errors.Conflict):
    pass


class AddressScopeUpdateError(NeutronTyped, errors.BadRequest):
    pass


class AddressScopePrefixConflict(NeutronTyped, errors.Conflict):
    pass


class IllegalSubnetPoolAssociationToAddressScope(NeutronTyped, errors.BadRequest):
    pass


class IllegalSubnetPoolIpVersionAssociationToAddressScope(NeutronTyped, errors.BadRequest):
    pass


class SubnetPoolNotFound(NeutronTyped, errors.NotFound):
    pass


class SubnetPoolInUse(NeutronTyped, errors.Conflict):
    pass


class EmptySubnetPoolPrefixList(NeutronTyped, errors.BadRequest):
    pass


class PrefixVersionMismatch(NeutronTyped, errors.BadRequest):
    pass


class IllegalSubnetPoolPrefixBounds(NeutronTyped, errors.BadRequest):
    pass


class IllegalSubnetPoolPrefixUpdate(NeutronTyped, errors.BadRequest):
    pass


class MinPrefixSubnetAllocationError(NeutronTyped, errors.BadRequest):
    pass


class MaxPrefixSubnetAllocationError(NeutronTyped, errors.BadRequest):
    pass


class SubnetAllocationError(NeutronTyped, errors.Conflict):
    """Neutron leaves an exhausted pool unmapped (a 500); a full pool is the caller's conflict here."""


class SubnetPoolQuotaExceeded(NeutronTyped, errors.Conflict):
    pass


class NetworkSubnetPoolAffinityError(NeutronTyped, errors.BadRequest):
    pass
