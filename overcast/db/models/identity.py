"""Identity tables: domains, projects, users, groups, roles, assignments, credentials, revocations,
catalog and regions."""

from __future__ import annotations

import uuid as uuid_lib
from datetime import datetime
from typing import Any

from sqlalchemy import JSON, Boolean, Float, ForeignKey, Index, Integer, String, Text, UniqueConstraint
from sqlalchemy.orm import Mapped, mapped_column

from overcast.db.base import Base, TimestampMixin
from overcast.db.types import UTCDateTime


def new_id() -> str:
    return uuid_lib.uuid4().hex


class Domain(Base, TimestampMixin):
    __tablename__ = "identity_domains"

    id: Mapped[str] = mapped_column(String(64), primary_key=True, default=new_id)
    name: Mapped[str] = mapped_column(String(255), unique=True, nullable=False)
    description: Mapped[str] = mapped_column(Text, nullable=False, default="")
    enabled: Mapped[bool] = mapped_column(Boolean, nullable=False, default=True)


class Project(Base, TimestampMixin):
    __tablename__ = "identity_projects"
    __table_args__ = (UniqueConstraint("domain_id", "name"),)

    id: Mapped[str] = mapped_column(String(64), primary_key=True, default=new_id)
    name: Mapped[str] = mapped_column(String(255), nullable=False)
    domain_id: Mapped[str] = mapped_column(ForeignKey("identity_domains.id"), nullable=False)
    parent_id: Mapped[str | None] = mapped_column(String(64), nullable=True)
    description: Mapped[str] = mapped_column(Text, nullable=False, default="")
    enabled: Mapped[bool] = mapped_column(Boolean, nullable=False, default=True)
    tags: Mapped[list[str]] = mapped_column(JSON, nullable=False, default=list)
    # Attributes Keystone does not know by name but keeps and returns (its `extra` column).
    extra: Mapped[dict[str, Any]] = mapped_column(JSON, nullable=False, default=dict)


class User(Base, TimestampMixin):
    """SQL-backed users; users of an LDAP domain live in LDAP and have no row here."""

    __tablename__ = "identity_users"
    __table_args__ = (UniqueConstraint("domain_id", "name"),)

    id: Mapped[str] = mapped_column(String(64), primary_key=True, default=new_id)
    name: Mapped[str] = mapped_column(String(255), nullable=False)
    domain_id: Mapped[str] = mapped_column(ForeignKey("identity_domains.id"), nullable=False)
    password_hash: Mapped[str | None] = mapped_column(String(255), nullable=True)
    enabled: Mapped[bool] = mapped_column(Boolean, nullable=False, default=True)
    email: Mapped[str | None] = mapped_column(String(255), nullable=True)
    description: Mapped[str] = mapped_column(Text, nullable=False, default="")
    default_project_id: Mapped[str | None] = mapped_column(String(64), nullable=True)
    password_expires_at: Mapped[datetime | None] = mapped_column(UTCDateTime(), nullable=True)


class Role(Base, TimestampMixin):
    __tablename__ = "identity_roles"

    id: Mapped[str] = mapped_column(String(64), primary_key=True, default=new_id)
    name: Mapped[str] = mapped_column(String(255), unique=True, nullable=False)
    description: Mapped[str] = mapped_column(Text, nullable=False, default="")


class ImpliedRole(Base):
    """admin implies member implies reader, as Keystone's bootstrap sets up."""

    __tablename__ = "identity_implied_roles"

    prior_role_id: Mapped[str] = mapped_column(
        ForeignKey("identity_roles.id", ondelete="CASCADE"), primary_key=True
    )
    implied_role_id: Mapped[str] = mapped_column(
        ForeignKey("identity_roles.id", ondelete="CASCADE"), primary_key=True
    )


class RoleAssignment(Base):
    """A user holds a role on a project, a domain or the system (target_type "project", "domain" or
    "system", whose target_id is "all").

    An inherited grant (OS-INHERIT) holds on every project below its target instead of on the target.
    user_id is not a foreign key: LDAP users have no row in identity_users.
    """

    __tablename__ = "identity_role_assignments"
    __table_args__ = (Index("ix_identity_role_assignments_target", "target_type", "target_id"),)

    user_id: Mapped[str] = mapped_column(String(64), primary_key=True)
    target_type: Mapped[str] = mapped_column(String(16), primary_key=True)
    target_id: Mapped[str] = mapped_column(String(64), primary_key=True)
    role_id: Mapped[str] = mapped_column(
        ForeignKey("identity_roles.id", ondelete="CASCADE"), primary_key=True
    )
    inherited: Mapped[bool] = mapped_column(Boolean, primary_key=True, default=False)


class Group(Base, TimestampMixin):
    __tablename__ = "identity_groups"
    __table_args__ = (UniqueConstraint("domain_id", "name"),)

    id: Mapped[str] = mapped_column(String(64), primary_key=True, default=new_id)
    name: Mapped[str] = mapped_column(String(255), nullable=False)
    domain_id: Mapped[str] = mapped_column(ForeignKey("identity_domains.id"), nullable=False)
    description: Mapped[str] = mapped_column(Text, nullable=False, default="")


class GroupMembership(Base):
    """user_id is not a foreign key: LDAP users have no row in identity_users."""

    __tablename__ = "identity_group_memberships"

    group_id: Mapped[str] = mapped_column(
        ForeignKey("identity_groups.id", ondelete="CASCADE"), primary_key=True
    )
    user_id: Mapped[str] = mapped_column(String(64), primary_key=True, index=True)


class GroupRoleAssignment(Base):
    """A group holds a role on a project, a domain or the system; every member holds it through the
    group (inherited as RoleAssignment's)."""

    __tablename__ = "identity_group_role_assignments"
    __table_args__ = (Index("ix_identity_group_role_assignments_target", "target_type", "target_id"),)

    group_id: Mapped[str] = mapped_column(
        ForeignKey("identity_groups.id", ondelete="CASCADE"), primary_key=True
    )
    target_type: Mapped[str] = mapped_column(String(16), primary_key=True)
    target_id: Mapped[str] = mapped_column(String(64), primary_key=True)
    role_id: Mapped[str] = mapped_column(
        ForeignKey("identity_roles.id", ondelete="CASCADE"), primary_key=True
    )
    inherited: Mapped[bool] = mapped_column(Boolean, primary_key=True, default=False)


class ApplicationCredential(Base, TimestampMixin):
    __tablename__ = "identity_application_credentials"
    __table_args__ = (UniqueConstraint("user_id", "name"),)

    id: Mapped[str] = mapped_column(String(64), primary_key=True, default=new_id)
    name: Mapped[str] = mapped_column(String(255), nullable=False)
    user_id: Mapped[str] = mapped_column(String(64), nullable=False, index=True)
    project_id: Mapped[str] = mapped_column(String(64), nullable=False)
    secret_hash: Mapped[str] = mapped_column(String(255), nullable=False)
    description: Mapped[str] = mapped_column(Text, nullable=False, default="")
    expires_at: Mapped[datetime | None] = mapped_column(UTCDateTime(), nullable=True)
    unrestricted: Mapped[bool] = mapped_column(Boolean, nullable=False, default=False)
    # Role names the credential may use (a subset of the user's roles on the project when created).
    roles: Mapped[list[dict[str, Any]]] = mapped_column(JSON, nullable=False, default=list)


class AccessRule(Base):
    """What an application credential's tokens may call: a service type, an HTTP method, a path pattern.

    Rules belong to a user and are shared by that user's credentials (Keystone reuses an identical rule,
    or one named by id, instead of storing it twice).
    """

    __tablename__ = "identity_access_rules"
    __table_args__ = (UniqueConstraint("user_id", "service", "method", "path"),)

    id: Mapped[str] = mapped_column(String(64), primary_key=True, default=new_id)
    user_id: Mapped[str] = mapped_column(String(64), nullable=False, index=True)
    service: Mapped[str] = mapped_column(String(64), nullable=False)
    method: Mapped[str] = mapped_column(String(16), nullable=False)
    path: Mapped[str] = mapped_column(String(225), nullable=False)


class ApplicationCredentialAccessRule(Base):
    """A rule an application credential holds; a rule in use cannot be deleted (no cascade from rules)."""

    __tablename__ = "identity_application_credential_access_rules"

    application_credential_id: Mapped[str] = mapped_column(
        ForeignKey("identity_application_credentials.id", ondelete="CASCADE"), primary_key=True
    )
    access_rule_id: Mapped[str] = mapped_column(
        ForeignKey("identity_access_rules.id"), primary_key=True, index=True
    )


class Ec2Credential(Base, TimestampMixin):
    __tablename__ = "identity_ec2_credentials"

    access: Mapped[str] = mapped_column(String(64), primary_key=True)
    # The EC2 API recomputes signatures with the secret, so it cannot be hashed: it is encrypted with the
    # credential key named by key_id (identity/credential_keys.py), which lives outside the database.
    # key_id NULL marks a plain-text secret written before migration 0013; start-up encrypts those.
    encrypted_secret: Mapped[str] = mapped_column(Text, nullable=False)
    key_id: Mapped[str | None] = mapped_column(String(64), nullable=True)
    user_id: Mapped[str] = mapped_column(String(64), nullable=False, index=True)
    project_id: Mapped[str] = mapped_column(String(64), nullable=False)
    # Made with a token from this application credential: acts with its roles and dies with it (Keystone's
    # app_cred_id in the credential's blob).
    application_credential_id: Mapped[str | None] = mapped_column(String(64), nullable=True, index=True)


class RevocationEvent(Base):
    """Tokens issued at or before issued_before that match every non-null field are revoked."""

    __tablename__ = "identity_revocation_events"

    id: Mapped[str] = mapped_column(String(64), primary_key=True, default=new_id)
    audit_id: Mapped[str | None] = mapped_column(String(64), nullable=True)
    user_id: Mapped[str | None] = mapped_column(String(64), nullable=True)
    project_id: Mapped[str | None] = mapped_column(String(64), nullable=True)
    domain_id: Mapped[str | None] = mapped_column(String(64), nullable=True)
    application_credential_id: Mapped[str | None] = mapped_column(String(64), nullable=True)
    trust_id: Mapped[str | None] = mapped_column(String(64), nullable=True)
    # Seconds since the epoch with microseconds: compared against the token's issue time.
    issued_before: Mapped[float] = mapped_column(Float, nullable=False)
    revoked_at: Mapped[float] = mapped_column(Float, nullable=False, index=True)


class LoginLockout(Base):
    """Recent failed logins of one user, by id (whatever name the client typed), for every API process.

    No foreign key: users of an LDAP domain have no row in identity_users but are locked out the same way.
    """

    __tablename__ = "identity_login_lockouts"

    user_id: Mapped[str] = mapped_column(String(64), primary_key=True)
    failures: Mapped[int] = mapped_column(Integer, nullable=False, default=0)
    # Seconds since the epoch, like the revocation events: one UPDATE can count and compare them.
    window_started_at: Mapped[float] = mapped_column(Float, nullable=False)
    locked_until: Mapped[float] = mapped_column(Float, nullable=False, default=0.0)


class CatalogService(Base, TimestampMixin):
    __tablename__ = "identity_catalog_services"

    id: Mapped[str] = mapped_column(String(64), primary_key=True, default=new_id)
    type: Mapped[str] = mapped_column(String(255), nullable=False)
    name: Mapped[str] = mapped_column(String(255), nullable=False)
    description: Mapped[str] = mapped_column(Text, nullable=False, default="")
    enabled: Mapped[bool] = mapped_column(Boolean, nullable=False, default=True)


class CatalogEndpoint(Base, TimestampMixin):
    __tablename__ = "identity_catalog_endpoints"

    id: Mapped[str] = mapped_column(String(64), primary_key=True, default=new_id)
    service_id: Mapped[str] = mapped_column(
        ForeignKey("identity_catalog_services.id", ondelete="CASCADE"), nullable=False
    )
    interface: Mapped[str] = mapped_column(String(16), nullable=False)
    # Keystone lets an endpoint name no region.
    region_id: Mapped[str | None] = mapped_column(String(255), nullable=True)
    # May hold $(project_id)s, substituted per token.
    url: Mapped[str] = mapped_column(Text, nullable=False)
    enabled: Mapped[bool] = mapped_column(Boolean, nullable=False, default=True)


class Region(Base):
    """A catalog region; endpoints name theirs in region_id (checked in code, not by a foreign key)."""

    __tablename__ = "identity_regions"

    id: Mapped[str] = mapped_column(String(255), primary_key=True, default=new_id)
    description: Mapped[str] = mapped_column(Text, nullable=False, default="")
    parent_region_id: Mapped[str | None] = mapped_column(
        ForeignKey("identity_regions.id"), nullable=True, index=True
    )


class EndpointGroup(Base):
    """OS-EP-FILTER: a set of endpoints named by filters (interface, service_id, region_id)."""

    __tablename__ = "identity_endpoint_groups"

    id: Mapped[str] = mapped_column(String(64), primary_key=True, default=new_id)
    name: Mapped[str] = mapped_column(String(255), nullable=False)
    # Keystone tells a description never given (null) from an empty one.
    description: Mapped[str | None] = mapped_column(Text, nullable=True)
    filters: Mapped[dict[str, Any]] = mapped_column(JSON, nullable=False, default=dict)


class ProjectEndpoint(Base):
    """OS-EP-FILTER: an endpoint associated with a project (its tokens' catalog shows only those)."""

    __tablename__ = "identity_project_endpoints"

    project_id: Mapped[str] = mapped_column(
        ForeignKey("identity_projects.id", ondelete="CASCADE"), primary_key=True
    )
    endpoint_id: Mapped[str] = mapped_column(
        ForeignKey("identity_catalog_endpoints.id", ondelete="CASCADE"), primary_key=True, index=True
    )


class ProjectEndpointGroup(Base):
    """OS-EP-FILTER: an endpoint group associated with a project."""

    __tablename__ = "identity_project_endpoint_groups"

    project_id: Mapped[str] = mapped_column(
        ForeignKey("identity_projects.id", ondelete="CASCADE"), primary_key=True
    )
    endpoint_group_id: Mapped[str] = mapped_column(
        ForeignKey("identity_endpoint_groups.id", ondelete="CASCADE"), primary_key=True, index=True
    )


class RegisteredLimit(Base):
    """Unified limits: a resource's default limit for every project, per service and region."""

    __tablename__ = "identity_registered_limits"
    __table_args__ = (UniqueConstraint("service_id", "region_id", "resource_name"),)

    id: Mapped[str] = mapped_column(String(64), primary_key=True, default=new_id)
    service_id: Mapped[str] = mapped_column(
        ForeignKey("identity_catalog_services.id", ondelete="CASCADE"), nullable=False
    )
    # "" for no region: a unique key treats NULLs as different, and a limit must be found once.
    region_id: Mapped[str] = mapped_column(String(255), nullable=False, default="")
    resource_name: Mapped[str] = mapped_column(String(255), nullable=False)
    default_limit: Mapped[int] = mapped_column(Integer, nullable=False)
    description: Mapped[str] = mapped_column(Text, nullable=False, default="")


class ProjectLimit(Base):
    """Unified limits: one project's (or domain's) own limit of a registered resource."""

    __tablename__ = "identity_project_limits"
    __table_args__ = (UniqueConstraint("target_id", "service_id", "region_id", "resource_name"),)

    id: Mapped[str] = mapped_column(String(64), primary_key=True, default=new_id)
    # A project's id, or a domain's (domain_limit true).
    target_id: Mapped[str] = mapped_column(String(64), nullable=False, index=True)
    domain_limit: Mapped[bool] = mapped_column(Boolean, nullable=False, default=False)
    service_id: Mapped[str] = mapped_column(
        ForeignKey("identity_catalog_services.id", ondelete="CASCADE"), nullable=False
    )
    region_id: Mapped[str] = mapped_column(String(255), nullable=False, default="")
    resource_name: Mapped[str] = mapped_column(String(255), nullable=False)
    resource_limit: Mapped[int] = mapped_column(Integer, nullable=False)
    description: Mapped[str] = mapped_column(Text, nullable=False, default="")


class PolicyBlob(Base):
    """The policies API: opaque policy documents stored for other services (Keystone never reads them)."""

    __tablename__ = "identity_policies"

    id: Mapped[str] = mapped_column(String(64), primary_key=True, default=new_id)
    type: Mapped[str] = mapped_column(String(255), nullable=False)
    blob: Mapped[str] = mapped_column(Text, nullable=False)
    extra: Mapped[dict[str, Any]] = mapped_column(JSON, nullable=False, default=dict)


class Trust(Base, TimestampMixin):
    """OS-TRUST: a trustor lets a trustee act with some of the trustor's roles on one project."""

    __tablename__ = "identity_trusts"

    id: Mapped[str] = mapped_column(String(64), primary_key=True, default=new_id)
    trustor_user_id: Mapped[str] = mapped_column(String(64), nullable=False, index=True)
    trustee_user_id: Mapped[str] = mapped_column(String(64), nullable=False, index=True)
    project_id: Mapped[str | None] = mapped_column(String(64), nullable=True)
    impersonation: Mapped[bool] = mapped_column(Boolean, nullable=False, default=False)
    expires_at: Mapped[datetime | None] = mapped_column(UTCDateTime(), nullable=True)
    # None: unlimited; each trust-scoped token takes one.
    remaining_uses: Mapped[int | None] = mapped_column(Integer, nullable=True)
    allow_redelegation: Mapped[bool] = mapped_column(Boolean, nullable=False, default=False)
    role_ids: Mapped[list[str]] = mapped_column(JSON, nullable=False, default=list)


class IdentityProvider(Base):
    """OS-FEDERATION: an identity provider (the resource; no federated login is served)."""

    __tablename__ = "identity_federation_idps"

    id: Mapped[str] = mapped_column(String(64), primary_key=True)
    domain_id: Mapped[str | None] = mapped_column(String(64), nullable=True)
    description: Mapped[str] = mapped_column(Text, nullable=False, default="")
    enabled: Mapped[bool] = mapped_column(Boolean, nullable=False, default=True)
    remote_ids: Mapped[list[str]] = mapped_column(JSON, nullable=False, default=list)
    authorization_ttl: Mapped[int | None] = mapped_column(Integer, nullable=True)


class FederationMapping(Base):
    __tablename__ = "identity_federation_mappings"

    id: Mapped[str] = mapped_column(String(64), primary_key=True)
    rules: Mapped[list[Any]] = mapped_column(JSON, nullable=False, default=list)
    schema_version: Mapped[str] = mapped_column(String(16), nullable=False, default="1.0")


class FederationProtocol(Base):
    __tablename__ = "identity_federation_protocols"

    idp_id: Mapped[str] = mapped_column(
        ForeignKey("identity_federation_idps.id", ondelete="CASCADE"), primary_key=True
    )
    id: Mapped[str] = mapped_column(String(64), primary_key=True)
    mapping_id: Mapped[str] = mapped_column(String(64), nullable=False)
    remote_id_attribute: Mapped[str | None] = mapped_column(String(64), nullable=True)


class ServiceProvider(Base):
    __tablename__ = "identity_federation_sps"

    id: Mapped[str] = mapped_column(String(64), primary_key=True)
    auth_url: Mapped[str] = mapped_column(String(256), nullable=False)
    sp_url: Mapped[str] = mapped_column(String(256), nullable=False)
    description: Mapped[str] = mapped_column(Text, nullable=False, default="")
    enabled: Mapped[bool] = mapped_column(Boolean, nullable=False, default=False)
    relay_state_prefix: Mapped[str] = mapped_column(String(256), nullable=False, default="ss:mem:")


class DomainConfig(Base):
    """A domain's own identity configuration (Keystone's domain-specific configuration API), stored as
    given: groups ("identity", "ldap") of options."""

    __tablename__ = "identity_domain_configs"

    domain_id: Mapped[str] = mapped_column(
        ForeignKey("identity_domains.id", ondelete="CASCADE"), primary_key=True
    )
    config: Mapped[dict[str, Any]] = mapped_column(JSON, nullable=False, default=dict)
