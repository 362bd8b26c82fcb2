"""Authentication: turn credentials into a token, a token into a request context, and revoke tokens."""

from __future__ import annotations

from contextlib import nullcontext
from dataclasses import replace
from datetime import datetime, timedelta
from typing import Any

from sqlalchemy import select
from sqlalchemy.orm import Session

from overcast.context import RequestContext
from overcast.db.models.identity import ApplicationCredential, Domain, Project, Role
from overcast.errors import BadRequest, Forbidden, NotFound, Unauthorized
from overcast.identity import access_rules
from overcast.identity.auth_schema import (
    APPLICATION_CREDENTIAL,
    PASSWORD,
    TOKEN,
    ApplicationCredentialMethod,
    Auth,
    DomainRef,
    Identity,
    PasswordUser,
    ProjectScope,
    Scope,
    parse_auth,
)
from overcast.identity.backends import IdentityBackend, UserRecord
from overcast.identity.core import IdentityCore
from overcast.identity.credentials import (
    granted_role_names,
    token_access_rules,
    token_application_credential,
)
from overcast.identity.endpoint_filter import filter_catalog
from overcast.identity.grants import SYSTEM, SYSTEM_ALL
from overcast.identity.passwords import Reservation
from overcast.identity.tokens import InvalidToken, TokenPayload, new_audit_id
from overcast.identity.trusts import TrustAPI

# Never say whether the user, the password or the domain was wrong.
AUTH_FAILED = "The request you have made requires authentication."


def _domain_key(domain: DomainRef | None) -> str:
    if domain is None:
        return "?"
    return f"id:{domain.id}" if domain.id is not None else f"name:{domain.name}"


def _password_user_key(spec: PasswordUser) -> str:
    return f"id:{spec.id}" if spec.id is not None else f"name:{_domain_key(spec.domain)}:{spec.name}"


def _typed_name(identity: Identity) -> str | None:
    """Whom a login that costs a hash names, as typed (the rate limits' key); None for one that does not."""
    methods = identity.methods
    if PASSWORD in methods and identity.password is not None:
        return _password_user_key(identity.password.user)
    if TOKEN in methods and identity.token is not None:
        return None
    credential = identity.application_credential
    if APPLICATION_CREDENTIAL in methods and credential is not None:
        named = f"id:{credential.id}" if credential.id is not None else f"name:{credential.name}"
        return f"application_credential:{named}"
    return None


def isotime(moment: datetime) -> str:
    return moment.strftime("%Y-%m-%dT%H:%M:%S.%fZ")


class TokenService:
    def __init__(self, core: IdentityCore) -> None:
        self.core = core
        self.trusts = TrustAPI(core)

    # Issuing ------------------------------------------------------------------------------------------
    def admit(self, auth: Auth | dict[str, Any], client_address: str | None = None) -> AdmittedLogin:
        """What a login passes before any lookup or hash, without ever blocking: a valid body, the rate
        limits of its client address and of the name it gives, and a place at the hash gate (429 or 503
        otherwise). The API runs this on its event loop, so a refused login costs no worker thread.

        `auth` is the request's validated `auth` object, or its JSON (validated here: a malformed body is a
        BadRequest, never a lookup with the wrong types).
        """
        request = parse_auth(auth)
        identity = request.identity
        typed = _typed_name(identity)
        if typed is None:
            return AdmittedLogin(self, request, None)
        self.core.login_guard.admit(client_address, typed)
        return AdmittedLogin(self, request, self.core.hasher.gate.reserve())

    def issue(
        self,
        auth: Auth | dict[str, Any],
        include_catalog: bool = True,
        client_address: str | None = None,
    ) -> tuple[str, dict[str, Any]]:
        """POST /v3/auth/tokens: returns (token id, response body)."""
        with self.admit(auth, client_address) as login:
            return login.issue(include_catalog)

    def _issue(self, request: Auth, include_catalog: bool) -> tuple[str, dict[str, Any]]:
        identity = request.identity
        methods = tuple(identity.methods)
        trust = request.scope.trust if isinstance(request.scope, Scope) else None
        if trust is not None:
            payload = self._trust_scoped(identity, methods, trust.id)
        elif PASSWORD in methods and identity.password is not None:
            user = self._password_user(identity.password.user)
            with self.core.db.reader() as session:
                payload = self._scoped(session, user, request.scope, methods)
        elif TOKEN in methods and identity.token is not None:
            with self.core.db.reader() as session:
                payload = self._rescoped(session, identity.token.id, request.scope)
        elif APPLICATION_CREDENTIAL in methods and identity.application_credential is not None:
            payload = self._from_application_credential(identity.application_credential)
        else:
            raise Unauthorized("Attempted to authenticate with an unsupported method.")
        token = self.core.signer.encode(payload)
        with self.core.db.reader() as session:
            return token, self.render(session, payload, include_catalog)

    def _trust_scoped(
        self, identity: Identity, methods: tuple[str, ...], trust_id: str | None
    ) -> TokenPayload:
        """A token from a trust (OS-TRUST), for its trustee, who logs in with a password or a token."""
        expires_at: datetime | None = None
        audit_ids: tuple[str, ...] = ()
        if PASSWORD in methods and identity.password is not None:
            trustee = self._password_user(identity.password.user)
        elif TOKEN in methods and identity.token is not None:
            original = self.verify(identity.token.id)
            if original.trust_id or original.application_credential_id:
                raise Forbidden("A trust-scoped or application credential token cannot be used for a trust.")
            with self.core.db.reader() as session:
                found = self.core.find_user_by_id(session, original.user_id)
            if found is None or not found[0].enabled:
                raise Unauthorized(AUTH_FAILED)
            trustee, expires_at, audit_ids = found[0], original.expires_at, original.audit_ids[:1]
            methods = ("token", *original.methods)
        else:
            raise Unauthorized("Attempted to authenticate with an unsupported method.")
        if not trust_id:
            raise BadRequest("Invalid input for field 'OS-TRUST:trust': 'id' is a required property.")
        redeemed = self.trusts.redeem(trust_id, trustee)
        now = self.core.clock()
        ends = [now + timedelta(seconds=self.core.config.token_ttl_seconds)]
        ends += [end for end in (expires_at, redeemed.expires_at) if end is not None]
        return TokenPayload(
            user_id=redeemed.user.id,
            user_domain_id=redeemed.user.domain_id,
            methods=methods,
            issued_at=now,
            expires_at=min(ends),
            audit_ids=(new_audit_id(), *audit_ids),
            project_id=redeemed.project.id,
            roles=redeemed.role_names,
            user_name=redeemed.user.name,
            project_name=redeemed.project.name,
            trust_id=redeemed.trust_id,
        )

    def _password_user(self, spec: PasswordUser) -> UserRecord:
        """The user whose password this is, at the cost of exactly one hash (none when locked out).

        The lockout is by the user's id, however the client named the user; a name that matches no user
        is locked the same way in memory, so a lockout does not reveal whether the user exists.
        """
        guard = self.core.login_guard
        typed = _password_user_key(spec)
        if spec.password is None:
            # Keystone's answer too: no password matches nothing (and costs no lookup or hash).
            raise Unauthorized(AUTH_FAILED)
        with self.core.db.reader() as session:
            user, backend = self._find_password_user(session, spec)
            lockout = guard.lockouts.state(session, user.id) if user is not None else None
            now = guard.now()
            if user is None or backend is None:
                guard.unknown_names.check(typed)
                self.core.hasher.waste_time(spec.password)
                matched = False
            else:
                guard.lockouts.check(lockout, now)
                matched = backend.check_password(session, user.id, spec.password)
            domain_row = session.get(Domain, user.domain_id) if user is not None else None
        if user is None:
            guard.unknown_names.record_failure(typed)
            raise Unauthorized(AUTH_FAILED)
        if not matched:
            guard.lockouts.record_failure(user.id, now)
            raise Unauthorized(AUTH_FAILED)
        guard.lockouts.clear(user.id, lockout, now)
        if not user.enabled or domain_row is None or not domain_row.enabled:
            raise Unauthorized(AUTH_FAILED)
        return user

    def _find_password_user(
        self, session: Session, spec: PasswordUser
    ) -> tuple[UserRecord | None, IdentityBackend | None]:
        if spec.id is not None:
            found = self.core.find_user_by_id(session, spec.id)
            return found if found else (None, None)
        assert spec.name is not None and spec.domain is not None  # the schema requires both
        domain = self._domain_of(session, spec.domain)
        if domain is None:
            return None, None
        backend = self.core.backend_for_domain(session, domain.id)
        return backend.find_user(session, domain.id, spec.name), backend

    def _domain_of(self, session: Session, spec: DomainRef | None) -> Domain | None:
        if spec is None:
            return None
        if spec.id is not None:
            return session.get(Domain, spec.id)
        if spec.name is not None:
            return self.core.domain_by_name(session, spec.name)
        return None

    def _scope_target(
        self, session: Session, user: UserRecord, scope: Scope | str | None
    ) -> tuple[Project | None, Domain | None]:
        if not isinstance(scope, Scope) or scope.unscoped is not None:
            if user.default_project_id:
                project = session.get(Project, user.default_project_id)
                if project is not None and self.core.effective_roles(session, user.id, "project", project.id):
                    return project, None
            return None, None
        if scope.project is not None:
            project = self._project_of(session, scope.project)
            if project is None:
                raise Unauthorized("Could not find the project to scope to.")
            return project, None
        if scope.domain is not None:
            domain = self._domain_of(session, scope.domain)
            if domain is None:
                raise Unauthorized("Could not find the domain to scope to.")
            return None, domain
        raise Unauthorized("Trust-scoped tokens are not supported.")

    def _project_of(self, session: Session, spec: ProjectScope) -> Project | None:
        if spec.id is not None:
            return session.get(Project, spec.id)
        domain = self._domain_of(session, spec.domain)
        if domain is None:
            return None
        query = select(Project).where(Project.domain_id == domain.id, Project.name == spec.name)
        return session.scalars(query).first()

    def _scoped(
        self,
        session: Session,
        user: UserRecord,
        scope: Scope | str | None,
        methods: tuple[str, ...],
        expires_at: datetime | None = None,
        audit_ids: tuple[str, ...] = (),
    ) -> TokenPayload:
        system = isinstance(scope, Scope) and scope.system is not None
        project, domain = (None, None) if system else self._scope_target(session, user, scope)
        roles: list[Role] = []
        if system:
            assert isinstance(scope, Scope) and scope.system is not None
            if not scope.system.all:
                raise Unauthorized('The only system to scope to is the whole system: {"all": true}.')
            roles = self.core.effective_roles(session, user.id, SYSTEM, SYSTEM_ALL)
            if not roles:
                raise Unauthorized(f"User {user.id} has no access to the system.")
        elif project is not None:
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
            system=system,
            roles=tuple(role.name for role in roles),
            user_name=user.name,
            project_name=project.name if project else None,
        )

    def _rescoped(self, session: Session, token_id: str, scope: Scope | str | None) -> TokenPayload:
        original = self.verify(token_id)
        if original.trust_id:
            raise Forbidden("A trust-scoped token cannot be rescoped.")
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

    def _application_credential(
        self, session: Session, spec: ApplicationCredentialMethod
    ) -> ApplicationCredential | None:
        if spec.id is not None:
            return session.get(ApplicationCredential, spec.id)
        assert spec.user is not None and spec.name is not None  # the schema requires both without an id
        user_id = spec.user.id
        if user_id is None:
            domain = self._domain_of(session, spec.user.domain)
            if domain is None or spec.user.name is None:
                return None
            user_record = self.core.backend_for_domain(session, domain.id).find_user(
                session, domain.id, spec.user.name
            )
            if user_record is None:
                return None
            user_id = user_record.id
        query = select(ApplicationCredential).where(
            ApplicationCredential.user_id == user_id, ApplicationCredential.name == spec.name
        )
        return session.scalars(query).first()

    def _from_application_credential(self, spec: ApplicationCredentialMethod) -> TokenPayload:
        with self.core.db.reader() as session:
            credential = self._application_credential(session, spec)
            # One verification either way (against a dummy hash when there is no such credential).
            matched = self.core.hasher.verify(credential.secret_hash if credential else None, spec.secret)
            if credential is None or not matched:
                raise Unauthorized(AUTH_FAILED)
            return self._application_credential_token(session, credential)

    def _application_credential_token(
        self, session: Session, credential: ApplicationCredential
    ) -> TokenPayload:
        now = self.core.clock()
        if credential.expires_at is not None and credential.expires_at <= now:
            raise Unauthorized(AUTH_FAILED)
        found = self.core.find_user_by_id(session, credential.user_id)
        if found is None or not found[0].enabled:
            raise Unauthorized(AUTH_FAILED)
        scope = Scope(project=ProjectScope(id=credential.project_id))
        payload = self._scoped(session, found[0], scope, ("application_credential",))
        names = granted_role_names(self.core, session, credential)
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
            system_scope="all" if payload.system else None,
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

    def refuse_trust_token(self, token: str | None, what: str) -> None:
        """Keystone's rule: a token from a trust cannot make trusts or application credentials, which
        would outlive the trust and widen what it delegates."""
        if token and self.verify(token).trust_id:
            raise Forbidden(f"Using a trust-scoped token to create {what} is not allowed.")

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
        elif payload.system:
            body["system"] = {"all": True}
        if payload.scope != "unscoped":
            roles = session.scalars(select(Role).where(Role.name.in_(payload.roles)).order_by(Role.name))
            body["roles"] = [{"id": role.id, "name": role.name} for role in roles]
            if include_catalog:
                catalog = self.core.catalog.for_token(session, payload.project_id)
                body["catalog"] = filter_catalog(session, payload.project_id, catalog)
        elif include_catalog:
            body["catalog"] = self.core.catalog.for_token(session)
        if payload.trust_id:
            body["OS-TRUST:trust"] = self.trusts.token_view(payload.trust_id, session)
        if payload.application_credential_id:
            body["application_credential"] = token_application_credential(
                session, payload.application_credential_id
            )
        return {"token": body}


class AdmittedLogin:
    """A login that passed TokenService.admit: holds its place at the hash gate until it has run.

    A context manager so that a login abandoned before it runs (the client went away) gives its place
    back; `issue` may run in another thread than the one that admitted it.
    """

    def __init__(self, tokens: TokenService, request: Auth, reservation: Reservation | None) -> None:
        self.tokens = tokens
        self.request = request
        self.reservation = reservation

    def __enter__(self) -> AdmittedLogin:
        return self

    def __exit__(self, *exc_info: object) -> None:
        if self.reservation is not None:
            self.reservation.release()

    def issue(self, include_catalog: bool = True) -> tuple[str, dict[str, Any]]:
        """Returns (token id, response body)."""
        with self.reservation.held() if self.reservation is not None else nullcontext():
            return self.tokens._issue(self.request, include_catalog)
