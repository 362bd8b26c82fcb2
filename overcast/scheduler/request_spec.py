"""What one instance asks of its host: resources, image, flavor extra specs, zone, hints, group.

The scheduler builds it from the database (the instance row, its flavor, its image, the hints saved at
create time and its server group), so callers pass instance uuids, not the spec.
"""

from __future__ import annotations

from collections import Counter
from collections.abc import Mapping
from dataclasses import dataclass, field, replace
from functools import lru_cache
from typing import Any

from sqlalchemy import bindparam, select
from sqlalchemy.orm import Session

from overcast import errors
from overcast.db.models.compute import ComputeNode, Flavor, Instance
from overcast.db.models.image import Image
from overcast.db.models.instance_actions import InstanceExtra
from overcast.db.models.server_groups import RequestSpecRecord, ServerGroup, ServerGroupMember
from overcast.placement.devices import requested
from overcast.placement.resources import Wanted


@dataclass(frozen=True)
class RequestSpec:
    wanted: Wanted
    project_id: str = ""
    instance_uuid: str | None = None
    availability_zone: str | None = None
    flavor_extra_specs: dict[str, str] = field(default_factory=dict)
    image_properties: dict[str, Any] = field(default_factory=dict)
    image_min_ram: int = 0
    image_min_disk: int = 0
    scheduler_hints: dict[str, Any] = field(default_factory=dict)
    group_policy: str | None = None
    # Hosts already holding members of the group (for affinity, anti-affinity and their soft weighers).
    group_hosts: tuple[str, ...] = ()
    same_hosts: tuple[str, ...] = ()
    different_hosts: tuple[str, ...] = ()
    excluded_hosts: frozenset[str] = frozenset()

    def to_dict(self) -> dict[str, Any]:
        data = {name: getattr(self, name) for name in self.__dataclass_fields__}
        data["wanted"] = {"vcpus": self.wanted.vcpus, "memory_mb": self.wanted.memory_mb,
                          "disk_gb": self.wanted.disk_gb}  # fmt: skip
        for name in ("group_hosts", "same_hosts", "different_hosts", "excluded_hosts"):
            data[name] = sorted(data[name])
        return data

    @classmethod
    def from_dict(cls, data: dict[str, Any]) -> RequestSpec:
        """From RPC; the old flat {"vcpus", "memory_mb", "disk_gb"} form is accepted too."""
        values = {key: value for key, value in data.items() if key in cls.__dataclass_fields__}
        wanted = data.get("wanted") or data
        values["wanted"] = Wanted(int(wanted.get("vcpus", 0)), int(wanted.get("memory_mb", 0)),
                                  int(wanted.get("disk_gb", 0)))  # fmt: skip
        for name in ("group_hosts", "same_hosts", "different_hosts"):
            values[name] = tuple(values.get(name) or ())
        values["excluded_hosts"] = frozenset(values.get("excluded_hosts") or ())
        return cls(**values)


def with_devices(spec: RequestSpec, pci_aliases: Mapping[str, Mapping[str, str]]) -> RequestSpec:
    """The spec whose `wanted` includes the devices its flavor's extra specs ask for (what claims take)."""
    if spec.wanted.devices:
        return spec
    devices = requested(spec.flavor_extra_specs, pci_aliases)
    return replace(spec, wanted=replace(spec.wanted, devices=devices)) if devices else spec


def _as_list(value: Any) -> list[str]:
    if value is None:
        return []
    return [str(item) for item in value] if isinstance(value, list | tuple) else [str(value)]


def _hosts_of(session: Session, instance_uuids: list[str]) -> tuple[str, ...]:
    if not instance_uuids:
        return ()
    rows = session.scalars(
        select(Instance.host).where(
            Instance.uuid.in_(instance_uuids), Instance.deleted.is_(False), Instance.host.is_not(None)
        )
    )
    return tuple(sorted({host for host in rows if host}))


def group_of(session: Session, instance_uuid: str) -> tuple[ServerGroup, tuple[str, ...]] | None:
    """The instance's server group and the hosts of its *other* live members."""
    group = session.scalars(
        select(ServerGroup)
        .join(ServerGroupMember, ServerGroupMember.group_id == ServerGroup.id)
        .where(ServerGroupMember.instance_uuid == instance_uuid)
    ).first()
    if group is None:
        return None
    members = session.scalars(
        select(ServerGroupMember.instance_uuid).where(
            ServerGroupMember.group_id == group.id, ServerGroupMember.instance_uuid != instance_uuid
        )
    )
    return group, _hosts_of(session, list(members))


def _group_hosts(
    session: Session, group_id: int, instance_uuid: str | None, most_per_host: int = 1
) -> tuple[str, ...]:
    """Hosts of the group's other members; with 2.64's max_server_per_host above 1, only the hosts that
    already hold that many (the anti-affinity filter keeps the instance off these)."""
    members = select(ServerGroupMember.instance_uuid).where(ServerGroupMember.group_id == group_id)
    if instance_uuid is not None:
        members = members.where(ServerGroupMember.instance_uuid != instance_uuid)
    if most_per_host <= 1:
        return _hosts_of(session, list(session.scalars(members)))
    counts = Counter(
        session.scalars(
            select(Instance.host).where(
                Instance.uuid.in_(members), Instance.deleted.is_(False), Instance.host.is_not(None)
            )
        )
    )
    return tuple(sorted(host for host, count in counts.items() if host and count >= most_per_host))


def build_spec(
    session: Session,
    *,
    wanted: Wanted,
    project_id: str,
    flavor: Flavor | None,
    image_id: str | None,
    availability_zone: str | None = None,
    hints: dict[str, Any] | None = None,
    instance_uuid: str | None = None,
    excluded_hosts: frozenset[str] = frozenset(),
) -> RequestSpec:
    """A spec from its parts (the dry run's path; `load_spec` reads an instance's in one query)."""
    image = session.get(Image, image_id) if image_id else None
    found = group_of(session, instance_uuid) if instance_uuid is not None else None
    return _spec(
        session, wanted=wanted, project_id=project_id, instance_uuid=instance_uuid,
        availability_zone=availability_zone,
        extra_specs=flavor.extra_specs if flavor is not None else None,
        image_properties=image.properties if image else None, image_min_ram=image.min_ram if image else 0,
        image_min_disk=image.min_disk if image else 0, hints=hints,
        group_policies=found[0].policies if found else None, group_hosts=found[1] if found else (),
        excluded_hosts=excluded_hosts,
    )  # fmt: skip


def _spec(
    session: Session,
    *,
    wanted: Wanted,
    project_id: str,
    instance_uuid: str | None,
    availability_zone: str | None,
    extra_specs: dict[str, str] | None,
    image_properties: dict[str, Any] | None,
    image_min_ram: int | None,
    image_min_disk: int | None,
    hints: dict[str, Any] | None,
    group_policies: list[str] | None,
    group_hosts: tuple[str, ...],
    excluded_hosts: frozenset[str],
) -> RequestSpec:
    hints = dict(hints or {})
    return RequestSpec(
        wanted=wanted, project_id=project_id, instance_uuid=instance_uuid,
        availability_zone=availability_zone or None, flavor_extra_specs=dict(extra_specs or {}),
        image_properties=dict(image_properties or {}), image_min_ram=int(image_min_ram or 0),
        image_min_disk=int(image_min_disk or 0), scheduler_hints=hints,
        group_policy=group_policies[0] if group_policies else None, group_hosts=group_hosts,
        same_hosts=_hosts_of(session, _as_list(hints.get("same_host"))) if "same_host" in hints else (),
        different_hosts=_hosts_of(session, _as_list(hints.get("different_host")))
        if "different_host" in hints else (),
        excluded_hosts=excluded_hosts,
    )  # fmt: skip


@lru_cache(maxsize=1)
def _spec_query() -> Any:
    """Instance, flavor extra specs, image, hints and group in one round trip (built once)."""
    return (
        select(
            Instance.vcpus, Instance.memory_mb, Instance.root_gb, Instance.ephemeral_gb, Instance.project_id,
            Instance.availability_zone, Flavor.extra_specs, Image.min_ram, Image.min_disk,
            Image.properties.label("image_properties"),
            RequestSpecRecord.scheduler_hints, ServerGroup.id.label("group_id"), ServerGroup.policies,
            ServerGroup.rules.label("group_rules"), InstanceExtra.system_metadata,
        )
        .select_from(Instance)
        .outerjoin(Flavor, Flavor.flavorid == Instance.flavor_id)
        .outerjoin(Image, Image.id == Instance.image_ref)
        .outerjoin(RequestSpecRecord, RequestSpecRecord.instance_uuid == Instance.uuid)
        .outerjoin(ServerGroupMember, ServerGroupMember.instance_uuid == Instance.uuid)
        .outerjoin(ServerGroup, ServerGroup.id == ServerGroupMember.group_id)
        .outerjoin(InstanceExtra, InstanceExtra.instance_uuid == Instance.uuid)
        .where(Instance.uuid == bindparam("b_uuid"), Instance.deleted.is_(False))
    )  # fmt: skip


# System metadata key of 2.74's requested destination ({"host", "node"}, either may be null), set at create.
REQUESTED_DESTINATION_KEY = "requested_destination"


def hosts_outside(session: Session, destination: Mapping[str, Any] | None) -> frozenset[str]:
    """The hosts a build with a requested destination may not use: every host but the one asked for."""
    if not destination:
        return frozenset()
    matching = select(ComputeNode.host)
    if destination.get("host"):
        matching = matching.where(ComputeNode.host == destination["host"])
    if destination.get("node"):
        matching = matching.where(ComputeNode.hypervisor_hostname == destination["node"])
    allowed = set(session.scalars(matching))
    every = session.scalars(select(ComputeNode.host).distinct())
    return frozenset(host for host in every if host not in allowed)


def load_spec(
    session: Session, instance_uuid: str, excluded_hosts: frozenset[str] = frozenset()
) -> RequestSpec:
    # On the connection: a Core row, without the ORM execution path that costs twice the query.
    row = session.connection().execute(_spec_query(), {"b_uuid": instance_uuid}).first()
    if row is None:
        raise errors.NotFound(f"Instance {instance_uuid} could not be found.")
    return _spec(
        session, wanted=Wanted(row.vcpus, row.memory_mb, row.root_gb + row.ephemeral_gb),
        project_id=row.project_id, instance_uuid=instance_uuid, availability_zone=row.availability_zone,
        extra_specs=row.extra_specs, image_properties=row.image_properties, image_min_ram=row.min_ram,
        image_min_disk=row.min_disk, hints=row.scheduler_hints, group_policies=row.policies,
        group_hosts=_group_hosts(
            session, row.group_id, instance_uuid, int((row.group_rules or {}).get("max_server_per_host") or 1)
        ) if row.group_id is not None else (),
        excluded_hosts=frozenset(excluded_hosts) | hosts_outside(
            session, (row.system_metadata or {}).get(REQUESTED_DESTINATION_KEY)
        ),
    )  # fmt: skip


def wanted_of(session: Session, instance_uuid: str, pci_aliases: Mapping[str, Mapping[str, str]]) -> Wanted:
    """What a claim of this instance takes: its flavor's sizes and the devices its extra specs ask for."""
    return with_devices(load_spec(session, instance_uuid), pci_aliases).wanted
