"""Bodies of POST /servers/{id}/action at microversion 2.1 (the shape of Nova's JSON schemas)."""

from __future__ import annotations

from typing import Annotated, Any, Literal

from pydantic import BaseModel, ConfigDict, Field, StrictBool, TypeAdapter, ValidationError, field_validator

from overcast import errors
from overcast.api.openstack.compute.schemas import (
    AccessIPv4,
    AccessIPv6,
    DiskConfig,
    Hostname,
    Name,
    TrustedCerts,
)


class _Strict(BaseModel):
    model_config = ConfigDict(extra="forbid", populate_by_name=True)


class Reboot(_Strict):
    type: Literal["HARD", "Hard", "hard", "SOFT", "Soft", "soft"]


class Rescue(_Strict):
    adminPass: str | None = None
    rescue_image_ref: str | None = None


class Resize(_Strict):
    flavorRef: Annotated[str, Field(min_length=1)] | Annotated[int, Field(ge=1)]
    disk_config: DiskConfig | None = Field(default=None, alias="OS-DCF:diskConfig")


class Migrate(_Strict):
    """From 2.56 the migrate action may name its destination (before: only null)."""

    host: Annotated[str, Field(min_length=1, max_length=255)] | None = None


class Rebuild(_Strict):
    imageRef: Annotated[str, Field(min_length=1)]
    name: Name | None = None
    adminPass: str | None = None
    metadata: dict[str, Any] | None = None
    accessIPv4: AccessIPv4 | None = None
    accessIPv6: AccessIPv6 | None = None
    disk_config: DiskConfig | None = Field(default=None, alias="OS-DCF:diskConfig")
    # Accepted for compatibility (no config drive files, no ephemeral disks to keep yet).
    personality: list[dict[str, Any]] | None = None
    preserve_ephemeral: StrictBool | None = None
    description: Annotated[str, Field(max_length=255)] | None = None
    key_name: Name | None = None
    user_data: Annotated[str, Field(max_length=65535)] | None = None
    trusted_image_certificates: TrustedCerts = None
    hostname: Hostname | None = None


class CreateImage(_Strict):
    name: Name
    metadata: dict[str, Any] | None = None


class ConsoleOutput(_Strict):
    length: int | Annotated[str, Field(pattern=r"^-?[0-9]+$")] | None = None

    @field_validator("length")
    @classmethod
    def _at_least_minus_one(cls, value: int | str | None) -> int | str | None:
        if value is not None and int(value) < -1:
            raise ValueError("must be -1 or more")
        return value


class ResetState(_Strict):
    state: Literal["active", "error"]


class ChangePassword(_Strict):
    adminPass: str


class SecurityGroupAction(_Strict):
    name: Annotated[str, Field(min_length=1, max_length=255)]


class _Empty(_Strict):
    pass


NoBody: TypeAdapter[_Empty | None] = TypeAdapter(_Empty | None)


def parse(action: str, model: Any, value: Any) -> Any:
    """Validate one action's value; Nova's 400 wording on failure."""
    adapter = model if isinstance(model, TypeAdapter) else TypeAdapter(model)
    try:
        return adapter.validate_python(value)
    except ValidationError as exc:
        first = exc.errors()[0]
        where = ".".join(str(part) for part in (action, *first["loc"]) if part not in ("_Empty", "none"))
        raise errors.BadRequest(
            f"Invalid input for field/attribute {where}. Value: {value}. {first['msg']}"
        ) from None


class Lock(_Strict):
    """2.73: a lock may say why (null, or up to 255 characters)."""

    locked_reason: Annotated[str, Field(max_length=255)] | None = None


class Unshelve(_Strict):
    """2.77: an offloaded server may be unshelved into a zone (2.91: or onto a host, or unpinned)."""

    availability_zone: Annotated[str, Field(min_length=1, max_length=255)] | None = None
    host: Annotated[str, Field(min_length=1, max_length=255)] | None = None
