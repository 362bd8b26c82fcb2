"""First start: the Default domain, admin and demo projects and users, the default roles, catalog and
clouds.yaml.

Idempotent: once the admin user exists, a start only makes the catalog match settings.base_url.
Passwords are generated (never a fixed default) and shown only through the written clouds.yaml.
"""

from __future__ import annotations

import json
import logging
import os
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from pathlib import Path

from sqlalchemy import select
from sqlalchemy.orm import Session

from overcast.config import Settings
from overcast.db.engine import Database
from overcast.db.models.identity import Domain, ImpliedRole, Project, Role, RoleAssignment, User
from overcast.identity.catalog import DEFAULT_SERVICES, CatalogEntry, ensure_catalog
from overcast.identity.core import DEFAULT_DOMAIN_ID, DEFAULT_DOMAIN_NAME
from overcast.identity.grants import GrantTarget, add_grant
from overcast.identity.passwords import PasswordHasher, generate_password

LOG = logging.getLogger(__name__)

# Keystone's default roles: each of the first four implies the next; `service` is for the services;
# `support` is the portal's support staff (every account's tickets, no other admin power).
ROLE_NAMES = ("admin", "manager", "member", "reader", "service", "support")
IMPLIED_ROLES = (("admin", "manager"), ("manager", "member"), ("member", "reader"))
CLOUDS_FILE_NAME = "clouds.yaml"


@dataclass(frozen=True)
class BootstrapResult:
    created: bool
    catalog_changed: bool
    clouds_yaml: Path
    admin_password: str | None = None
    demo_password: str | None = None


def bootstrap(
    settings: Settings,
    db: Database,
    services: tuple[CatalogEntry, ...] = DEFAULT_SERVICES,
    *,
    admin_password: str | None = None,
    hasher: PasswordHasher | None = None,
    networks: Sequence[Mapping[str, str | bool]] = (),
) -> BootstrapResult:
    """`networks` are openstacksdk's `networks` entries of clouds.yaml (the network floating IPs come from,
    `nat_source`, and the one they lead to, `nat_destination`), written when the cloud makes them."""
    clouds_yaml = settings.data_dir / CLOUDS_FILE_NAME
    with db.writer() as session:
        catalog_changed = ensure_catalog(session, settings.base_url, settings.region, services)
        # Every start, so a cloud bootstrapped before a default role existed gets it too.
        ensure_default_roles(session)
        if _already_bootstrapped(session):
            return BootstrapResult(False, catalog_changed, clouds_yaml)
        hasher = hasher or PasswordHasher()
        admin_password = admin_password or generate_password()
        demo_password = generate_password()
        _create_identities(session, hasher, admin_password, demo_password)
    write_clouds_yaml(clouds_yaml, settings, admin_password, demo_password, networks)
    print(f"Overcast: credentials for overcast-admin and overcast-demo written to {clouds_yaml}")
    LOG.info("bootstrap created the admin and demo users; clouds.yaml at %s", clouds_yaml)
    return BootstrapResult(True, catalog_changed, clouds_yaml, admin_password, demo_password)


def _already_bootstrapped(session: Session) -> bool:
    query = select(User.id).where(User.domain_id == DEFAULT_DOMAIN_ID, User.name == "admin")
    return session.scalars(query).first() is not None


def _create_identities(
    session: Session, hasher: PasswordHasher, admin_password: str, demo_password: str
) -> None:
    if session.get(Domain, DEFAULT_DOMAIN_ID) is None:
        session.add(Domain(id=DEFAULT_DOMAIN_ID, name=DEFAULT_DOMAIN_NAME, description="The default domain"))
    roles = ensure_default_roles(session)
    for user_name, password, role_name in (
        ("admin", admin_password, "admin"),
        ("demo", demo_password, "member"),
    ):
        project = session.scalars(
            select(Project).where(Project.domain_id == DEFAULT_DOMAIN_ID, Project.name == user_name)
        ).first()
        if project is None:
            project = Project(
                name=user_name, domain_id=DEFAULT_DOMAIN_ID, description=f"The {user_name} project"
            )
            session.add(project)
            session.flush()
        user = session.scalars(
            select(User).where(User.domain_id == DEFAULT_DOMAIN_ID, User.name == user_name)
        ).first()
        if user is None:
            user = User(name=user_name, domain_id=DEFAULT_DOMAIN_ID, default_project_id=project.id)
            session.add(user)
        user.password_hash = hasher.hash(password)
        session.flush()
        add_grant(session, RoleAssignment, user.id, GrantTarget("project", project.id), roles[role_name].id)
        if user_name == "admin":
            # As keystone-manage bootstrap: the admin is the system's admin too.
            add_grant(session, RoleAssignment, user.id, GrantTarget.system(), roles["admin"].id)
    session.flush()


def ensure_default_roles(session: Session) -> dict[str, Role]:
    """Keystone's default roles and the implications between them, made where missing."""
    roles: dict[str, Role] = {}
    for name in ROLE_NAMES:
        role = session.scalars(select(Role).where(Role.name == name)).first()
        if role is None:
            role = Role(name=name)
            session.add(role)
        roles[name] = role
    session.flush()
    for prior, implied in IMPLIED_ROLES:
        if session.get(ImpliedRole, (roles[prior].id, roles[implied].id)) is None:
            session.add(ImpliedRole(prior_role_id=roles[prior].id, implied_role_id=roles[implied].id))
    session.flush()
    return roles


def clouds_yaml_text(
    settings: Settings,
    admin_password: str,
    demo_password: str,
    networks: Sequence[Mapping[str, str | bool]] = (),
) -> str:
    # Floating IPs come from the Networking API (openstacksdk's cloud layer then gives a server on a
    # routed network one in create_server(auto_ip=True), and finds a server's public address there).
    networking = "    floating_ip_source: neutron\n"
    if networks:
        networking += "    networks:\n" + "".join(
            "".join(
                f"      {'-' if index == 0 else ' '} {key}: {json.dumps(value)}\n"
                for index, (key, value) in enumerate(network.items())
            )
            for network in networks
        )

    # JSON strings are valid YAML scalars, which keeps any generated character safe without a YAML library.
    def entry(name: str, user: str, password: str) -> str:
        return (
            f"  {name}:\n"
            "    auth:\n"
            f"      auth_url: {json.dumps(settings.base_url + '/identity')}\n"
            f"      username: {json.dumps(user)}\n"
            f"      password: {json.dumps(password)}\n"
            f"      project_name: {json.dumps(user)}\n"
            f"      user_domain_name: {json.dumps(DEFAULT_DOMAIN_NAME)}\n"
            f"      project_domain_name: {json.dumps(DEFAULT_DOMAIN_NAME)}\n"
            f"    region_name: {json.dumps(settings.region)}\n"
            "    interface: public\n"
            '    identity_api_version: "3"\n' + networking
        )

    return (
        "clouds:\n"
        + entry("overcast-admin", "admin", admin_password)
        + entry("overcast-demo", "demo", demo_password)
    )


def write_clouds_yaml(
    path: Path,
    settings: Settings,
    admin_password: str,
    demo_password: str,
    networks: Sequence[Mapping[str, str | bool]] = (),
) -> None:
    path.parent.mkdir(parents=True, exist_ok=True)
    temporary = path.with_suffix(".tmp")
    fd = os.open(temporary, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600)
    with os.fdopen(fd, "w") as handle:
        handle.write(clouds_yaml_text(settings, admin_password, demo_password, networks))
    os.replace(temporary, path)
