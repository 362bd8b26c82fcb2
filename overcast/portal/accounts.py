"""Customer accounts as the portal sees them: the token's account (its status, plan, projects), the
user's profile, a project's members and invitations, and the operator's suspend/resume.

Suspending stops the account's running servers (never deletes them) and disables its users' logins;
resume re-enables only the users the suspension disabled (one an operator disabled on purpose stays
so). Both are compare-and-swaps on the account's portal status, so two operators cannot interleave."""

from __future__ import annotations

import logging
from collections.abc import Callable
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Any

from sqlalchemy import select, update
from sqlalchemy.orm import Session

from overcast import errors, policy
from overcast.billing import accounts as billing_accounts
from overcast.context import RequestContext
from overcast.db.engine import Database
from overcast.db.models.billing import BillingAccount
from overcast.db.models.compute import Instance
from overcast.db.models.portal import PortalAccount, PortalToken
from overcast.identity.assignments import AssignmentFilter
from overcast.identity.core import DEFAULT_DOMAIN_ID
from overcast.identity.grants import GrantTarget
from overcast.portal import mails, policies, tokens
from overcast.portal.email_changes import EmailChanges
from overcast.portal.limits import AttemptLimits
from overcast.portal.outbox import Outbox
from overcast.portal.provisioning import CloudServices, network_reach
from overcast.portal.settings import PortalSettings
from overcast.portal.signups import INVITATION, address, only, open_token, text_field, use_token

LOG = logging.getLogger(__name__)
ACTIVE, SUSPENDED = "active", "suspended"
STATUSES = (ACTIVE, SUSPENDED)
INVITABLE_ROLES = ("member", "reader")


@dataclass
class Accounts:
    db: Database
    clock: Callable[[], datetime]
    settings: PortalSettings
    dashboard_url: str
    outbox: Outbox
    services: CloudServices
    email_changes: EmailChanges
    limits: AttemptLimits

    # -- reading --------------------------------------------------------------------------------------

    @staticmethod
    def _portal_row(session: Session, account_id: str) -> PortalAccount | None:
        return session.get(PortalAccount, account_id)

    def _view(self, session: Session, account: BillingAccount) -> dict[str, Any]:
        row = self._portal_row(session, account.id)
        return {
            "id": account.id, "name": account.name,
            "status": row.status if row is not None else ACTIVE,
            "plan": row.plan if row is not None else None,
            "email": (row.email if row is not None else None) or account.email,
            "project_ids": [member.project_id for member in billing_accounts.projects(session, account.id)],
            "suspended_at": row.suspended_at.isoformat() if row is not None and row.suspended_at else None,
            "suspend_reason": row.suspend_reason if row is not None else "",
        }  # fmt: skip

    def mine(self, ctxt: RequestContext) -> dict[str, Any]:
        if not ctxt.project_id or not ctxt.user_id:
            raise errors.BadRequest("Use a project-scoped token.")
        policy.enforce(ctxt, policies.ACCOUNT_SHOW, {"project_id": ctxt.project_id})
        with self.db.reader() as session:
            account = billing_accounts.of_project(session, ctxt.project_id)
            if account is None:
                raise errors.NotFound(f"Project {ctxt.project_id} is not billed to any account.")
            view = self._view(session, account)
        identity, network = self.services.identity.api, self.services.network
        user = identity.get_user(ctxt.user_id)
        mine = {project["id"] for project in identity.list_user_projects(ctxt.user_id)}
        projects = [
            {"id": project["id"], "name": project["name"], "network": network_reach(network, project["id"])}
            for project_id in view.pop("project_ids")
            if project_id in mine
            for project in [identity.get_project(project_id)]
        ]
        for hidden in ("suspended_at", "suspend_reason"):
            view.pop(hidden)
        me = {**_user(user), "pending_email": self.email_changes.pending(ctxt.user_id)}
        return {"account": view, "user": me, "projects": projects}

    def list_all(self, ctxt: RequestContext, status: str | None) -> list[dict[str, Any]]:
        policy.enforce(ctxt, policies.ACCOUNTS_READ)
        if status is not None and status not in STATUSES:
            raise errors.BadRequest(f"Invalid status: one of {', '.join(STATUSES)}.")
        with self.db.reader() as session:
            rows = session.scalars(select(BillingAccount).order_by(BillingAccount.name))
            views = [self._view(session, row) for row in rows]
        return [view for view in views if status is None or view["status"] == status]

    def get(self, ctxt: RequestContext, account_id: str) -> dict[str, Any]:
        policy.enforce(ctxt, policies.ACCOUNTS_READ)
        with self.db.reader() as session:
            account = session.get(BillingAccount, account_id)
            if account is None:
                raise errors.NotFound(f"Account {account_id} could not be found.")
            view = self._view(session, account)
        # What each project's servers reach, as its customers see it (GET /portal/v1/account).
        view["networks"] = {
            project_id: network_reach(self.services.network, project_id) for project_id in view["project_ids"]
        }
        return view

    # -- profile --------------------------------------------------------------------------------------

    def update_profile(self, ctxt: RequestContext, body: object) -> dict[str, Any]:
        """`name` renames the billing account of the token's project; `email` asks to change the user's
        address, which changes only when the link mailed to the new one is used (email_changes.py)."""
        if not ctxt.user_id:
            raise errors.BadRequest("Use a token of a user.")
        policy.enforce(ctxt, policies.PROFILE_UPDATE, {"user_id": ctxt.user_id})
        fields = only(body, ("name", "email"))
        if not fields:
            raise errors.BadRequest("Give a name or an email to change.")
        name = text_field(fields, "name") if "name" in fields else None
        email = address(fields["email"]) if "email" in fields else None
        if name is not None:
            self._rename_account(ctxt, name)
        answer: dict[str, Any] = {}
        change = self.email_changes.request(ctxt.user_id, email) if email is not None else None
        if change is not None:
            answer["email_change"] = change
        user = self.services.identity.api.get_user(ctxt.user_id)
        answer["user"] = {**_user(user), "pending_email": self.email_changes.pending(ctxt.user_id)}
        return answer

    def _rename_account(self, ctxt: RequestContext, name: str) -> None:
        if not ctxt.project_id:
            raise errors.BadRequest("Use a project-scoped token to rename its account.")
        policy.enforce(ctxt, policies.ACCOUNT_RENAME, {"project_id": ctxt.project_id})
        with self.db.reader() as session:
            account = billing_accounts.of_project(session, ctxt.project_id)
            if account is None:
                raise errors.NotFound(f"Project {ctxt.project_id} is not billed to any account.")
            taken = session.scalar(
                select(BillingAccount.id).where(BillingAccount.name == name, BillingAccount.id != account.id)
            )
        if taken is not None:
            raise errors.Conflict(f"An account named {name} exists already; choose another name.")
        if name != account.name:
            self.services.billing.update_account(RequestContext.admin(), account.id, {"name": name})

    # -- members and invitations ----------------------------------------------------------------------

    def _member_project(self, ctxt: RequestContext, project_id: str, rule: str) -> None:
        # Outside the project, the same 404 whether or not it exists.
        if not policy.authorize(ctxt, rule, {"project_id": project_id}):
            raise errors.NotFound(f"Project {project_id} could not be found.")

    def members(self, ctxt: RequestContext, project_id: str) -> list[dict[str, Any]]:
        self._member_project(ctxt, project_id, policies.MEMBERS_LIST)
        rows = self.services.identity.assignments.find(
            AssignmentFilter(project_id=project_id, effective=True, include_names=True)
        )
        members: dict[str, dict[str, Any]] = {}
        for row in rows:
            user = row.get("user")
            if not user:
                continue
            entry = members.setdefault(
                user["id"], {"user_id": user["id"], "user_name": user.get("name"), "email": None, "roles": []}
            )
            name = row["role"].get("name")
            if name and name not in entry["roles"]:
                entry["roles"].append(name)
        for entry in members.values():
            entry["email"] = self.services.identity.api.get_user(entry["user_id"]).get("email")
            entry["roles"].sort()
        return sorted(members.values(), key=lambda entry: str(entry["user_name"]))

    def invite(self, ctxt: RequestContext, project_id: str, body: object) -> None:
        self._member_project(ctxt, project_id, policies.INVITATIONS_CREATE)
        fields = only(body, ("email", "role"))
        email = address(fields.get("email"))
        role = fields.get("role", "member")
        if role not in INVITABLE_ROLES:
            raise errors.BadRequest(f"Invalid role: one of {', '.join(INVITABLE_ROLES)}.")
        # Each invitation mails an address of the inviter's choosing: counted per inviter.
        keys = {f"user:{ctxt.user_id or ctxt.project_id}": self.settings.invitations_per_user}
        self.db.write(lambda session: self.limits.take(session, "invitation", keys))
        project = self.services.identity.api.get_project(project_id)
        inviter = self.services.identity.api.get_user(ctxt.user_id) if ctxt.user_id else {}
        now = self.clock()
        token = tokens.new_token()
        ttl = self.settings.invitation_token_ttl
        url = mails.link(self.dashboard_url, "invitation", token)
        mail = mails.invitation(
            email, str(inviter.get("name", "An Overcast user")), project["name"], str(role), url,
            max(1, ttl // 86400),
        )  # fmt: skip

        def write(session: Session) -> str:
            session.add(
                PortalToken(
                    digest=tokens.digest(token), kind=INVITATION, email=email, subject_id=project_id,
                    data={"role": role, "invited_by": ctxt.user_id}, expires_at=now + timedelta(seconds=ttl),
                )
            )  # fmt: skip
            return self.outbox.add(session, mail)

        self.outbox.deliver(self.db.write(write))

    def accept(self, body: object) -> dict[str, Any]:
        fields = only(body, ("token", "name", "password"))
        now = self.clock()

        def claim(session: Session) -> tuple[str, str, str, str]:
            row = open_token(session, fields.get("token"), INVITATION, now)
            use_token(session, row.digest, now)
            return row.digest, row.email, row.subject_id, str(row.data.get("role", "member"))

        digest, email, project_id, role = self.db.write(claim)
        identity = self.services.identity.api
        try:
            existing = identity.list_users(domain_id=DEFAULT_DOMAIN_ID, name=email)
            if existing:
                user_id = str(existing[0]["id"])
            else:
                password = fields.get("password")
                if not isinstance(password, str) or not password:
                    raise errors.BadRequest("A new user needs a password.")
                user = identity.create_user(
                    {"name": email, "domain_id": DEFAULT_DOMAIN_ID, "email": email, "enabled": True,
                     "description": str(fields.get("name") or ""), "default_project_id": project_id},
                    password,
                )  # fmt: skip
                user_id = str(user["id"])
            role_id = identity.list_roles(name=role)[0]["id"]
            identity.grant(GrantTarget("project", project_id), user_id, role_id)
        except BaseException:
            self.db.write(
                lambda session: session.execute(
                    update(PortalToken).where(PortalToken.digest == digest).values(used_at=None)
                )
            )
            raise
        return {"project_id": project_id, "role": role, "user_name": email}

    # -- suspend and resume ---------------------------------------------------------------------------

    def action(self, ctxt: RequestContext, account_id: str, body: object) -> dict[str, Any]:
        policy.enforce(ctxt, policies.ACCOUNTS_MANAGE)
        if not isinstance(body, dict) or len(body) != 1 or next(iter(body)) not in ("suspend", "resume"):
            raise errors.BadRequest('Give one action: {"suspend": {"reason": "..."}} or {"resume": null}.')
        if "suspend" in body:
            details = body["suspend"] or {}
            if not isinstance(details, dict) or set(details) - {"reason"}:
                raise errors.BadRequest('Invalid suspend: {"reason": "..."}.')
            reason = details.get("reason", "")
            if not isinstance(reason, str) or len(reason) > 1000:
                raise errors.BadRequest("Invalid reason: text of at most 1000 characters.")
            self.suspend(account_id, reason)
        else:
            if body["resume"] not in (None, {}):
                raise errors.BadRequest('Invalid resume: {"resume": null}.')
            self.resume(account_id)
        return self.get(ctxt, account_id)

    def _users_and_projects(self, account_id: str) -> tuple[list[str], list[str]]:
        with self.db.reader() as session:
            projects = [member.project_id for member in billing_accounts.projects(session, account_id)]
        users: set[str] = set()
        for project_id in projects:
            for row in self.services.identity.assignments.find(
                AssignmentFilter(project_id=project_id, effective=True)
            ):
                if row.get("user"):
                    users.add(row["user"]["id"])
        return projects, sorted(users)

    def suspend(self, account_id: str, reason: str) -> None:
        now = self.clock()

        def claim(session: Session) -> None:
            if session.get(BillingAccount, account_id) is None:
                raise errors.NotFound(f"Account {account_id} could not be found.")
            row = self._portal_row(session, account_id)
            if row is None:
                session.add(PortalAccount(account_id=account_id, status=ACTIVE))
                session.flush()
            swapped = tokens.rows_changed(
                session,
                update(PortalAccount)
                .where(PortalAccount.account_id == account_id, PortalAccount.status == ACTIVE)
                .values(status=SUSPENDED, suspended_at=now, suspend_reason=reason),
            )
            if not swapped:
                raise errors.Conflict(f"Account {account_id} is suspended already.")

        self.db.write(claim)
        projects, users = self._users_and_projects(account_id)
        identity = self.services.identity.api
        disabled = []
        for user_id in users:
            user = identity.get_user(user_id)
            if user["enabled"] and not self._admin(user_id):
                identity.update_user(user_id, {"enabled": False})
                disabled.append(user_id)
        stopped = self._stop_servers(projects)
        self.db.write(
            lambda session: session.execute(
                update(PortalAccount)
                .where(PortalAccount.account_id == account_id)
                .values(disabled_user_ids=disabled, stopped_server_ids=stopped)
            )
        )
        self._tell(account_id, lambda to, name: mails.suspended(to, name, reason))

    def _admin(self, user_id: str) -> bool:
        # An operator who is also in a customer's project keeps their login.
        rows = self.services.identity.assignments.find(
            AssignmentFilter(user_id=user_id, effective=True, include_names=True)
        )
        return any(row["role"].get("name") == "admin" for row in rows)

    def _stop_servers(self, projects: list[str]) -> list[str]:
        with self.db.reader() as session:
            running = list(
                session.scalars(
                    select(Instance.uuid).where(
                        Instance.project_id.in_(projects),
                        Instance.deleted.is_(False),
                        Instance.vm_state == "active",
                    )
                )
            )
        stopped = []
        for uuid in running:
            try:
                self.services.stop_server(RequestContext.admin(), uuid)
            except errors.OvercastError as exc:
                LOG.warning("Suspending: server %s could not be stopped: %s", uuid, exc.message)
                continue
            stopped.append(uuid)
        return stopped

    def resume(self, account_id: str) -> None:
        def claim(session: Session) -> list[str]:
            row = self._portal_row(session, account_id)
            if row is None:
                raise errors.Conflict(f"Account {account_id} is not suspended.")
            disabled = list(row.disabled_user_ids)
            swapped = tokens.rows_changed(
                session,
                update(PortalAccount)
                .where(PortalAccount.account_id == account_id, PortalAccount.status == SUSPENDED)
                .values(
                    status=ACTIVE,
                    suspended_at=None,
                    suspend_reason="",
                    disabled_user_ids=[],
                    stopped_server_ids=[],
                ),
            )
            if not swapped:
                raise errors.Conflict(f"Account {account_id} is not suspended.")
            return disabled

        for user_id in self.db.write(claim):
            try:
                self.services.identity.api.update_user(user_id, {"enabled": True})
            except errors.NotFound:
                continue  # deleted meanwhile
        self._tell(account_id, mails.resumed)

    def _tell(self, account_id: str, mail: Callable[[str, str], Any]) -> None:
        with self.db.reader() as session:
            account = session.get(BillingAccount, account_id)
            row = self._portal_row(session, account_id)
            to = (row.email if row is not None else None) or (account.email if account else None)
            name = account.name if account else account_id
        if to:
            self.outbox.deliver(self.db.write(lambda session: self.outbox.add(session, mail(to, name))))


def _user(entity: dict[str, Any]) -> dict[str, Any]:
    return {"id": entity["id"], "name": entity["name"], "email": entity.get("email")}
