"""Security groups and their rules, and each project's `default` group.

A project's default group exists as soon as the project first lists, shows or uses groups (a port
created without `security_groups` takes it). It is made with Neutron's default rules: every egress, and
ingress from members of the group itself, for IPv4 and IPv6. `default_security_groups` has one row per
project, so two first requests at once make one group: the losing transaction retries and finds it.
"""

from __future__ import annotations

import builtins
import uuid
from collections.abc import Mapping, Sequence
from typing import Any

from sqlalchemy import delete, exists, select
from sqlalchemy.exc import IntegrityError
from sqlalchemy.orm import Session

from overcast.context import RequestContext
from overcast.db.engine import Database
from overcast.db.models.network import (
    DefaultSecurityGroup,
    PortSecurityGroup,
    SecurityGroup,
    SecurityGroupRule,
)
from overcast.network import policies
from overcast.network.api import access, queries, records, rule_checks, tags
from overcast.network.api.agent_notices import AgentNotices
from overcast.network.api.errors import (
    InvalidInput,
    SecurityGroupCannotRemoveDefault,
    SecurityGroupCannotUpdateDefault,
    SecurityGroupDefaultAlreadyExists,
    SecurityGroupInUse,
    SecurityGroupRuleExists,
    SecurityGroupRuleNotFound,
)
from overcast.network.api.networks import bump, check_revision, enforce, flag, owner_project
from overcast.network.api.quotas import NetworkQuotas
from overcast.network.api.records import Record

DEFAULT = "default"
DEFAULT_DESCRIPTION = "Default security group"
# Losing the race for a project's first default group is retried this many times.
DEFAULT_ATTEMPTS = 5
GROUP_ATTRIBUTES: dict[str, queries.Attribute] = {
    "id": queries.Attribute("id"),
    "name": queries.Attribute("name"),
    "description": queries.Attribute("description"),
    "tenant_id": queries.Attribute("project_id"),
    "project_id": queries.Attribute("project_id"),
    "stateful": queries.Attribute("stateful", queries.as_bool),
    "revision_number": queries.Attribute("revision_number", queries.as_int),
    "created_at": queries.Attribute("created_at", queries.as_time),
    "updated_at": queries.Attribute("updated_at", queries.as_time),
}
RULE_ATTRIBUTES: dict[str, queries.Attribute] = {
    "id": queries.Attribute("id"),
    "security_group_id": queries.Attribute("security_group_id"),
    "tenant_id": queries.Attribute("project_id"),
    "project_id": queries.Attribute("project_id"),
    "direction": queries.Attribute("direction"),
    "ethertype": queries.Attribute("ethertype"),
    "protocol": queries.Attribute("protocol"),
    "port_range_min": queries.Attribute("port_range_min", queries.as_int),
    "port_range_max": queries.Attribute("port_range_max", queries.as_int),
    "remote_ip_prefix": queries.Attribute("remote_ip_prefix"),
    "remote_group_id": queries.Attribute("remote_group_id"),
    "description": queries.Attribute("description"),
    "revision_number": queries.Attribute("revision_number", queries.as_int),
    "created_at": queries.Attribute("created_at", queries.as_time),
    "updated_at": queries.Attribute("updated_at", queries.as_time),
}


def _rule_row(group: SecurityGroup, rule: rule_checks.Rule, description: str = "") -> SecurityGroupRule:
    return SecurityGroupRule(
        id=str(uuid.uuid4()),
        security_group_id=group.id,
        project_id=group.project_id,
        direction=rule.direction,
        ethertype=rule.ethertype,
        protocol=rule.protocol,
        port_range_min=rule.port_range_min,
        port_range_max=rule.port_range_max,
        remote_ip_prefix=rule.remote_ip_prefix,
        remote_group_id=rule.remote_group_id,
        description=description,
        revision_number=0,
    )


def _egress_rules(group: SecurityGroup) -> list[SecurityGroupRule]:
    return [
        _rule_row(group, rule_checks.Rule("egress", ethertype, None, None, None, None, None))
        for ethertype in rule_checks.ETHERTYPES
    ]


def _default_rules(group: SecurityGroup) -> list[SecurityGroupRule]:
    from_members = [
        rule_checks.Rule("ingress", ethertype, None, None, None, None, group.id)
        for ethertype in rule_checks.ETHERTYPES
    ]
    return _egress_rules(group) + [_rule_row(group, rule) for rule in from_members]


class SecurityGroups:
    def __init__(self, db: Database, quotas: NetworkQuotas, notices: AgentNotices | None = None) -> None:
        self.notices = notices or AgentNotices()
        self.db = db
        self.quotas = quotas

    # --- the default group ----------------------------------------------------------------------------
    def ensure_default(self, project_id: str | None) -> None:
        if not project_id:
            return
        # Almost always there already: a read costs no write lock (SQLite has one for the whole file).
        with self.db.reader() as session:
            if session.get(DefaultSecurityGroup, project_id) is not None:
                return
        for attempt in range(DEFAULT_ATTEMPTS):
            try:
                self.db.write(lambda session: self.default_in(session, project_id))
                return
            except IntegrityError:
                if attempt == DEFAULT_ATTEMPTS - 1:
                    raise

    def default_in(self, session: Session, project_id: str) -> str:
        """The project's default group's id, made (with its rules) in this transaction if missing."""
        existing = session.get(DefaultSecurityGroup, project_id)
        if existing is not None:
            return existing.security_group_id
        group = SecurityGroup(
            id=str(uuid.uuid4()),
            project_id=project_id,
            name=DEFAULT,
            description=DEFAULT_DESCRIPTION,
            stateful=True,
            revision_number=0,
        )
        session.add(group)
        session.flush()
        rules = _default_rules(group)
        session.add_all(rules)
        session.add(DefaultSecurityGroup(project_id=project_id, security_group_id=group.id))
        self.quotas.consume(session, project_id, {"security_group": 1, "security_group_rule": len(rules)})
        session.flush()
        return group.id

    # --- groups ---------------------------------------------------------------------------------------
    def create(self, ctxt: RequestContext, attrs: Mapping[str, Any]) -> Record:
        project = owner_project(ctxt, attrs)
        enforce(ctxt, policies.CREATE_SECURITY_GROUP, project)
        if attrs.get("name") == DEFAULT:
            raise SecurityGroupDefaultAlreadyExists("Default security group already exists.")
        tag_list = tags.check_tags(attrs.get("tags", []))
        self.ensure_default(project)

        def write(session: Session) -> Record:
            group = SecurityGroup(
                id=str(uuid.uuid4()),
                project_id=project,
                name=attrs.get("name") or "",
                description=attrs.get("description") or "",
                stateful=flag(attrs, "stateful", True),
                revision_number=0,
            )
            session.add(group)
            session.flush()
            rules = _egress_rules(group)
            session.add_all(rules)
            self.quotas.consume(session, project, {"security_group": 1, "security_group_rule": len(rules)})
            tags.replace(session, group.id, tag_list)
            session.flush()
            return records.security_group_records(session, [group])[0]

        return self.db.write(write)

    def get(self, ctxt: RequestContext, group_id: str) -> Record:
        enforce(ctxt, policies.GET_SECURITY_GROUP, ctxt.project_id)
        self.ensure_default(ctxt.project_id)
        with self.db.reader() as session:
            return records.security_group_records(
                session, [access.get_security_group(session, ctxt, group_id)]
            )[0]

    def list(self, ctxt: RequestContext, query: queries.ListQuery) -> list[Record]:
        enforce(ctxt, policies.GET_SECURITY_GROUP, ctxt.project_id)
        self.ensure_default(ctxt.project_id)
        with self.db.reader() as session:
            stmt = select(SecurityGroup).where(access.security_group_visible(ctxt))
            stmt = queries.filtered(stmt, SecurityGroup, GROUP_ATTRIBUTES, query.filters)
            found = queries.page(session, stmt, SecurityGroup, GROUP_ATTRIBUTES, query)
            return records.security_group_records(session, found)

    def update(
        self, ctxt: RequestContext, group_id: str, attrs: Mapping[str, Any], *, revision: int | None = None
    ) -> Record:
        def write(session: Session) -> Record:
            group = access.get_security_group(session, ctxt, group_id, lock=True)
            check_revision(group, revision)
            enforce(ctxt, policies.UPDATE_SECURITY_GROUP, group.project_id)
            is_default = session.scalar(
                select(exists().where(DefaultSecurityGroup.security_group_id == group.id))
            )
            if "name" in attrs and attrs["name"] != group.name and (is_default or attrs["name"] == DEFAULT):
                raise SecurityGroupCannotUpdateDefault("Updating default security group not allowed.")
            stateful = flag(attrs, "stateful", group.stateful)
            if stateful != group.stateful and self._in_use(session, group.id):
                raise SecurityGroupInUse(f"Security Group {group.id} in use: its statefulness cannot change.")
            group.stateful = stateful
            for attribute in ("name", "description"):
                if attribute in attrs:
                    setattr(group, attribute, attrs[attribute] or "")
            bump(group)
            session.flush()
            return records.security_group_records(session, [group])[0]

        return self.db.write(write)

    @staticmethod
    def _in_use(session: Session, group_id: str) -> bool:
        return bool(session.scalar(select(exists().where(PortSecurityGroup.security_group_id == group_id))))

    def delete(self, ctxt: RequestContext, group_id: str, *, revision: int | None = None) -> None:
        def write(session: Session) -> set[str]:
            group = access.get_security_group(session, ctxt, group_id, lock=True)
            check_revision(group, revision)
            enforce(ctxt, policies.DELETE_SECURITY_GROUP, group.project_id)
            default = session.scalars(
                select(DefaultSecurityGroup).where(DefaultSecurityGroup.security_group_id == group.id)
            ).first()
            if default is not None and not ctxt.is_admin:
                raise SecurityGroupCannotRemoveDefault("Removing default security group not allowed.")
            if self._in_use(session, group.id):
                raise SecurityGroupInUse(f"Security Group {group.id} in use.")
            owned = list(
                session.scalars(
                    select(SecurityGroupRule).where(SecurityGroupRule.security_group_id == group.id)
                )
            )
            for rule in owned:
                tags.remove_all(session, rule.id)
                self.quotas.release(session, rule.project_id, {"security_group_rule": 1})
            # Rules of other groups naming this one as their remote go with it (Neutron's cascade).
            referring = select(SecurityGroupRule).where(
                SecurityGroupRule.remote_group_id == group.id, SecurityGroupRule.security_group_id != group.id
            )
            referrers: set[str] = set()
            for rule in session.scalars(referring):
                referrers.add(rule.security_group_id)
                self.quotas.release(session, rule.project_id, {"security_group_rule": 1})
                session.delete(rule)
            session.execute(delete(SecurityGroupRule).where(SecurityGroupRule.security_group_id == group.id))
            if default is not None:
                session.delete(default)
            session.flush()
            tags.remove_all(session, group.id)
            session.delete(group)
            self.quotas.release(session, group.project_id, {"security_group": 1})
            return referrers

        self.notices.groups_changed(ctxt, self.db.write(write))

    # --- rules ----------------------------------------------------------------------------------------
    def create_rule(self, ctxt: RequestContext, attrs: Mapping[str, Any]) -> Record:
        rule = rule_checks.checked(attrs)
        self.ensure_default(ctxt.project_id)

        def write(session: Session) -> Record:
            group = access.get_security_group(session, ctxt, str(attrs.get("security_group_id")), lock=True)
            enforce(ctxt, policies.CREATE_SECURITY_GROUP_RULE, group.project_id)
            checked = rule
            if rule.remote_group_id is not None:
                remote = access.get_security_group(session, ctxt, rule.remote_group_id)
                checked = rule_checks.Rule(**{**rule.__dict__, "remote_group_id": remote.id})
            siblings = session.scalars(
                select(SecurityGroupRule).where(SecurityGroupRule.security_group_id == group.id)
            )
            for sibling in siblings:
                if checked.same_as(records.rule_of(sibling)):
                    raise SecurityGroupRuleExists(
                        f"Security group rule already exists. Rule id is {sibling.id}."
                    )
            row = _rule_row(group, checked, attrs.get("description") or "")
            session.add(row)
            self.quotas.consume(session, group.project_id, {"security_group_rule": 1})
            bump(group)
            session.flush()
            return records.rule_records([row])[0]

        created = self.db.write(write)
        self.notices.groups_changed(ctxt, [created["security_group_id"]])
        return created

    def get_rule(self, ctxt: RequestContext, rule_id: str) -> Record:
        enforce(ctxt, policies.GET_SECURITY_GROUP_RULE, ctxt.project_id)
        with self.db.reader() as session:
            return records.rule_records([self._rule(session, ctxt, rule_id)])[0]

    @staticmethod
    def _rule(session: Session, ctxt: RequestContext, rule_id: str) -> SecurityGroupRule:
        if access.is_uuid(rule_id):
            query = select(SecurityGroupRule).where(
                SecurityGroupRule.id == rule_id.lower(),
                SecurityGroupRule.security_group_id.in_(
                    select(SecurityGroup.id).where(access.security_group_visible(ctxt))
                ),
            )
            found = session.scalars(query).first()
            if found is not None:
                return found
        raise SecurityGroupRuleNotFound(f"Security group rule {rule_id} does not exist")

    def list_rules(self, ctxt: RequestContext, query: queries.ListQuery) -> builtins.list[Record]:
        enforce(ctxt, policies.GET_SECURITY_GROUP_RULE, ctxt.project_id)
        self.ensure_default(ctxt.project_id)
        with self.db.reader() as session:
            visible = select(SecurityGroup.id).where(access.security_group_visible(ctxt))
            stmt = select(SecurityGroupRule).where(SecurityGroupRule.security_group_id.in_(visible))
            stmt = queries.filtered(stmt, SecurityGroupRule, RULE_ATTRIBUTES, query.filters)
            return records.rule_records(
                queries.page(session, stmt, SecurityGroupRule, RULE_ATTRIBUTES, query)
            )

    def delete_rule(self, ctxt: RequestContext, rule_id: str) -> None:
        def write(session: Session) -> str:
            rule = self._rule(session, ctxt, rule_id)
            group = access.get_security_group(session, ctxt, rule.security_group_id, lock=True)
            enforce(ctxt, policies.DELETE_SECURITY_GROUP_RULE, group.project_id)
            session.delete(rule)
            self.quotas.release(session, group.project_id, {"security_group_rule": 1})
            bump(group)
            return group.id

        self.notices.groups_changed(ctxt, [self.db.write(write)])

    # --- ports ----------------------------------------------------------------------------------------
    def bind(
        self,
        session: Session,
        ctxt: RequestContext,
        port_id: str,
        project_id: str,
        group_ids: Sequence[str] | None,
    ) -> None:
        """Give a port its groups: those named (the port's project's own), or the project's default."""
        if group_ids is None:
            wanted = [self.default_in(session, project_id)]
        else:
            if not isinstance(group_ids, list) or not all(isinstance(one, str) for one in group_ids):
                raise InvalidInput(f"Invalid security_groups {group_ids!r}: give a list of group ids.")
            wanted = []
            for group_id in dict.fromkeys(group_ids):
                group = access.get_security_group(session, ctxt, group_id)
                if group.project_id != project_id and not ctxt.is_admin:
                    raise access.security_group_not_found(group_id)
                wanted.append(group.id)
        session.execute(delete(PortSecurityGroup).where(PortSecurityGroup.port_id == port_id))
        session.add_all(PortSecurityGroup(port_id=port_id, security_group_id=group_id) for group_id in wanted)
        session.flush()
