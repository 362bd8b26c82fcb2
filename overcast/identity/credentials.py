"""Application credentials and EC2-style (access, secret) credentials."""

from __future__ import annotations

import secrets
from datetime import datetime
from typing import Any

from sqlalchemy import select

from overcast.context import RequestContext
from overcast.db.models.identity import ApplicationCredential, Ec2Credential
from overcast.errors import BadRequest, Conflict, Forbidden, NotFound, Unauthorized
from overcast.identity.core import IdentityCore
from overcast.identity.entities import isotime


def _app_credential_entity(credential: ApplicationCredential, secret: str | None = None) -> dict[str, Any]:
    entity: dict[str, Any] = {
        "id": credential.id,
        "name": credential.name,
        "description": credential.description,
        "user_id": credential.user_id,
        "project_id": credential.project_id,
        "expires_at": isotime(credential.expires_at),
        "unrestricted": credential.unrestricted,
        "roles": list(credential.roles),
        "access_rules": [],
    }
    if secret is not None:
        entity["secret"] = secret
    return entity


def _ec2_entity(credential: Ec2Credential) -> dict[str, Any]:
    return {
        "user_id": credential.user_id,
        "tenant_id": credential.project_id,
        "access": credential.access,
        "secret": credential.secret,
        "trust_id": None,
    }


class CredentialAPI:
    def __init__(self, core: IdentityCore) -> None:
        self.core = core
        self.db = core.db

    # Application credentials ---------------------------------------------------------------------------
    def create_application_credential(
        self, context: RequestContext, user_id: str, fields: dict[str, Any]
    ) -> dict[str, Any]:
        if context.project_id is None:
            raise Forbidden("Application credentials need a project-scoped token.")
        expires_at: datetime | None = fields.get("expires_at")
        if expires_at is not None and expires_at <= self.core.clock():
            raise BadRequest("expires_at is in the past.")
        secret = fields.get("secret") or secrets.token_urlsafe(32)
        with self.db.writer() as session:
            held = self.core.effective_roles(session, user_id, "project", context.project_id)
            held_by_name = {role.name: role for role in held}
            held_by_id = {role.id: role for role in held}
            wanted = fields.get("roles") or [{"name": name} for name in context.roles]
            chosen = []
            for spec in wanted:
                role = held_by_id.get(spec.get("id", "")) or held_by_name.get(spec.get("name", ""))
                if role is None:
                    raise Forbidden("An application credential cannot hold a role its user does not have.")
                chosen.append({"id": role.id, "name": role.name, "domain_id": None})
            query = select(ApplicationCredential.id).where(
                ApplicationCredential.user_id == user_id, ApplicationCredential.name == fields["name"]
            )
            if session.scalars(query).first():
                raise Conflict(f"Duplicate entry: an application credential named {fields['name']} exists.")
            credential = ApplicationCredential(
                name=fields["name"],
                user_id=user_id,
                project_id=context.project_id,
                secret_hash=self.core.hasher.hash(secret),
                description=fields.get("description") or "",
                expires_at=expires_at,
                unrestricted=bool(fields.get("unrestricted")),
                roles=chosen,
            )
            session.add(credential)
            session.flush()
            return _app_credential_entity(credential, secret)

    def list_application_credentials(self, user_id: str, name: str | None = None) -> list[dict[str, Any]]:
        with self.db.reader() as session:
            query = select(ApplicationCredential).where(ApplicationCredential.user_id == user_id)
            if name is not None:
                query = query.where(ApplicationCredential.name == name)
            return [
                _app_credential_entity(c) for c in session.scalars(query.order_by(ApplicationCredential.name))
            ]

    def get_application_credential(self, user_id: str, credential_id: str) -> dict[str, Any]:
        with self.db.reader() as session:
            credential = session.get(ApplicationCredential, credential_id)
            if credential is None or credential.user_id != user_id:
                raise NotFound(f"Could not find application credential: {credential_id}.")
            return _app_credential_entity(credential)

    def delete_application_credential(self, user_id: str, credential_id: str) -> None:
        with self.db.writer() as session:
            credential = session.get(ApplicationCredential, credential_id)
            if credential is None or credential.user_id != user_id:
                raise NotFound(f"Could not find application credential: {credential_id}.")
            session.delete(credential)
            self.core.revocations.revoke(session, user_id=user_id, project_id=credential.project_id)

    # EC2 credentials ----------------------------------------------------------------------------------
    def create_ec2_credential(self, user_id: str, project_id: str) -> dict[str, Any]:
        with self.db.writer() as session:
            self.core.get_user(session, user_id)
            self.core.get_project(session, project_id)
            if not self.core.effective_roles(session, user_id, "project", project_id):
                raise Forbidden(f"User {user_id} has no role on project {project_id}.")
            credential = Ec2Credential(
                access=secrets.token_hex(16),
                secret=secrets.token_hex(16),
                user_id=user_id,
                project_id=project_id,
            )
            session.add(credential)
            session.flush()
            return _ec2_entity(credential)

    def list_ec2_credentials(self, user_id: str) -> list[dict[str, Any]]:
        with self.db.reader() as session:
            query = (
                select(Ec2Credential).where(Ec2Credential.user_id == user_id).order_by(Ec2Credential.access)
            )
            return [_ec2_entity(c) for c in session.scalars(query)]

    def get_ec2_credential(self, user_id: str, access: str) -> dict[str, Any]:
        with self.db.reader() as session:
            credential = session.get(Ec2Credential, access)
            if credential is None or credential.user_id != user_id:
                raise NotFound(f"Could not find credential: {access}.")
            return _ec2_entity(credential)

    def delete_ec2_credential(self, user_id: str, access: str) -> None:
        with self.db.writer() as session:
            credential = session.get(Ec2Credential, access)
            if credential is None or credential.user_id != user_id:
                raise NotFound(f"Could not find credential: {access}.")
            session.delete(credential)

    def ec2_context(self, access: str, request_id: str | None = None) -> tuple[str, RequestContext]:
        """For the EC2 API: the secret to check a signature with and the context the key acts as."""
        with self.db.reader() as session:
            credential = session.get(Ec2Credential, access)
            if credential is None:
                raise Unauthorized("The AWS access key id you provided does not exist in our records.")
            user = self.core.get_user(session, credential.user_id)
            project = self.core.get_project(session, credential.project_id)
            roles = self.core.effective_roles(session, user.id, "project", project.id)
            if not user.enabled or not project.enabled or not roles:
                raise Unauthorized("The credential is no longer valid.")
            names = tuple(role.name for role in roles)
            extra = {"request_id": request_id} if request_id else {}
            context = RequestContext(
                user_id=user.id,
                project_id=project.id,
                roles=names,
                is_admin="admin" in names,
                domain_id=user.domain_id,
                user_name=user.name,
                project_name=project.name,
                **extra,
            )
            return credential.secret, context
