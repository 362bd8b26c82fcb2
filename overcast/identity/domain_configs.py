"""Domain-specific configuration (/v3/domains/{id}/config): a domain's identity options, stored and
served as Keystone does. They are kept, not acted on: which domain reads LDAP is the service's
settings' choice (`identity/settings.py`), so a domain configured here changes no login.

Options that hold secrets (the LDAP bind password) are accepted and never shown back, as in Keystone.
"""

from __future__ import annotations

from typing import Any

from overcast.db.models.identity import DomainConfig
from overcast.errors import BadRequest, Forbidden, NotFound
from overcast.identity.core import IdentityCore

Config = dict[str, dict[str, Any]]
# The groups a domain may configure and, for `identity`, its options (any `ldap` option is accepted).
GROUPS = ("identity", "ldap")
IDENTITY_OPTIONS = ("driver", "list_limit")
SENSITIVE = {("ldap", "password")}
DEFAULTS: Config = {
    "identity": {"driver": "sql", "list_limit": None},
    "ldap": {"url": "ldap://localhost", "user": None, "suffix": "cn=example,cn=com", "query_scope": "one",
             "user_tree_dn": None, "user_objectclass": "inetOrgPerson", "user_id_attribute": "cn",
             "user_name_attribute": "sn", "group_tree_dn": None, "group_objectclass": "groupOfNames"},
}  # fmt: skip


def check_config(config: Any) -> Config:
    if not isinstance(config, dict) or not config:
        raise BadRequest("Invalid input for field 'config': an object of option groups.")
    for group, options in config.items():
        if group not in GROUPS:
            raise Forbidden(f"Invalid domain specific configuration: group {group} is not supported.")
        if not isinstance(options, dict) or not options:
            raise BadRequest(f"Invalid input for field 'config': group {group} is an object of options.")
        for option in options:
            if group == "identity" and option not in IDENTITY_OPTIONS:
                raise Forbidden(f"Invalid domain specific configuration: option {option} in group {group}.")
    return {group: dict(options) for group, options in config.items()}


def _shown(config: Config) -> Config:
    return {
        group: {option: value for option, value in options.items() if (group, option) not in SENSITIVE}
        for group, options in config.items()
    }


class DomainConfigAPI:
    def __init__(self, core: IdentityCore) -> None:
        self.core = core
        self.db = core.db

    def put(self, domain_id: str, config: Any) -> tuple[Config, bool]:
        """Replace the domain's configuration; True when it had none (Keystone's 201)."""
        checked = check_config(config)
        with self.db.writer() as session:
            self.core.get_domain(session, domain_id)
            row = session.get(DomainConfig, domain_id)
            created = row is None
            if row is None:
                session.add(DomainConfig(domain_id=domain_id, config=checked))
            else:
                row.config = checked
        return _shown(checked), created

    def get(self, domain_id: str, group: str | None = None, option: str | None = None) -> dict[str, Any]:
        with self.db.reader() as session:
            config = _shown(self._config(session, domain_id))
        if group is None:
            return config
        if group not in config:
            raise NotFound(f"Could not find group {group} in the configuration of domain {domain_id}.")
        if option is None:
            return {group: config[group]}
        if option not in config[group]:
            raise NotFound(f"Could not find option {option} in group {group} of domain {domain_id}.")
        return {option: config[group][option]}

    def update(
        self, domain_id: str, config: Any, group: str | None = None, option: str | None = None
    ) -> Config:
        """Merge options into the configuration (PATCH of the whole, of one group or one option)."""
        if option is not None:
            if not isinstance(config, dict) or set(config) != {option}:
                raise BadRequest(f"Invalid input for field 'config': an object naming option {option} only.")
            config = {group: config}
        elif group is not None and (not isinstance(config, dict) or set(config) != {group}):
            raise BadRequest(f"Invalid input for field 'config': an object naming group {group} only.")
        checked = check_config(config)
        with self.db.writer() as session:
            row = session.get(DomainConfig, domain_id)
            if row is None:
                self.core.get_domain(session, domain_id)
                raise NotFound(f"Could not find the configuration of domain {domain_id}.")
            merged = {g: dict(options) for g, options in row.config.items()}
            for g, options in checked.items():
                merged.setdefault(g, {}).update(options)
            row.config = merged
        return _shown(merged)

    def delete(self, domain_id: str, group: str | None = None, option: str | None = None) -> None:
        with self.db.writer() as session:
            row = session.get(DomainConfig, domain_id)
            if row is None:
                self.core.get_domain(session, domain_id)
                raise NotFound(f"Could not find the configuration of domain {domain_id}.")
            if group is None:
                session.delete(row)
                return
            config = {g: dict(options) for g, options in row.config.items()}
            if group not in config or (option is not None and option not in config[group]):
                raise NotFound(
                    f"Could not find {option or group} in the configuration of domain {domain_id}."
                )
            if option is None:
                del config[group]
            else:
                del config[group][option]
                if not config[group]:
                    del config[group]
            row.config = config

    @staticmethod
    def defaults(group: str | None = None, option: str | None = None) -> dict[str, Any]:
        if group is None:
            return DEFAULTS
        if group not in DEFAULTS:
            raise Forbidden(f"Invalid domain specific configuration: group {group} is not supported.")
        if option is None:
            return {group: DEFAULTS[group]}
        if option not in DEFAULTS[group]:
            raise Forbidden(f"Invalid domain specific configuration: option {option} in group {group}.")
        return {option: DEFAULTS[group][option]}

    def _config(self, session: Any, domain_id: str) -> Config:
        row = session.get(DomainConfig, domain_id)
        if row is None:
            self.core.get_domain(session, domain_id)
            raise NotFound(f"Could not find the configuration of domain {domain_id}.")
        return dict(row.config)
