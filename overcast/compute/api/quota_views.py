"""Quotas as the compute API shows them: os-quota-sets, os-quota-class-sets and /limits.

The compute API at 2.1 names some resources the shared QuotaEngine does not count (file injection, fixed
IPs, security group rules). They get Nova's defaults and can be changed like any other limit; nothing
consumes them, so their usage is always 0.

Per-user quotas (``user_id`` on os-quota-sets) are Nova's legacy driver's: a user's limits are their own
where set and the project's elsewhere; their usage is what they hold (user_quotas.py) for the resources
counted per user and the project's for the others.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass

from sqlalchemy import select
from sqlalchemy.orm import Session

from overcast import errors
from overcast.compute.api.user_quotas import USER_COUNTED, user_usage
from overcast.db.engine import Database
from overcast.db.models.identity import Project
from overcast.db.models.quota import QuotaClassLimit
from overcast.quota import DEFAULT_CLASS, QuotaEngine

# Nova's defaults for the resources only the compute API names.
COMPUTE_ONLY_DEFAULTS: dict[str, int] = {
    "fixed_ips": -1,
    "injected_files": 5,
    "injected_file_content_bytes": 10240,
    "injected_file_path_bytes": 255,
    "security_group_rules": 20,
}
# The fields of a quota set at microversion 2.1 (the network and file-injection ones go at 2.36 and 2.57).
QUOTA_SET_RESOURCES = ("cores", "fixed_ips", "floating_ips", "injected_file_content_bytes",
                       "injected_file_path_bytes", "injected_files", "instances", "key_pairs",
                       "metadata_items", "ram", "security_group_rules", "security_groups",
                       "server_group_members", "server_groups")  # fmt: skip
# A quota class set only gained the server group fields at 2.50.
QUOTA_CLASS_RESOURCES = tuple(
    r for r in QUOTA_SET_RESOURCES if r not in ("server_groups", "server_group_members")
)


@dataclass(frozen=True)
class QuotaDetail:
    limit: int
    in_use: int
    reserved: int = 0


class QuotaViewAPI:
    def __init__(self, db: Database, engine: QuotaEngine) -> None:
        self.db = db
        # Same tables as the engine that servers and key pairs consume from, plus the compute-only names.
        self.engine = QuotaEngine({**COMPUTE_ONLY_DEFAULTS, **engine.defaults})

    def check_project(self, project_id: str) -> None:
        """Nova asks Keystone; an unknown project is a bad request, not a missing quota."""
        with self.db.reader() as session:
            if session.get(Project, project_id) is None:
                raise errors.BadRequest(f"Project ID {project_id} is not a valid project.")

    # --- os-quota-sets ------------------------------------------------------------------------------
    def limits(self, project_id: str) -> dict[str, int]:
        with self.db.reader() as session:
            limits = self.engine.get_limits(session, project_id)
        return {name: limits[name] for name in QUOTA_SET_RESOURCES}

    def details(self, project_id: str) -> dict[str, QuotaDetail]:
        with self.db.reader() as session:
            limits = self.engine.get_limits(session, project_id)
            usage = self.engine.get_usage(session, project_id)
        return {name: QuotaDetail(limits[name], usage[name]) for name in QUOTA_SET_RESOURCES}

    # --- os-quota-sets?user_id= ---------------------------------------------------------------------
    def user_limits(self, project_id: str, user_id: str) -> dict[str, int]:
        with self.db.reader() as session:
            limits = self.engine.get_user_limits(session, project_id, user_id)
        return {name: limits[name] for name in QUOTA_SET_RESOURCES}

    def user_details(self, project_id: str, user_id: str) -> dict[str, QuotaDetail]:
        with self.db.reader() as session:
            limits = self.engine.get_user_limits(session, project_id, user_id)
            usage = {**self.engine.get_usage(session, project_id), **user_usage(session, project_id, user_id)}
        return {name: QuotaDetail(limits[name], usage[name]) for name in QUOTA_SET_RESOURCES}

    def update_user(
        self, project_id: str, user_id: str, changes: Mapping[str, int], *, force: bool
    ) -> dict[str, int]:
        """At least what the user holds, at most what the project's limit leaves (BadRequest, as Nova)."""
        self._check_names(changes, QUOTA_SET_RESOURCES)

        def write(session: Session) -> None:
            used = user_usage(session, project_id, user_id)
            self.engine.set_user_limits(
                session, project_id, user_id, changes,
                {name: used[name] for name in USER_COUNTED}, force=force,
            )  # fmt: skip

        self.db.write(write)
        return self.user_limits(project_id, user_id)

    def reset_user(self, project_id: str, user_id: str) -> None:
        self.db.write(lambda session: self.engine.reset_user_limits(session, project_id, user_id))

    def defaults(self) -> dict[str, int]:
        with self.db.reader() as session:
            limits = self.engine.get_defaults(session)
        return {name: limits[name] for name in QUOTA_SET_RESOURCES}

    def update(self, project_id: str, changes: Mapping[str, int], *, force: bool) -> dict[str, int]:
        """Lowering a limit below what the project uses is refused unless forced (BadRequest, as Nova)."""
        self._check_names(changes, QUOTA_SET_RESOURCES)
        self.db.write(lambda session: self.engine.set_limits(session, project_id, changes, force=force))
        return self.limits(project_id)

    def reset(self, project_id: str) -> None:
        self.db.write(lambda session: self.engine.reset_limits(session, project_id))

    # --- os-quota-class-sets ------------------------------------------------------------------------
    def class_limits(self, class_name: str) -> dict[str, int]:
        """The 'default' class is the defaults; another class is the defaults with its own changes."""
        with self.db.reader() as session:
            limits = self.engine.get_defaults(session)
            if class_name != DEFAULT_CLASS:
                for row in session.scalars(
                    select(QuotaClassLimit).where(QuotaClassLimit.class_name == class_name)
                ):
                    if row.resource in limits:
                        limits[row.resource] = row.hard_limit
        return {name: limits[name] for name in QUOTA_SET_RESOURCES}

    def update_class(self, class_name: str, changes: Mapping[str, int]) -> dict[str, int]:
        self._check_names(changes, QUOTA_SET_RESOURCES)
        if class_name == DEFAULT_CLASS:
            self.db.write(lambda session: self.engine.set_defaults(session, changes))
        else:
            self.db.write(lambda session: self._set_class(session, class_name, changes))
        return self.class_limits(class_name)

    @staticmethod
    def _set_class(session: Session, class_name: str, changes: Mapping[str, int]) -> None:
        for resource, value in changes.items():
            row = session.get(QuotaClassLimit, (class_name, resource))
            if row is None:
                session.add(QuotaClassLimit(class_name=class_name, resource=resource, hard_limit=value))
            else:
                row.hard_limit = value

    @staticmethod
    def _check_names(changes: Mapping[str, int], allowed: tuple[str, ...]) -> None:
        unknown = sorted(set(changes) - set(allowed))
        if unknown:
            raise errors.BadRequest(f"Unknown quota resources: {', '.join(unknown)}.")
        for resource, value in changes.items():
            if isinstance(value, bool) or not isinstance(value, int) or value < -1:
                raise errors.BadRequest(f"Quota limit {value!r} for {resource} must be an integer >= -1.")

    # --- /limits ------------------------------------------------------------------------------------
    def absolute_limits(self, project_id: str) -> dict[str, int]:
        """The "absolute" part of GET /limits at 2.1, field for field."""
        details = self.details(project_id)
        limit = {name: detail.limit for name, detail in details.items()}
        used = {name: detail.in_use for name, detail in details.items()}
        return {
            "maxImageMeta": limit["metadata_items"],
            "maxPersonality": limit["injected_files"],
            "maxPersonalitySize": limit["injected_file_content_bytes"],
            "maxSecurityGroupRules": limit["security_group_rules"],
            "maxSecurityGroups": limit["security_groups"],
            "maxServerGroupMembers": limit["server_group_members"],
            "maxServerGroups": limit["server_groups"],
            "maxServerMeta": limit["metadata_items"],
            "maxTotalCores": limit["cores"],
            "maxTotalFloatingIps": limit["floating_ips"],
            "maxTotalInstances": limit["instances"],
            "maxTotalKeypairs": limit["key_pairs"],
            "maxTotalRAMSize": limit["ram"],
            "totalCoresUsed": used["cores"],
            "totalFloatingIpsUsed": used["floating_ips"],
            "totalInstancesUsed": used["instances"],
            "totalRAMUsed": used["ram"],
            "totalSecurityGroupsUsed": used["security_groups"],
            "totalServerGroupsUsed": used["server_groups"],
        }
