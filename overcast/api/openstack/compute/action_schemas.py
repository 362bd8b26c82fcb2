"""Bodies of POST /servers/{id}/action (the shape of Nova's JSON schemas), in Nova's parameter types."""

from __future__ import annotations

from typing import Annotated, Any, Literal

from pydantic import (
    BaseModel,
    ConfigDict,
    Field,
    PlainValidator,
    TypeAdapter,
    ValidationError,
    WithJsonSchema,
)

from overcast import errors
from overcast.api.openstack.compute.schemas import Hostname, TrustedCerts
from overcast.api.openstack.parameter_types import (
    AnyBody,
    Boolean,
    Description,
    DiskConfig,
    FlavorRef,
    IpAddress,
    IPv4,
    IPv6,
    Metadata,
    Name,
    NameOrNone,
    NonNegativeInteger,
    UserData,
    Uuid,
    integer_rule,
    reason,
)


class _Strict(BaseModel):
    model_config = ConfigDict(extra="forbid", populate_by_name=True)


class Reboot(_Strict):
    type: Literal["HARD", "Hard", "hard", "SOFT", "Soft", "soft"]


class Rescue(_Strict):
    adminPass: str | None = None
    rescue_image_ref: Uuid | None = None


class Resize(_Strict):
    flavorRef: FlavorRef
    disk_config: DiskConfig | None = Field(default=None, alias="OS-DCF:diskConfig")


class Migrate(_Strict):
    """From 2.56 the migrate action may name its destination (before, Nova reads no value at all)."""

    host: Annotated[str, Field(min_length=1, max_length=255)] | None = None


class Rebuild(_Strict):
    imageRef: Annotated[str, Field(min_length=1)]
    name: Name | None = None
    adminPass: str | None = None
    metadata: Metadata | None = None
    accessIPv4: IPv4 | None = None
    accessIPv6: IPv6 | None = None
    disk_config: DiskConfig | None = Field(default=None, alias="OS-DCF:diskConfig")
    # Accepted for compatibility (no config drive files, no ephemeral disks to keep yet).
    personality: list[dict[str, Any]] | None = None
    preserve_ephemeral: Boolean | None = None
    description: Description = None
    key_name: NameOrNone = None
    user_data: UserData | None = None
    trusted_image_certificates: TrustedCerts = None
    hostname: Hostname | None = None


class CreateImage(_Strict):
    name: Name
    metadata: Metadata | None = None


class CreateBackup(_Strict):
    name: Name
    backup_type: str
    rotation: NonNegativeInteger
    metadata: Metadata | None = None


# Lines of console output: a number or a string of one, -1 (or null) for all of it.
ConsoleLength = Annotated[
    int,
    PlainValidator(integer_rule(-1, pattern=r"^-?[0-9]+$")),
    WithJsonSchema(
        {"anyOf": [{"type": "integer", "minimum": -1}, {"type": "string", "pattern": r"^-?[0-9]+$"}]}
    ),
]


class ConsoleOutput(_Strict):
    length: ConsoleLength | None = None


class ResetState(_Strict):
    state: Literal["active", "error"]


class ChangePassword(_Strict):
    adminPass: str


class SecurityGroupAction(_Strict):
    name: Annotated[str, Field(min_length=1, max_length=255)]


class AddFloatingIp(_Strict):
    address: IpAddress
    fixed_address: IpAddress | None = None


class RemoveFloatingIp(_Strict):
    address: IpAddress


def _network_id(value: Any) -> str:
    """Nova's networkId: a string of 1 to 36 characters (a network's id) or a number."""
    if isinstance(value, bool) or not isinstance(value, str | int | float):
        raise ValueError(f"{value!r} is not of type 'string', 'number'")
    if isinstance(value, str) and not value:
        raise ValueError("'' is too short")
    if isinstance(value, str) and len(value) > 36:
        raise ValueError(f"{value!r} is too long")
    return str(value)


class AddFixedIp(_Strict):
    networkId: Annotated[str, PlainValidator(_network_id)]


class RemoveFixedIp(_Strict):
    address: IpAddress


# The value of an action Nova reads nothing from (os-start, pause, confirmResize...): its schema is
# `{}`, so null, {} and anything else a client sends are all accepted.
NoBody: TypeAdapter[Any] = TypeAdapter(AnyBody)


def parse(action: str, model: Any, value: Any) -> Any:
    """Validate one action's value; Nova's 400 wording on failure."""
    adapter = model if isinstance(model, TypeAdapter) else TypeAdapter(model)
    try:
        return adapter.validate_python(value)
    except ValidationError as exc:
        first = exc.errors()[0]
        where = ".".join(str(part) for part in (action, *first["loc"]) if not _is_union_branch(part))
        raise errors.BadRequest(
            f"Invalid input for field/attribute {where}. Value: {value}. {reason(exc)}"
        ) from None


def _is_union_branch(part: int | str) -> bool:
    # pydantic names the union member it tried (a model's name, "none"); Nova's paths have fields only.
    return part == "none" or part in {model.__name__ for model in _Strict.__subclasses__()}


class Lock(_Strict):
    """2.73: a lock may say why (null, or up to 255 characters)."""

    locked_reason: Annotated[str, Field(max_length=255)] | None = None


class Unshelve(_Strict):
    """2.77: an offloaded server may be unshelved into a zone (2.91: or onto a host, or unpinned)."""

    availability_zone: Annotated[str, Field(min_length=1, max_length=255)] | None = None
    host: Annotated[str, Field(min_length=1, max_length=255)] | None = None
