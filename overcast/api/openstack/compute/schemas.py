"""Request bodies of the compute API (the shape of Nova's JSON schemas), with their microversion gates.

Each model is the union of what any supported microversion accepts; `refuse_out_of_version` then turns a
field the requested microversion does not know into Nova's 400 ("Additional properties are not allowed").
"""

from __future__ import annotations

import uuid
from collections.abc import Iterable, Mapping
from typing import Annotated, Any, Literal

from pydantic import AfterValidator, BaseModel, ConfigDict, Field, StrictInt

from overcast import errors
from overcast.api.openstack.compute import version_history as v
from overcast.api.openstack.compute.microversion import APIVersion
from overcast.api.openstack.parameter_types import (
    Boolean,
    Description,
    DiskConfig,
    FlavorDescription,
    FlavorId,
    FlavorNonNegative,
    FlavorPositive,
    FlavorRef,
    IpAddress,
    Metadata,
    Name,
    PositiveInteger,
    RxtxFactor,
    Tag,
    UserData,
    Uuid,
)
from overcast.api.openstack.parameter_types import IPv4 as AccessIPv4
from overcast.api.openstack.parameter_types import IPv6 as AccessIPv6

BootIndex = StrictInt | Annotated[str, Field(pattern=r"^-?[0-9]+$")] | None


class _Strict(BaseModel):
    model_config = ConfigDict(extra="forbid", populate_by_name=True)


def refuse_fields(names: Iterable[str]) -> None:
    unexpected = sorted(names)
    if unexpected:
        listed = ", ".join(repr(name) for name in unexpected)
        raise errors.BadRequest(
            f"Additional properties are not allowed ({listed} {'was' if len(unexpected) == 1 else 'were'} "
            "unexpected)"
        )


def refuse_out_of_version(
    given: Iterable[str],
    version: APIVersion,
    since: Mapping[str, APIVersion] = {},
    until: Mapping[str, APIVersion] = {},  # the first version without the field
) -> None:
    refuse_fields(
        name for name in given
        if (name in since and version < since[name]) or (name in until and version >= until[name])
    )  # fmt: skip


def refuse_personality(files: list[dict[str, Any]] | None) -> None:
    # Nova writes these files into the guest; nothing here can, so asking for any is an error.
    if files:
        raise errors.BadRequest("Personality files are not supported here: pass the files in user_data.")


class SecurityGroupRef(_Strict):
    name: Name


class NetworkRequest(_Strict):
    uuid: str | None = None
    port: Uuid | None = None
    fixed_ip: IpAddress | None = None
    tag: Tag | None = None


class BlockDeviceMapping(_Strict):
    """One block_device_mapping_v2 item (Nova's new and legacy item properties)."""

    source_type: Literal["volume", "image", "snapshot", "blank"] | None = None
    uuid: Annotated[str, Field(min_length=1, max_length=255, pattern=r"^[a-zA-Z0-9._-]*$")] | None = None
    image_id: str | None = None
    destination_type: Literal["local", "volume"] | None = None
    guest_format: Annotated[str, Field(max_length=255)] | None = None
    device_type: Annotated[str, Field(max_length=255)] | None = None
    disk_bus: Annotated[str, Field(max_length=255)] | None = None
    boot_index: BootIndex = None
    virtual_name: Annotated[str, Field(max_length=255)] | None = None
    volume_id: str | None = None
    snapshot_id: str | None = None
    volume_size: FlavorPositive | None = None
    device_name: (
        Annotated[str, Field(min_length=1, max_length=255, pattern=r"^[a-zA-Z0-9._\-r/]*$")] | None
    ) = None
    delete_on_termination: Boolean | None = None
    no_device: Any = None
    connection_info: Annotated[str, Field(max_length=16777215)] | None = None
    tag: Tag | None = None
    volume_type: Annotated[str, Field(max_length=255)] | None = None


def _distinct(values: list[str]) -> list[str]:
    if len(set(values)) != len(values):
        raise ValueError("has non-unique elements")
    return values


# 2.90's hostname: one DNS label; from 2.94 a fully qualified name of such labels (Nova's fqdn).
_LABEL = r"[a-zA-Z0-9]([a-zA-Z0-9-]{0,61}[a-zA-Z0-9])?"
Hostname = Annotated[str, Field(min_length=1, max_length=255, pattern=rf"^{_LABEL}(\.{_LABEL})*\.?$")]


def check_hostname(hostname: str | None, version: APIVersion) -> None:
    """Before 2.94 a hostname is a single label of at most 63 characters."""
    if hostname is not None and version < v.FQDN_HOSTNAME and ("." in hostname or len(hostname) > 63):
        raise errors.BadRequest(f"Invalid input for field/attribute hostname. Value: {hostname}. "
                                "Does not match a hostname of one label (FQDNs from 2.94)")  # fmt: skip


class ServerCreateFields(_Strict):
    name: Name
    imageRef: Annotated[str, Field(max_length=255)] | None = None
    flavorRef: FlavorRef
    metadata: Metadata = Field(default_factory=dict)
    key_name: Name | None = None
    adminPass: str | None = None
    # Nova's name here, not az_name: "zone:host" asks for a host (which the service answers).
    availability_zone: Name | None = None
    security_groups: list[SecurityGroupRef] | None = None
    user_data: UserData | None = None
    accessIPv4: AccessIPv4 | None = None
    accessIPv6: AccessIPv6 | None = None
    config_drive: Boolean | None = None
    min_count: PositiveInteger = 1
    max_count: PositiveInteger | None = None
    return_reservation_id: Boolean = False
    disk_config: DiskConfig | None = Field(default=None, alias="OS-DCF:diskConfig")
    networks: list[NetworkRequest] | Literal["auto", "none"] | None = None
    block_device_mapping_v2: list[BlockDeviceMapping] | None = None
    # The legacy (v1) mappings name volumes and snapshots only.
    block_device_mapping: list[dict[str, Any]] | None = None
    personality: list[dict[str, Any]] | None = None
    description: Description = None
    tags: Annotated[list[Tag], Field(max_length=50)] | None = None
    trusted_image_certificates: TrustedCerts = None
    hostname: Hostname | None = None
    host: Annotated[str, Field(min_length=1, max_length=255)] | None = None
    hypervisor_hostname: Annotated[str, Field(min_length=1, max_length=255)] | None = None


# 2.63's trusted_image_certificates: 1-50 distinct non-empty ids, or null.
TrustedCerts = Annotated[list[Annotated[str, Field(min_length=1)]], Field(min_length=1, max_length=50),
                         AfterValidator(_distinct)] | None  # fmt: skip
CREATE_SINCE = {"description": v.DESCRIPTION, "tags": v.TAGS_AT_CREATE,
                "trusted_image_certificates": v.TRUSTED_CERTS, "hostname": v.HOSTNAME,
                "host": v.CREATE_HOST, "hypervisor_hostname": v.CREATE_HOST}  # fmt: skip
CREATE_UNTIL = {"personality": v.PERSONALITY_GONE}


class ServerCreateBody(_Strict):
    server: ServerCreateFields
    # Scheduler hints go into the request spec (overcast.compute.api.server_groups.record_scheduler_hints).
    scheduler_hints: dict[str, Any] | None = Field(default=None, alias="os:scheduler_hints")
    # Nova accepts the hints under this key too (openstacksdk sends it).
    scheduler_hints_sdk: dict[str, Any] | None = Field(default=None, alias="OS-SCH-HNT:scheduler_hints")

    def check_version(self, version: APIVersion) -> None:
        fields = self.server
        refuse_out_of_version(fields.model_fields_set, version, CREATE_SINCE, CREATE_UNTIL)
        refuse_personality(fields.personality)
        check_hostname(fields.hostname, version)
        networks = fields.networks
        if networks is None and version >= v.NETWORKS_REQUIRED:
            raise errors.BadRequest(
                "Invalid input for field/attribute server: 'networks' is a required property"
            )
        if isinstance(networks, str) and version < v.NETWORKS_REQUIRED:
            raise errors.BadRequest(f"Invalid input for field/attribute networks. Value: {networks}. "
                                    f"'{networks}' is not of type 'array'")  # fmt: skip
        if isinstance(networks, list):
            tags_ok = v.DEVICE_TAGS <= version < v.NETWORKS_REQUIRED or version >= v.DEVICE_TAGS_RESTORED
            for network in networks:
                if not tags_ok:
                    refuse_fields(network.model_fields_set & {"tag"})
                if version >= v.NETWORKS_REQUIRED and network.uuid is not None and not _is_uuid(network.uuid):
                    raise errors.BadRequest(f"Invalid input for field/attribute uuid. Value: {network.uuid}. "
                                            f"'{network.uuid}' is not a 'uuid'")  # fmt: skip
        bdm_tags_ok = version == v.DEVICE_TAGS or version >= v.DEVICE_TAGS_RESTORED
        for mapping in fields.block_device_mapping_v2 or ():
            too_new = set() if version >= v.BDM_VOLUME_TYPE else {"volume_type"}
            refuse_fields(mapping.model_fields_set & (too_new | (set() if bdm_tags_ok else {"tag"})))


def _is_uuid(text: str) -> bool:
    try:
        uuid.UUID(text)
    except ValueError:
        return False
    return True


class ServerUpdateFields(_Strict):
    name: Name | None = None
    accessIPv4: AccessIPv4 | None = None
    accessIPv6: AccessIPv6 | None = None
    disk_config: DiskConfig | None = Field(default=None, alias="OS-DCF:diskConfig")
    description: Description = None
    hostname: Hostname | None = None


class ServerUpdateBody(_Strict):
    server: ServerUpdateFields

    def check_version(self, version: APIVersion) -> None:
        refuse_out_of_version(
            self.server.model_fields_set, version, {"description": v.DESCRIPTION, "hostname": v.HOSTNAME}
        )
        check_hostname(self.server.hostname, version)


class FlavorCreateFields(_Strict):
    name: Name
    id: FlavorId = None
    ram: FlavorPositive
    vcpus: FlavorPositive
    disk: FlavorNonNegative
    ephemeral: FlavorNonNegative = Field(default=0, alias="OS-FLV-EXT-DATA:ephemeral")
    swap: FlavorNonNegative = 0
    rxtx_factor: RxtxFactor = 1.0
    is_public: Boolean = Field(default=True, alias="os-flavor-access:is_public")
    description: FlavorDescription = None


class FlavorCreateBody(_Strict):
    flavor: FlavorCreateFields


class FlavorUpdateFields(_Strict):
    description: FlavorDescription


class FlavorUpdateBody(_Strict):
    flavor: FlavorUpdateFields


class KeyPairCreateFields(_Strict):
    name: Name
    public_key: str | None = None
    type: Literal["ssh", "x509"] | None = None
    user_id: Annotated[str, Field(min_length=1, max_length=255)] | None = None


class KeyPairCreateBody(_Strict):
    keypair: KeyPairCreateFields

    def check_version(self, version: APIVersion) -> None:
        refuse_out_of_version(
            self.keypair.model_fields_set, version, {"type": v.KEYPAIR_TYPE, "user_id": v.KEYPAIR_USER_ID}
        )
