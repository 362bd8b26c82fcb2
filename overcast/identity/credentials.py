"""Application credentials (with their access rules) and EC2-style (access, secret) credentials.

Who may make what follows Keystone: a token from an application credential may create or delete
application credentials only if that credential is `unrestricted`; a new credential's roles must be
among the caller token's roles (and still held by the user); a token limited by access rules can only
hand on rules it has itself. An EC2 credential made with an application-credential token is bound to
that credential: it acts with the credential's roles in its project and dies with it. Deleting an
application credential revokes the tokens it issued, and no others.
"""

from __future__ import annotations

import secrets
from collections.abc import Iterable, Sequence
from datetime import datetime
from typing import Any, cast

from sqlalchemy import CursorResult, delete, select, update
from sqlalchemy.exc import IntegrityError
from sqlalchemy.orm import Session

from overcast.context import RequestContext
from overcast.db.models.identity import (
    AccessRule,
    ApplicationCredential,
    ApplicationCredentialAccessRule,
    Ec2Credential,
    Role,
)
from overcast.errors import BadRequest, Conflict, Forbidden, NotFound, Unauthorized
from overcast.identity.access_rules import AccessRuleTriple
from overcast.identity.core import IdentityCore
from overcast.identity.credential_keys import CredentialCipher
from overcast.identity.entities import isotime
from overcast.identity.tokens import TokenPayload

RESTRICTED_MESSAGE = (
    "Using method 'application_credential' is not allowed for managing additional application credentials."
)


def _rule_entity(rule: AccessRule) -> dict[str, Any]:
    return {"id": rule.id, "service": rule.service, "method": rule.method, "path": rule.path}


def _app_credential_entity(
    credential: ApplicationCredential, rules: Sequence[AccessRule], secret: str | None = None
) -> dict[str, Any]:
    entity: dict[str, Any] = {
        "id": credential.id,
        "name": credential.name,
        "description": credential.description,
        "user_id": credential.user_id,
        "project_id": credential.project_id,
        "expires_at": isotime(credential.expires_at),
        "unrestricted": credential.unrestricted,
        "roles": list(credential.roles),
        "access_rules": [_rule_entity(rule) for rule in rules],
    }
    if secret is not None:
        entity["secret"] = secret
    return entity


def _ec2_entity(credential: Ec2Credential, secret: str) -> dict[str, Any]:
    return {
        "user_id": credential.user_id,
        "tenant_id": credential.project_id,
        "access": credential.access,
        "secret": secret,
        "trust_id": None,
    }


def rules_of(session: Session, credential_ids: Iterable[str]) -> dict[str, list[AccessRule]]:
    """The access rules of each credential (an empty list for one without rules)."""
    ids = list(credential_ids)
    held: dict[str, list[AccessRule]] = {credential_id: [] for credential_id in ids}
    if not ids:
        return held
    query = (
        select(ApplicationCredentialAccessRule.application_credential_id, AccessRule)
        .join(AccessRule, AccessRule.id == ApplicationCredentialAccessRule.access_rule_id)
        .where(ApplicationCredentialAccessRule.application_credential_id.in_(ids))
        .order_by(AccessRule.service, AccessRule.path, AccessRule.method)
    )
    for credential_id, rule in session.execute(query):
        held[credential_id].append(rule)
    return held


def token_access_rules(session: Session, credential_id: str) -> tuple[AccessRuleTriple, ...] | None:
    """What a token issued from the credential carries: its rules, or None when it has none."""
    rules = rules_of(session, [credential_id])[credential_id]
    return tuple((r.service, r.method, r.path) for r in rules) or None


def token_application_credential(session: Session, credential_id: str) -> dict[str, Any]:
    """The token body's `application_credential`, as Keystone renders it."""
    credential = session.get(ApplicationCredential, credential_id)
    if credential is None:
        return {"id": credential_id, "restricted": True}
    body: dict[str, Any] = {
        "id": credential.id,
        "name": credential.name,
        "restricted": not credential.unrestricted,
    }
    rules = rules_of(session, [credential.id])[credential.id]
    if rules:
        body["access_rules"] = [_rule_entity(rule) for rule in rules]
    return body


def granted_role_names(core: IdentityCore, session: Session, credential: ApplicationCredential) -> list[str]:
    """The credential's roles that its user still holds on its project, with the roles they imply."""
    current = {
        role.name
        for role in core.effective_roles(session, credential.user_id, "project", credential.project_id)
    }
    allowed = {role["name"] for role in credential.roles} & current
    if not allowed:
        return []
    granted = core.implied_closure(
        session, [r.id for r in session.scalars(select(Role).where(Role.name.in_(allowed)))]
    )
    return sorted(r.name for r in session.scalars(select(Role).where(Role.id.in_(granted))))


class CredentialAPI:
    def __init__(self, core: IdentityCore, cipher: CredentialCipher | None = None) -> None:
        self.core = core
        self.db = core.db
        self.cipher = cipher or CredentialCipher.for_settings(core.settings, core.config.max_active_keys)
        # Rows from before migration 0013 still hold plain-text secrets: the key is only here.
        self.encrypt_plaintext_secrets()

    # Application credentials ---------------------------------------------------------------------------
    def _require_unrestricted(self, session: Session, caller: TokenPayload) -> None:
        if caller.application_credential_id is None:
            return
        used = session.get(ApplicationCredential, caller.application_credential_id)
        if used is None or not used.unrestricted:
            raise Forbidden(RESTRICTED_MESSAGE)

    def create_application_credential(
        self, caller: TokenPayload, user_id: str, fields: dict[str, Any]
    ) -> dict[str, Any]:
        if caller.project_id is None:
            raise Forbidden("Application credentials need a project-scoped token.")
        if caller.user_id != user_id:
            raise Forbidden("Cannot create an application credential for another user.")
        expires_at: datetime | None = fields.get("expires_at")
        if expires_at is not None and expires_at <= self.core.clock():
            raise BadRequest("expires_at is in the past.")
        secret = fields.get("secret") or secrets.token_urlsafe(32)
        # Hashed before the write transaction: the hash is slow by design and must not hold the lock.
        secret_hash = self.core.hasher.hash(secret)
        try:
            return self._insert_application_credential(caller, user_id, fields, secret, secret_hash)
        except IntegrityError:
            # A concurrent request took the same name or stored the same new access rule first.
            raise Conflict(
                f"Duplicate entry: application credential {fields['name']} or one of its "
                "access rules was created at the same time."
            ) from None

    def _insert_application_credential(
        self, caller: TokenPayload, user_id: str, fields: dict[str, Any], secret: str, secret_hash: str
    ) -> dict[str, Any]:
        assert caller.project_id is not None
        with self.db.writer() as session:
            self._require_unrestricted(session, caller)
            roles = self._delegated_roles(session, caller, fields.get("roles"))
            query = select(ApplicationCredential.id).where(
                ApplicationCredential.user_id == user_id, ApplicationCredential.name == fields["name"]
            )
            if session.scalars(query).first():
                raise Conflict(f"Duplicate entry: an application credential named {fields['name']} exists.")
            rules = self._rules_for(session, caller, user_id, fields.get("access_rules"))
            credential = ApplicationCredential(
                name=fields["name"],
                user_id=user_id,
                project_id=caller.project_id,
                secret_hash=secret_hash,
                description=fields.get("description") or "",
                expires_at=fields.get("expires_at"),
                unrestricted=bool(fields.get("unrestricted")),
                roles=roles,
            )
            session.add(credential)
            session.flush()
            for rule in rules:
                session.add(
                    ApplicationCredentialAccessRule(
                        application_credential_id=credential.id, access_rule_id=rule.id
                    )
                )
            session.flush()
            return _app_credential_entity(credential, rules, secret)

    def _delegated_roles(
        self, session: Session, caller: TokenPayload, requested: list[dict[str, Any]] | None
    ) -> list[dict[str, Any]]:
        """The requested roles (the caller's by default): each must be in the caller's token and still
        held by the user; the database alone would let a reader credential mint an admin one."""
        assert caller.project_id is not None
        held = self.core.effective_roles(session, caller.user_id, "project", caller.project_id)
        held_by_name = {role.name: role for role in held}
        held_by_id = {role.id: role for role in held}
        in_token = set(caller.roles)
        wanted = requested or [{"name": name} for name in caller.roles]
        chosen: list[dict[str, Any]] = []
        for spec in wanted:
            role = held_by_id.get(spec.get("id") or "") or held_by_name.get(spec.get("name") or "")
            if role is None or role.name not in in_token:
                raise BadRequest("Cannot create an application credential with unassigned role.")
            if all(role.id != already["id"] for already in chosen):
                chosen.append({"id": role.id, "name": role.name, "domain_id": None})
        return chosen

    def _rules_for(
        self,
        session: Session,
        caller: TokenPayload,
        user_id: str,
        specs: list[dict[str, Any]] | None,
    ) -> list[AccessRule]:
        """The user's stored rules the new credential holds: named by id, an identical one, or new."""
        rules: list[AccessRule] = []
        for spec in specs or []:
            rule = self._rule_for(session, user_id, spec)
            if all(rule.id != already.id for already in rules):
                rules.append(rule)
        if caller.access_rules is not None:
            handed_on = {(rule.service, rule.method, rule.path) for rule in rules}
            if not handed_on or not handed_on <= set(caller.access_rules):
                raise Forbidden("A token limited by access rules can only hand on rules it has itself.")
        return rules

    def _rule_for(self, session: Session, user_id: str, spec: dict[str, Any]) -> AccessRule:
        rule_id = spec.get("id")
        if rule_id:
            existing = session.get(AccessRule, rule_id)
            if existing is not None:
                if existing.user_id != user_id:
                    raise Conflict(f"Access rule id {rule_id} is taken.")
                return existing
        service, method, path = spec.get("service"), spec.get("method"), spec.get("path")
        if not (service and method and path):
            raise BadRequest(
                f"Could not find access rule {rule_id}."
                if rule_id
                else "An access rule needs a service, a method and a path."
            )
        identical = session.scalars(
            select(AccessRule).where(
                AccessRule.user_id == user_id,
                AccessRule.service == service,
                AccessRule.method == method,
                AccessRule.path == path,
            )
        ).first()
        if identical is not None:
            return identical
        rule = AccessRule(user_id=user_id, service=service, method=method, path=path)
        if rule_id:
            rule.id = rule_id
        session.add(rule)
        session.flush()
        return rule

    def list_application_credentials(self, user_id: str, name: str | None = None) -> list[dict[str, Any]]:
        with self.db.reader() as session:
            query = select(ApplicationCredential).where(ApplicationCredential.user_id == user_id)
            if name is not None:
                query = query.where(ApplicationCredential.name == name)
            credentials = list(session.scalars(query.order_by(ApplicationCredential.name)))
            rules = rules_of(session, [c.id for c in credentials])
            return [_app_credential_entity(c, rules[c.id]) for c in credentials]

    def get_application_credential(self, user_id: str, credential_id: str) -> dict[str, Any]:
        with self.db.reader() as session:
            credential = self._owned_credential(session, user_id, credential_id)
            return _app_credential_entity(credential, rules_of(session, [credential.id])[credential.id])

    @staticmethod
    def _owned_credential(session: Session, user_id: str, credential_id: str) -> ApplicationCredential:
        credential = session.get(ApplicationCredential, credential_id)
        if credential is None or credential.user_id != user_id:
            raise NotFound(f"Could not find application credential: {credential_id}.")
        return credential

    def delete_application_credential(self, caller: TokenPayload, user_id: str, credential_id: str) -> None:
        with self.db.writer() as session:
            credential = self._owned_credential(session, user_id, credential_id)
            self._require_unrestricted(session, caller)
            session.execute(
                delete(ApplicationCredentialAccessRule).where(
                    ApplicationCredentialAccessRule.application_credential_id == credential.id
                )
            )
            # EC2 credentials made with it act with its roles: they go with it.
            session.execute(
                delete(Ec2Credential).where(Ec2Credential.application_credential_id == credential.id)
            )
            session.delete(credential)
            # Only the tokens this credential issued: the user's other sessions live on.
            self.core.revocations.revoke(session, user_id=user_id, application_credential_id=credential.id)

    # Access rules --------------------------------------------------------------------------------------
    def list_access_rules(
        self, user_id: str, service: str | None = None, method: str | None = None, path: str | None = None
    ) -> list[dict[str, Any]]:
        with self.db.reader() as session:
            query = select(AccessRule).where(AccessRule.user_id == user_id)
            for column, value in (
                (AccessRule.service, service),
                (AccessRule.method, method),
                (AccessRule.path, path),
            ):
                if value is not None:
                    query = query.where(column == value)
            order = (AccessRule.service, AccessRule.path, AccessRule.method)
            return [_rule_entity(rule) for rule in session.scalars(query.order_by(*order))]

    def get_access_rule(self, user_id: str, rule_id: str) -> dict[str, Any]:
        with self.db.reader() as session:
            return _rule_entity(self._owned_rule(session, user_id, rule_id))

    @staticmethod
    def _owned_rule(session: Session, user_id: str, rule_id: str) -> AccessRule:
        rule = session.get(AccessRule, rule_id)
        if rule is None or rule.user_id != user_id:
            raise NotFound(f"Could not find access rule: {rule_id}.")
        return rule

    def delete_access_rule(self, user_id: str, rule_id: str) -> None:
        with self.db.writer() as session:
            rule = self._owned_rule(session, user_id, rule_id)
            in_use = select(ApplicationCredentialAccessRule.application_credential_id).where(
                ApplicationCredentialAccessRule.access_rule_id == rule.id
            )
            if session.scalars(in_use).first() is not None:
                raise Forbidden("May not delete access rule in use.")
            session.delete(rule)

    # EC2 credentials ----------------------------------------------------------------------------------
    def create_ec2_credential(self, caller: TokenPayload, user_id: str, project_id: str) -> dict[str, Any]:
        secret = secrets.token_hex(16)
        key_id, encrypted = self.cipher.encrypt(secret)
        with self.db.writer() as session:
            self.core.get_user(session, user_id)
            self.core.get_project(session, project_id)
            if not self.core.effective_roles(session, user_id, "project", project_id):
                raise Forbidden(f"User {user_id} has no role on project {project_id}.")
            bound_to = self._binding_of(session, caller, user_id, project_id)
            credential = Ec2Credential(
                access=secrets.token_hex(16),
                encrypted_secret=encrypted,
                key_id=key_id,
                user_id=user_id,
                project_id=project_id,
                application_credential_id=bound_to,
            )
            session.add(credential)
            session.flush()
            return _ec2_entity(credential, secret)

    @staticmethod
    def _binding_of(session: Session, caller: TokenPayload, user_id: str, project_id: str) -> str | None:
        """The application credential a new EC2 credential acts through, if the caller used one."""
        if caller.application_credential_id is None:
            return None
        used = session.get(ApplicationCredential, caller.application_credential_id)
        if used is None:
            raise Unauthorized("The application credential of this token no longer exists.")
        if user_id != used.user_id or project_id != used.project_id:
            raise Forbidden(
                "A token from an application credential can only make EC2 credentials for its "
                "own user and project."
            )
        if rules_of(session, [used.id])[used.id]:
            # The EC2 API could not keep to the rules: such a token cannot hand its power on.
            raise Forbidden("A token limited by access rules cannot make EC2 credentials.")
        return used.id

    def _secret_of(self, credential: Ec2Credential) -> str:
        if credential.key_id is None:
            return credential.encrypted_secret
        return self.cipher.decrypt(credential.key_id, credential.encrypted_secret)

    def list_ec2_credentials(self, user_id: str) -> list[dict[str, Any]]:
        with self.db.reader() as session:
            query = (
                select(Ec2Credential).where(Ec2Credential.user_id == user_id).order_by(Ec2Credential.access)
            )
            return [_ec2_entity(c, self._secret_of(c)) for c in session.scalars(query)]

    def get_ec2_credential(self, user_id: str, access: str) -> dict[str, Any]:
        with self.db.reader() as session:
            credential = session.get(Ec2Credential, access)
            if credential is None or credential.user_id != user_id:
                raise NotFound(f"Could not find credential: {access}.")
            return _ec2_entity(credential, self._secret_of(credential))

    def delete_ec2_credential(self, user_id: str, access: str) -> None:
        with self.db.writer() as session:
            credential = session.get(Ec2Credential, access)
            if credential is None or credential.user_id != user_id:
                raise NotFound(f"Could not find credential: {access}.")
            session.delete(credential)

    def ec2_context(self, access: str, request_id: str | None = None) -> tuple[str, RequestContext]:
        """For the EC2 API: the secret to check a signature with and the context the key acts as."""
        invalid = Unauthorized("The credential is no longer valid.")
        with self.db.reader() as session:
            credential = session.get(Ec2Credential, access)
            if credential is None:
                raise Unauthorized("The AWS access key id you provided does not exist in our records.")
            user = self.core.get_user(session, credential.user_id)
            project = self.core.get_project(session, credential.project_id)
            if credential.application_credential_id is None:
                names = [
                    role.name for role in self.core.effective_roles(session, user.id, "project", project.id)
                ]
            else:
                names = self._bound_role_names(session, credential)
            if not user.enabled or not project.enabled or not names:
                raise invalid
            extra = {"request_id": request_id} if request_id else {}
            context = RequestContext(
                user_id=user.id,
                project_id=project.id,
                roles=tuple(names),
                is_admin="admin" in names,
                domain_id=user.domain_id,
                user_name=user.name,
                project_name=project.name,
                **extra,
            )
            return self._secret_of(credential), context

    def _bound_role_names(self, session: Session, credential: Ec2Credential) -> list[str]:
        assert credential.application_credential_id is not None
        bound = session.get(ApplicationCredential, credential.application_credential_id)
        expired = bound is not None and bound.expires_at is not None and bound.expires_at <= self.core.clock()
        if bound is None or expired or bound.project_id != credential.project_id:
            return []
        return granted_role_names(self.core, session, bound)

    # The credential key ----------------------------------------------------------------------------------
    def encrypt_plaintext_secrets(self) -> int:
        """Encrypt the secrets left in plain text by migration 0013; returns how many this call did."""
        unencrypted = select(Ec2Credential.access, Ec2Credential.encrypted_secret).where(
            Ec2Credential.key_id.is_(None)
        )
        with self.db.reader() as session:
            if session.execute(unencrypted.limit(1)).first() is None:
                return 0
        done = 0
        with self.db.writer() as session:
            for access, secret in session.execute(unencrypted).all():
                key_id, encrypted = self.cipher.encrypt(secret)
                # Another API process starting at the same time may have done this row already.
                changed = session.execute(
                    update(Ec2Credential)
                    .where(Ec2Credential.access == access, Ec2Credential.key_id.is_(None))
                    .values(encrypted_secret=encrypted, key_id=key_id)
                )
                done += cast(CursorResult[Any], changed).rowcount
        return done

    def rotate_credential_key(self) -> str:
        """A new primary credential key, and every secret re-encrypted with it; returns the key id."""
        primary = self.cipher.rotate()
        with self.db.writer() as session:
            stale = session.execute(
                select(Ec2Credential.access, Ec2Credential.key_id, Ec2Credential.encrypted_secret).where(
                    Ec2Credential.key_id.is_not(None), Ec2Credential.key_id != primary
                )
            ).all()
            for access, key_id, encrypted in stale:
                if key_id is None:
                    continue
                new_key_id, re_encrypted = self.cipher.encrypt(self.cipher.decrypt(key_id, encrypted))
                session.execute(
                    update(Ec2Credential)
                    .where(Ec2Credential.access == access, Ec2Credential.key_id == key_id)
                    .values(encrypted_secret=re_encrypted, key_id=new_key_id)
                )
        return primary
