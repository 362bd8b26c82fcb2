"""Authentication: turn credentials into a token, a token into a request context, and revoke tokens."""

from __future__ import annotations

from dataclasses import replace
from datetime import datetime, timedelta
from typing import Any

from sqlalchemy import select
from sqlalchemy.orm import Session

from overcast.context import RequestContext
from overcast.db.models.identity import ApplicationCredential, Domain, Project, Role
from overcast.errors import BadRequest, NotFound, Unauthorized
from overcast.identity import access_rules
from overcast.identity.backends import UserRecord
from overcast.identity.core import IdentityCore
from overcast.identity.credentials import token_access_rules, token_application_credential
from overcast.identity.tokens import InvalidToken, TokenPayload, new_audit_id

# Never say whether the user, the password or the domain was wrong.
AUTH_FAILED = "The request you have made requires authentication."


def isotime(moment: datetime) -> str:
    return moment.strftime("%Y-%m-%dT%H:%M:%S.%fZ")


class TokenService:
    def __init__(self, core: IdentityCore) -> None:
        self.core = core

    # Issuing ------------------------------------------------------------------------------------------
    def issue(self, auth: dict[str, Any], include_catalog: bool = True) -> tuple[str, dict[str, Any]]:
        """POST /v3/auth/tokens: returns (token id, response body)."""
        identity = auth.get("identity")
        if not isinstance(identity, dict) or not identity.get("methods"):
            raise BadRequest("Expecting to find identity.methods in auth.")
        methods = [str(m) for m in identity["methods"]]
        with self.core.db.reader() as session:
            if "password" in methods:
                user = self._password_user(session, identity.get("password") or {})
                payload = self._scoped(session, user, auth.get("scope"), tuple(methods))
            elif "token" in methods:
                payload = self._rescoped(session, identity.get("token") or {}, auth.get("scope"))
            elif "application_credential" in methods:
                payload = self._from_application_credential(session, identity["application_credential"])
            else:
                raise Unauthorized(f"Unsupported authentication method: {methods[0]}.")
            token = self.core.signer.encode(payload)
            return token, self.render(session, payload, include_catalog)

    def _password_user(self, session: Session, password_auth: dict[str, Any]) -> UserRecord:
        spec = password_auth.get("user")
        if not isinstance(spec, dict) or not isinstance(spec.get("password"), str):
            raise BadRequest("Expecting to find user.password in identity.password.")
        password: str = spec["password"]
        if spec.get("id"):
            throttle_key = f"id:{spec['id']}"
            self.core.throttle.check(throttle_key)
            found = self.core.find_user_by_id(session, str(spec["id"]))
            user, backend = found if found else (None, None)
        else:
            domain = self._domain_of(session, spec.get("domain"))
            name = str(spec.get("name") or "")
            throttle_key = f"name:{domain.id if domain else '?'}:{name}"
            self.core.throttle.check(throttle_key)
            backend = self.core.backend_for_domain(session, domain.id) if domain else None
            user = backend.find_user(session, domain.id, name) if backend and domain else None
        if user is None or backend is None:
            self.core.hasher.waste_time(password)
            self.core.throttle.record_failure(throttle_key)
            raise Unauthorized(AUTH_FAILED)
        if not backend.check_password(session, user.id, password) or not user.enabled:
            self.core.throttle.record_failure(throttle_key)
            raise Unauthorized(AUTH_FAILED)
        domain_row = session.get(Domain, user.domain_id)
        if domain_row is None or not domain_row.enabled:
            raise Unauthorized(AUTH_FAILED)
        self.core.throttle.record_success(throttle_key)
        return user

    def _domain_of(self, session: Session, spec: Any) -> Domain | None:
        if not isinstance(spec, dict):
            return None
        if spec.get("id"):
            return session.get(Domain, str(spec["id"]))
        if spec.get("name"):
            return self.core.domain_by_name(session, str(spec["name"]))
        return None

    def _scope_target(
        self, session: Session, user: UserRecord, scope: Any
    ) -> tuple[Project | None, Domain | None]:
        if scope is None or scope == "unscoped":
            if user.default_project_id:
                project = session.get(Project, user.default_project_id)
                if project is not None and self.core.effective_roles(session, user.id, "project", project.id):
                    return project, None
            return None, None
        if not isinstance(scope, dict):
            raise BadRequest("Invalid scope.")
        if "project" in scope:
            spec = scope["project"] or {}
            if spec.get("id"):
                project = session.get(Project, str(spec["id"]))
            else:
                domain = self._domain_of(session, spec.get("domain"))
                project = None
                if domain is not None:
                    query = select(Project).where(
                        Project.domain_id == domain.id, Project.name == spec.get("name")
                    )
                    project = session.scalars(query).first()
            if project is None:
                raise Unauthorized("Could not find the project to scope to.")
            return project, None
        if "domain" in scope:
            domain = self._domain_of(session, scope["domain"])
            if domain is None:
                raise Unauthorized("Could not find the domain to scope to.")
            return None, domain
        if "system" in scope:
            raise Unauthorized("System-scoped tokens are not supported.")
        raise BadRequest("Invalid scope.")

    def _scoped(
        self,
        session: Session,
        user: UserRecord,
        scope: Any,
        methods: tuple[str, ...],
        expires_at: datetime | None = None,
        audit_ids: tuple[str, ...] = (),
    ) -> TokenPayload:
        project, domain = self._scope_target(session, user, scope)
        roles: list[Role] = []
        if project is not None:
            project_domain = session.get(Domain, project.domain_id)
            if not project.enabled or project_domain is None or not project_domain.enabled:
                raise Unauthorized(f"Project {project.id} is disabled.")
            roles = self.core.effective_roles(session, user.id, "project", project.id)
            if not roles:
                raise Unauthorized(f"User {user.id} has no access to project {project.id}.")
        elif domain is not None:
            if not domain.enabled:
                raise Unauthorized(f"Domain {domain.id} is disabled.")
            roles = self.core.effective_roles(session, user.id, "domain", domain.id)
            if not roles:
                raise Unauthorized(f"User {user.id} has no access to domain {domain.id}.")
        now = self.core.clock()
        return TokenPayload(
            user_id=user.id,
            user_domain_id=user.domain_id,
            methods=methods,
            issued_at=now,
            expires_at=expires_at or now + timedelta(seconds=self.core.config.token_ttl_seconds),
            audit_ids=(new_audit_id(), *audit_ids),
            project_id=project.id if project else None,
            domain_id=domain.id if domain else None,
            roles=tuple(role.name for role in roles),
            user_name=user.name,
            project_name=project.name if project else None,
        )

    def _rescoped(self, session: Session, token_auth: dict[str, Any], scope: Any) -> TokenPayload:
        original = self.verify(str(token_auth.get("id") or ""))
        if original.application_credential_id:
            raise Unauthorized("Tokens from application credentials cannot be rescoped.")
        found = self.core.find_user_by_id(session, original.user_id)
        if found is None or not found[0].enabled:
            raise Unauthorized(AUTH_FAILED)
        # A token made from a token lives no longer than its parent and shares its audit chain.
        return self._scoped(
            session,
            found[0],
            scope,
            ("token", *original.methods),
            original.expires_at,
            original.audit_ids[:1],
        )

    def _from_application_credential(self, session: Session, spec: dict[str, Any]) -> TokenPayload:
        secret = str(spec.get("secret") or "")
        credential: ApplicationCredential | None = None
        if spec.get("id"):
            credential = session.get(ApplicationCredential, str(spec["id"]))
        elif spec.get("name") and isinstance(spec.get("user"), dict):
            user_spec = spec["user"]
            user_id = user_spec.get("id")
            if not user_id:
                domain = self._domain_of(session, user_spec.get("domain"))
                if domain is not None:
                    backend = self.core.backend_for_domain(session, domain.id)
                    user_record = backend.find_user(session, domain.id, str(user_spec.get("name")))
                    user_id = user_record.id if user_record else None
            credential = session.scalars(
                select(ApplicationCredential).where(
                    ApplicationCredential.user_id == user_id, ApplicationCredential.name == spec["name"]
                )
            ).first()
        if credential is None or not self.core.hasher.verify(credential.secret_hash, secret):
            if credential is None:
                self.core.hasher.waste_time(secret)
            raise Unauthorized(AUTH_FAILED)
        now = self.core.clock()
        if credential.expires_at is not None and credential.expires_at <= now:
            raise Unauthorized(AUTH_FAILED)
        found = self.core.find_user_by_id(session, credential.user_id)
        if found is None or not found[0].enabled:
            raise Unauthorized(AUTH_FAILED)
        payload = self._scoped(
            session, found[0], {"project": {"id": credential.project_id}}, ("application_credential",)
        )
        allowed = {role["name"] for role in credential.roles}
        current = set(payload.roles)
        granted = self.core.implied_closure(
            session, [r.id for r in session.scalars(select(Role).where(Role.name.in_(allowed & current)))]
        )
        names = sorted(r.name for r in session.scalars(select(Role).where(Role.id.in_(granted))))
        if not names:
            raise Unauthorized(AUTH_FAILED)
        expires = payload.expires_at
        if credential.expires_at is not None:
            expires = min(expires, credential.expires_at)
        return replace(
            payload,
            roles=tuple(names),
            expires_at=expires,
            application_credential_id=credential.id,
            access_rules=token_access_rules(session, credential.id),
        )

    # Validating ---------------------------------------------------------------------------------------
    def verify(self, token: str) -> TokenPayload:
        """Signature, expiry and revocation; no database round trip unless the revocation list is stale."""
        payload = self.core.signer.decode(token)
        if self.core.revocations.is_revoked(payload):
            raise InvalidToken("The token has been revoked.")
        return payload

    def context(
        self, token: str, request_id: str | None = None, method: str | None = None, path: str | None = None
    ) -> RequestContext:
        """The context a request with this token acts in; `method` and `path` are checked against the
        token's access rules, if it has any (a token with rules and no request to check is refused)."""
        payload = self.verify(token)
        access_rules.enforce(payload.access_rules, method, path)
        extra = {"request_id": request_id} if request_id else {}
        return RequestContext(
            user_id=payload.user_id,
            project_id=payload.project_id,
            roles=payload.roles,
            is_admin="admin" in payload.roles,
            domain_id=payload.domain_id or payload.user_domain_id,
            user_name=payload.user_name,
            project_name=payload.project_name,
            auth_token=token,
            **extra,
        )

    def validate_subject(self, subject_token: str, include_catalog: bool = True) -> dict[str, Any]:
        try:
            payload = self.verify(subject_token)
        except Unauthorized as exc:
            raise NotFound(f"Could not find token: {exc.message}") from exc
        with self.core.db.reader() as session:
            return self.render(session, payload, include_catalog)

    def revoke(self, subject_token: str) -> None:
        try:
            payload = self.verify(subject_token)
        except Unauthorized as exc:
            raise NotFound("Could not find token.") from exc
        with self.core.db.writer() as session:
            self.core.revocations.revoke(session, audit_id=payload.audit_id)

    def subject_owner(self, subject_token: str) -> str | None:
        try:
            return self.core.signer.decode(subject_token).user_id
        except Unauthorized:
            return None

    # Rendering ----------------------------------------------------------------------------------------
    def render(self, session: Session, payload: TokenPayload, include_catalog: bool = True) -> dict[str, Any]:
        user = self.core.get_user(session, payload.user_id)
        user_domain = self.core.get_domain(session, user.domain_id)
        body: dict[str, Any] = {
            "methods": list(payload.methods),
            "user": {
                "id": user.id,
                "name": user.name,
                "domain": {"id": user_domain.id, "name": user_domain.name},
                "password_expires_at": isotime(user.password_expires_at)
                if user.password_expires_at
                else None,
            },
            "audit_ids": list(payload.audit_ids),
            "issued_at": isotime(payload.issued_at),
            "expires_at": isotime(payload.expires_at),
        }
        if payload.project_id:
            project = self.core.get_project(session, payload.project_id)
            project_domain = self.core.get_domain(session, project.domain_id)
            body["project"] = {
                "id": project.id,
                "name": project.name,
                "domain": {"id": project_domain.id, "name": project_domain.name},
            }
            body["is_domain"] = False
        elif payload.domain_id:
            domain = self.core.get_domain(session, payload.domain_id)
            body["domain"] = {"id": domain.id, "name": domain.name}
        if payload.project_id or payload.domain_id:
            roles = session.scalars(select(Role).where(Role.name.in_(payload.roles)).order_by(Role.name))
            body["roles"] = [{"id": role.id, "name": role.name} for role in roles]
            if include_catalog:
                body["catalog"] = self.core.catalog.for_token(session, payload.project_id)
        elif include_catalog:
            body["catalog"] = self.core.catalog.for_token(session, None)
        if payload.application_credential_id:
            body["application_credential"] = token_application_credential(
                session, payload.application_credential_id
            )
        return {"token": body}
