"""The metadata service the API process runs: who is asking (a signed instance id), and what it may read.

A request is trusted only when a metadata proxy signed it (`signing.py`); the instance must exist and
belong to the tenant the proxy named, else the guest learns nothing (404). What the documents show is read
in one transaction into `InstanceFacts`; `documents.py` renders every path from them.
"""

from __future__ import annotations

import base64
import binascii
import logging
from collections.abc import Mapping
from dataclasses import dataclass

from sqlalchemy import or_, select, update
from sqlalchemy.orm import Session

from overcast import errors
from overcast.cloud import Cloud
from overcast.compute import instance_extra, network_info
from overcast.config import DEFAULT_AVAILABILITY_ZONE
from overcast.db.models.compute import Flavor, Instance, KeyPair
from overcast.db.models.instance_actions import InstanceExtra
from overcast.db.models.network import (
    FloatingIP,
    IPAllocation,
    Network,
    Port,
    PortSecurityGroup,
    SecurityGroup,
    Subnet,
)
from overcast.metadata import signing
from overcast.metadata.ec2_ids import DerivedEc2Ids, Ec2Ids

LOG = logging.getLogger(__name__)

# Nova's limit on what a guest may post as its (encrypted) password.
MAX_PASSWORD_BYTES = 256
# Neutron's device_owner of its DHCP ports: a subnet with one is served by DHCP (network_data's ipv4_dhcp).
DHCP_OWNER = "network:dhcp"


@dataclass(frozen=True)
class KeyFacts:
    name: str
    type: str
    data: str


@dataclass(frozen=True)
class SubnetFacts:
    id: str
    cidr: str
    gateway_ip: str | None
    dns_nameservers: tuple[str, ...]
    host_routes: tuple[tuple[str, str], ...]
    dhcp: bool


@dataclass(frozen=True)
class FixedIP:
    ip_address: str
    subnet: SubnetFacts


@dataclass(frozen=True)
class PortFacts:
    id: str
    mac_address: str
    network_id: str
    mtu: int
    fixed_ips: tuple[FixedIP, ...]


@dataclass(frozen=True)
class InstanceFacts:
    """What the metadata documents say about one instance, read at one moment."""

    uuid: str
    name: str
    hostname: str
    project_id: str
    availability_zone: str
    launch_index: int
    reservation_id: str
    ec2_instance_id: str
    image_id: str
    kernel_id: str
    ramdisk_id: str
    flavor_name: str
    ephemeral_gb: int
    meta: Mapping[str, str]
    security_groups: tuple[str, ...]
    user_data: bytes | None
    key: KeyFacts | None
    ports: tuple[PortFacts, ...] = ()
    floating_ips: tuple[str, ...] = ()
    # QEMU user-mode networking's guest address, for instances without ports.
    user_mode_ip: str | None = None
    # What the guest posted to the password path (encrypted with its key pair), "" before it has.
    password: str = ""

    @property
    def fixed_ips(self) -> tuple[str, ...]:
        found = tuple(fixed.ip_address for port in self.ports for fixed in port.fixed_ips)
        return found or ((self.user_mode_ip,) if self.user_mode_ip else ())


class MetadataAPI:
    def __init__(self, cloud: Cloud, ec2_ids: Ec2Ids | None = None) -> None:
        self.cloud = cloud
        self.ec2_ids: Ec2Ids = ec2_ids or DerivedEc2Ids()
        self._secret: str | None = None

    @property
    def secret(self) -> str:
        if self._secret is None:
            self._secret = signing.shared_secret(self.cloud.settings)
        return self._secret

    def instance_for(self, headers: Mapping[str, str]) -> InstanceFacts:
        """The instance a proxy-signed request speaks for (`headers` as a case-insensitive mapping)."""
        instance_id = headers.get(signing.INSTANCE_ID_HEADER)
        tenant_id = headers.get(signing.TENANT_ID_HEADER)
        signature = headers.get(signing.SIGNATURE_HEADER)
        for name, value in ((signing.INSTANCE_ID_HEADER, instance_id), (signing.TENANT_ID_HEADER, tenant_id),
                            (signing.SIGNATURE_HEADER, signature)):  # fmt: skip
            if not value:
                raise errors.BadRequest(f"{name} header is missing from request.")
        assert instance_id and tenant_id and signature
        if not signing.signature_matches(self.secret, instance_id, signature):
            LOG.warning("metadata request for instance %s with a bad signature", instance_id[:64])
            raise errors.Forbidden("Invalid proxy request signature.")
        with self.cloud.db.reader() as session:
            instance = session.scalars(
                select(Instance).where(Instance.uuid == instance_id, Instance.deleted.is_(False))
            ).first()
            if instance is None or instance.project_id != tenant_id:
                if instance is not None:
                    LOG.warning("metadata request names tenant %s for instance %s of another", tenant_id[:64],
                                instance_id)  # fmt: skip
                raise errors.NotFound("The resource could not be found.")
            return self._facts(session, instance)

    def _facts(self, session: Session, instance: Instance) -> InstanceFacts:
        ports = _ports(session, instance.uuid)
        stored_network = network_info.load(session, [instance.uuid]).get(instance.uuid) or {}
        return InstanceFacts(
            uuid=instance.uuid,
            name=instance.display_name,
            hostname=instance.hostname or instance.display_name,
            project_id=instance.project_id,
            availability_zone=instance.availability_zone or DEFAULT_AVAILABILITY_ZONE,
            launch_index=instance.launch_index,
            reservation_id=instance.reservation_id,
            ec2_instance_id=self.ec2_ids.instance_id(instance.uuid),
            image_id=self.ec2_ids.image_id(instance.image_ref) if instance.image_ref else "",
            kernel_id=self.ec2_ids.image_id(instance.kernel_id, "aki") if instance.kernel_id else "",
            ramdisk_id=self.ec2_ids.image_id(instance.ramdisk_id, "ari") if instance.ramdisk_id else "",
            flavor_name=_flavor_name(session, instance.flavor_id),
            ephemeral_gb=instance.ephemeral_gb,
            meta=dict(instance.metadata_items),
            security_groups=_security_groups(session, ports) or tuple(instance.security_groups),
            user_data=_decoded(instance.user_data),
            key=_key(session, instance),
            ports=ports,
            floating_ips=_floating_ips(session, [port.id for port in ports]),
            user_mode_ip=stored_network.get("guest_ip"),
            password=_password(session, instance.uuid),
        )

    def post_password(self, facts: InstanceFacts, body: bytes) -> None:
        """The guest's password, posted once (Nova's): a second post is a 409 until an admin clears it
        (os-server-password's DELETE); more than 256 bytes is a 400."""
        if len(body) > MAX_PASSWORD_BYTES:
            raise errors.BadRequest("Request is too large.")
        try:
            password = body.decode()
        except UnicodeDecodeError as exc:
            raise errors.BadRequest("The password must be text.") from exc

        def write(session: Session) -> bool:
            instance_extra.get(session, facts.uuid)
            # A compare-and-swap on "no password yet", so of two posts at once exactly one is kept.
            unset = or_(InstanceExtra.password.is_(None), InstanceExtra.password == "")
            result = session.execute(
                update(InstanceExtra)
                .where(InstanceExtra.instance_uuid == facts.uuid, unset)
                .values(password=password)
                .execution_options(synchronize_session=False)
            )
            return bool(getattr(result, "rowcount", 0) == 1)

        stored = self.cloud.db.write(write)
        if not stored:
            raise errors.Conflict("Password already set.")


def _decoded(user_data: str | None) -> bytes | None:
    # The compute API stores the base64 text the client sent (and checked it decodes).
    if user_data is None:
        return None
    try:
        return base64.b64decode(user_data, validate=True)
    except (binascii.Error, ValueError):
        return user_data.encode()


def _password(session: Session, instance_uuid: str) -> str:
    extra = instance_extra.peek(session, instance_uuid)
    return (extra.password if extra is not None else None) or ""


def _flavor_name(session: Session, flavorid: str) -> str:
    name = session.scalars(select(Flavor.name).where(Flavor.flavorid == flavorid)).first()
    return name or flavorid


def _key(session: Session, instance: Instance) -> KeyFacts | None:
    if not instance.key_name or not instance.key_data:
        return None
    kind = session.scalars(
        select(KeyPair.type).where(KeyPair.user_id == instance.user_id, KeyPair.name == instance.key_name)
    ).first()
    # The key as it was at boot (the instance keeps its copy); its type from the key pair while it exists.
    return KeyFacts(name=instance.key_name, type=kind or "ssh", data=instance.key_data)


def _ports(session: Session, instance_uuid: str) -> tuple[PortFacts, ...]:
    rows = session.execute(
        select(Port, Network.mtu)
        .join(Network, Network.id == Port.network_id)
        .where(Port.device_id == instance_uuid, Port.device_owner.startswith("compute:"))
        .order_by(Port.created_at, Port.id)
    ).all()
    if not rows:
        return ()
    port_ids = [port.id for port, _ in rows]
    allocations = session.execute(
        select(IPAllocation.port_id, IPAllocation.ip_address, Subnet)
        .join(Subnet, Subnet.id == IPAllocation.subnet_id)
        .where(IPAllocation.port_id.in_(port_ids))
    ).all()
    dhcp_subnets = _dhcp_subnets(session, {subnet.id for _, _, subnet in allocations})
    fixed: dict[str, list[FixedIP]] = {}
    for port_id, address, subnet in allocations:
        facts = SubnetFacts(
            id=subnet.id, cidr=subnet.cidr, gateway_ip=subnet.gateway_ip,
            dns_nameservers=tuple(subnet.dns_nameservers),
            host_routes=tuple((route["destination"], route["nexthop"]) for route in subnet.host_routes),
            dhcp=subnet.enable_dhcp and subnet.id in dhcp_subnets,
        )  # fmt: skip
        fixed.setdefault(port_id, []).append(FixedIP(address, facts))
    by_subnet = {port_id: tuple(sorted(ips, key=lambda ip: ip.subnet.id)) for port_id, ips in fixed.items()}
    return tuple(
        PortFacts(port.id, port.mac_address, port.network_id, mtu, by_subnet.get(port.id, ()))
        for port, mtu in rows
    )


def _security_groups(session: Session, ports: tuple[PortFacts, ...]) -> tuple[str, ...]:
    """The names of the groups on the instance's ports, as Nova asks the network service for them."""
    if not ports:
        return ()
    names = session.scalars(
        select(SecurityGroup.name)
        .join(PortSecurityGroup, PortSecurityGroup.security_group_id == SecurityGroup.id)
        .where(PortSecurityGroup.port_id.in_([port.id for port in ports]))
        .distinct()
        .order_by(SecurityGroup.name)
    )
    return tuple(names)


def _dhcp_subnets(session: Session, subnet_ids: set[str]) -> set[str]:
    if not subnet_ids:
        return set()
    rows = session.scalars(
        select(IPAllocation.subnet_id)
        .join(Port, Port.id == IPAllocation.port_id)
        .where(IPAllocation.subnet_id.in_(subnet_ids), Port.device_owner == DHCP_OWNER)
    )
    return set(rows)


def _floating_ips(session: Session, port_ids: list[str]) -> tuple[str, ...]:
    if not port_ids:
        return ()
    rows = session.scalars(
        select(FloatingIP.floating_ip_address)
        .where(FloatingIP.fixed_port_id.in_(port_ids))
        .order_by(FloatingIP.created_at, FloatingIP.floating_ip_address)
    )
    return tuple(rows)
