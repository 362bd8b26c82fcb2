"""The body of POST /v3/auth/tokens, validated whole before anything reads it.

Mirrors Keystone's token-issue schema (keystone/auth/schema.py) and the checks its auth plugins make on
their payloads: every value has one JSON type (a number is no string, null is no object), an object
that names something needs its id or its name, and a name needs the domain it lives in. Anything else is
a 400 in Keystone's shape; only credentials that do not match anything are a 401, as in Keystone.

Strings are bounded by what the database can hold (ids and names) and by Keystone's default
``max_password_length`` (passwords and secrets), so no lookup ever sees a value no row can have.
"""

from __future__ import annotations

from typing import Annotated, Any, Literal

from pydantic import BaseModel, ConfigDict, Field, StrictBool, StrictStr, ValidationError, model_validator

from overcast.errors import BadRequest

MAX_ID_LENGTH = 64
MAX_NAME_LENGTH = 255
MAX_SECRET_LENGTH = 4096
# A token of ours is a few hundred characters; this leaves room for every scope and role list.
MAX_TOKEN_LENGTH = 16384

Identifier = Annotated[StrictStr, Field(min_length=1, max_length=MAX_ID_LENGTH)]
Name = Annotated[StrictStr, Field(min_length=1, max_length=MAX_NAME_LENGTH)]
Secret = Annotated[StrictStr, Field(max_length=MAX_SECRET_LENGTH)]
MethodName = Annotated[StrictStr, Field(min_length=1, max_length=MAX_NAME_LENGTH)]

PASSWORD = "password"
TOKEN = "token"
APPLICATION_CREDENTIAL = "application_credential"


class _Part(BaseModel):
    """One object of the auth body: unknown keys ignored (as Keystone does), null never a value."""

    model_config = ConfigDict(extra="ignore", populate_by_name=True)

    @model_validator(mode="before")
    @classmethod
    def _refuse_nulls(cls, data: Any) -> Any:
        # Keystone's schema types every key; JSON null matches none of them.
        if isinstance(data, dict):
            for name, field in cls.model_fields.items():
                key = field.alias or name
                if key in data and data[key] is None:
                    raise ValueError(f"{key} may not be null")
        return data


def _id_or_name(part: _IdOrName, where: str) -> None:
    if part.id is None and part.name is None:
        raise ValueError(f"Invalid input for field {where}: id or name must be present.")


class _IdOrName(_Part):
    id: Identifier | None = None
    name: Name | None = None


class DomainRef(_IdOrName):
    @model_validator(mode="after")
    def _named(self) -> DomainRef:
        _id_or_name(self, "domain")
        return self


class PasswordUser(_IdOrName):
    password: Secret | None = None
    domain: DomainRef | None = None

    @model_validator(mode="after")
    def _identified(self) -> PasswordUser:
        _id_or_name(self, "identity/password/user")
        if self.id is None and self.domain is None:
            raise ValueError("Expecting to find domain in user.")
        return self


class PasswordMethod(_Part):
    user: PasswordUser


class TokenMethod(_Part):
    id: Annotated[StrictStr, Field(max_length=MAX_TOKEN_LENGTH)]


class ApplicationCredentialUser(_IdOrName):
    domain: DomainRef | None = None

    @model_validator(mode="after")
    def _identified(self) -> ApplicationCredentialUser:
        _id_or_name(self, "application_credential/user")
        if self.id is None and self.domain is None:
            raise ValueError("Expecting to find domain in user.")
        return self


class ApplicationCredentialMethod(_Part):
    id: Identifier | None = None
    name: Name | None = None
    secret: Secret
    user: ApplicationCredentialUser | None = None

    @model_validator(mode="after")
    def _identified(self) -> ApplicationCredentialMethod:
        if self.id is None and (self.name is None or self.user is None):
            raise ValueError("Expecting to find id or name and user in application_credential.")
        return self


class Identity(_Part):
    methods: Annotated[list[MethodName], Field(min_length=1, max_length=8)]
    password: PasswordMethod | None = None
    token: TokenMethod | None = None
    application_credential: ApplicationCredentialMethod | None = None

    @model_validator(mode="after")
    def _payload_of_each_method(self) -> Identity:
        for method in self.methods:
            if method in (PASSWORD, TOKEN, APPLICATION_CREDENTIAL) and getattr(self, method) is None:
                raise ValueError(f"Expecting to find {method} in identity.")
        return self


class ProjectScope(_IdOrName):
    domain: DomainRef | None = None

    @model_validator(mode="after")
    def _identified(self) -> ProjectScope:
        _id_or_name(self, "scope/project")
        if self.id is None and self.domain is None:
            raise ValueError("Expecting to find domain in project.")
        return self


class SystemScope(_Part):
    all: StrictBool = False


class TrustScope(_Part):
    id: Identifier | None = None


class Scope(_Part):
    project: ProjectScope | None = None
    domain: DomainRef | None = None
    system: SystemScope | None = None
    trust: TrustScope | None = Field(default=None, alias="OS-TRUST:trust")
    # Older keystoneauth sends {"unscoped": {}} for what is now the string "unscoped".
    unscoped: dict[str, Any] | None = None

    @model_validator(mode="after")
    def _one_target(self) -> Scope:
        named = [self.project, self.domain, self.system, self.trust, self.unscoped]
        if sum(target is not None for target in named) != 1:
            raise ValueError("Expecting to find project, domain, OS-TRUST:trust or unscoped in scope.")
        return self


class Auth(_Part):
    identity: Identity
    scope: Scope | Literal["unscoped"] | None = None

    @property
    def unscoped(self) -> bool:
        return self.scope is None or self.scope == "unscoped" or self.scope.unscoped is not None


class AuthRequest(_Part):
    auth: Auth


def parse_auth(auth: Auth | dict[str, Any]) -> Auth:
    """The validated `auth` object, for callers that hold the decoded JSON rather than the model."""
    if isinstance(auth, Auth):
        return auth
    try:
        return Auth.model_validate(auth)
    except ValidationError as exc:
        details = "; ".join(
            f"{'/'.join(str(part) for part in error['loc'])}: {error['msg']}" for error in exc.errors()
        )
        raise BadRequest(f"Invalid input for auth: {details}") from exc
