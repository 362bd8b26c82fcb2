"""Request bodies of the Identity v3 API (unknown attributes are ignored, as Keystone stores them aside)."""

from __future__ import annotations

from datetime import datetime
from typing import Annotated, Any, Literal

from pydantic import BaseModel, BeforeValidator, ConfigDict, Field, WithJsonSchema


class _Body(BaseModel):
    model_config = ConfigDict(extra="ignore")


def _not_null(value: Any) -> Any:
    # Runs only on a value the client sent (defaults are not validated): leaving it out means "unchanged".
    if value is None:
        raise ValueError("may be left out but not null")
    return value


# Attributes Keystone's schemas type as a string or a boolean, never null (the columns are NOT NULL).
Name64 = Annotated[
    str | None,
    BeforeValidator(_not_null),
    Field(min_length=1, max_length=64),
    WithJsonSchema({"type": "string", "minLength": 1, "maxLength": 64}),
]
Name255 = Annotated[
    str | None,
    BeforeValidator(_not_null),
    Field(min_length=1, max_length=255),
    WithJsonSchema({"type": "string", "minLength": 1, "maxLength": 255}),
]
Enabled = Annotated[bool | None, BeforeValidator(_not_null), WithJsonSchema({"type": "boolean"})]


class DomainFields(_Body):
    name: Name64 = None
    description: str | None = None
    enabled: Enabled = None


class DomainBody(_Body):
    domain: DomainFields


class ProjectFields(_Body):
    # Keystone keeps the attributes it does not know by name and shows them back.
    model_config = ConfigDict(extra="allow")

    name: Name64 = None
    domain_id: str | None = None
    parent_id: str | None = None
    description: str | None = None
    enabled: Enabled = None
    tags: list[str] | None = None


class ProjectBody(_Body):
    project: ProjectFields


class UserFields(_Body):
    name: Name255 = None
    domain_id: str | None = None
    password: str | None = None
    enabled: Enabled = None
    # Keystone keeps e-mail among a user's free-form attributes; our column holds 255 characters.
    email: str | None = Field(default=None, max_length=255)
    description: str | None = None
    default_project_id: str | None = None


class UserBody(_Body):
    user: UserFields


class PasswordChange(_Body):
    original_password: str
    password: str = Field(min_length=1)


class PasswordChangeBody(_Body):
    user: PasswordChange


class RoleFields(_Body):
    name: Name255 = None
    description: str | None = None


class RoleBody(_Body):
    role: RoleFields


class GroupFields(_Body):
    name: Name64 = None
    domain_id: str | None = None
    description: str | None = None


class GroupBody(_Body):
    group: GroupFields


class RegionFields(_Body):
    id: str | None = Field(default=None, min_length=1, max_length=255)
    parent_region_id: str | None = None
    description: str | None = None


class RegionBody(_Body):
    region: RegionFields


class ServiceFields(_Body):
    type: Name255 = None
    name: str | None = Field(default=None, max_length=255)
    description: str | None = None
    enabled: Enabled = None


class ServiceBody(_Body):
    service: ServiceFields


class EndpointFields(_Body):
    service_id: Name64 = None
    interface: Literal["public", "internal", "admin"] | None = None
    url: Annotated[str | None, BeforeValidator(_not_null), Field(min_length=1, max_length=225)] = None
    region_id: str | None = Field(default=None, max_length=255)
    # Keystone's older spelling of region_id, still sent by some clients.
    region: str | None = Field(default=None, max_length=255)
    enabled: Enabled = None


class EndpointBody(_Body):
    endpoint: EndpointFields


class RoleRef(_Body):
    id: str | None = None
    name: str | None = None


class AccessRuleSpec(BaseModel):
    """Keystone's access-rule schema: an existing rule by id, or service, method and path."""

    model_config = ConfigDict(extra="forbid")

    id: str | None = Field(default=None, min_length=1, max_length=64, pattern=r"^[a-zA-Z0-9-]+$")
    service: str | None = Field(default=None, min_length=1, max_length=64, pattern=r"^[a-zA-Z0-9-]+$")
    method: Literal["GET", "HEAD", "POST", "PUT", "PATCH", "DELETE"] | None = None
    # A request path never holds control characters (and PostgreSQL text cannot hold NUL).
    path: str | None = Field(default=None, max_length=225, pattern=r"^/[^\x00-\x1f\x7f]*$")


class ApplicationCredentialFields(_Body):
    name: str = Field(min_length=1, max_length=255)
    description: str | None = None
    secret: str | None = None
    expires_at: datetime | None = None
    roles: list[RoleRef] | None = None
    unrestricted: bool = False
    access_rules: list[AccessRuleSpec] | None = None


class ApplicationCredentialBody(_Body):
    application_credential: ApplicationCredentialFields


class Ec2CredentialBody(_Body):
    tenant_id: str


def set_fields(model: BaseModel) -> dict[str, Any]:
    """Only the attributes the client sent (PATCH semantics)."""
    return model.model_dump(exclude_unset=True)
