"""Request bodies of the compute API at microversion 2.1 (the shape of Nova's JSON schemas)."""

from __future__ import annotations

from typing import Annotated, Any, Literal

from pydantic import BaseModel, ConfigDict, Field, StrictBool, field_validator

Name = Annotated[str, Field(min_length=1, max_length=255)]
DiskConfig = Literal["AUTO", "MANUAL"]


def _no_edge_whitespace(value: str) -> str:
    if value != value.strip():
        raise ValueError("must not have leading or trailing whitespace")
    return value


class _Strict(BaseModel):
    model_config = ConfigDict(extra="forbid", populate_by_name=True)


class SecurityGroupRef(_Strict):
    name: Name


class ServerCreateFields(_Strict):
    name: Name
    imageRef: Annotated[str, Field(min_length=1, max_length=255)]
    flavorRef: Annotated[str, Field(min_length=1, max_length=255)]
    metadata: dict[str, str] = Field(default_factory=dict)
    key_name: Name | None = None
    adminPass: str | None = None
    availability_zone: str | None = None
    security_groups: list[SecurityGroupRef] | None = None
    user_data: str | None = None
    accessIPv4: str | None = None
    accessIPv6: str | None = None
    config_drive: StrictBool | Literal["true", "True", "false", "False", ""] | None = None
    min_count: Annotated[int, Field(ge=1)] = 1
    max_count: Annotated[int, Field(ge=1)] | None = None
    return_reservation_id: StrictBool = False
    disk_config: DiskConfig | None = Field(default=None, alias="OS-DCF:diskConfig")
    # Accepted for compatibility; there is no network service yet, so it does not change the build.
    networks: list[dict[str, Any]] | Literal["auto", "none"] | None = None

    _name = field_validator("name")(_no_edge_whitespace)


class ServerCreateBody(_Strict):
    server: ServerCreateFields
    # Scheduler hints go into the request spec (overcast.compute.server_groups.record_scheduler_hints).
    scheduler_hints: dict[str, Any] | None = Field(default=None, alias="os:scheduler_hints")
    # Nova accepts the hints under this key too (openstacksdk sends it).
    scheduler_hints_sdk: dict[str, Any] | None = Field(default=None, alias="OS-SCH-HNT:scheduler_hints")


class ServerUpdateFields(_Strict):
    name: Name | None = None
    accessIPv4: str | None = None
    accessIPv6: str | None = None
    disk_config: DiskConfig | None = Field(default=None, alias="OS-DCF:diskConfig")

    _name = field_validator("name")(lambda value: value if value is None else _no_edge_whitespace(value))


class ServerUpdateBody(_Strict):
    server: ServerUpdateFields


class FlavorCreateFields(_Strict):
    name: Name
    id: Annotated[str, Field(min_length=1, max_length=255, pattern=r"^[\w\.\- ]*$")] | None = None
    ram: Annotated[int, Field(ge=1)]
    vcpus: Annotated[int, Field(ge=1)]
    disk: Annotated[int, Field(ge=0)]
    ephemeral: Annotated[int, Field(ge=0)] = Field(default=0, alias="OS-FLV-EXT-DATA:ephemeral")
    swap: Annotated[int, Field(ge=0)] = 0
    rxtx_factor: Annotated[float, Field(gt=0)] = 1.0
    is_public: StrictBool = Field(default=True, alias="os-flavor-access:is_public")

    _name = field_validator("name")(_no_edge_whitespace)


class FlavorCreateBody(_Strict):
    flavor: FlavorCreateFields


class KeyPairCreateFields(_Strict):
    name: Name
    public_key: str | None = None


class KeyPairCreateBody(_Strict):
    keypair: KeyPairCreateFields
