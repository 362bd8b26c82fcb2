"""Read-only LDAP users for one domain (ldap3). Passwords are checked by binding as the user's DN.

User ids are the value of the configured id attribute (uid by default); role assignments for them live in
SQL like everyone else's.
"""

from __future__ import annotations

from collections.abc import Callable, Iterator
from contextlib import contextmanager
from typing import Any

import ldap3
from ldap3.core.exceptions import LDAPBindError, LDAPException
from ldap3.utils.conv import escape_filter_chars
from sqlalchemy.orm import Session

from overcast.errors import Forbidden, ServiceUnavailable
from overcast.identity.backends import UserRecord
from overcast.identity.settings import IdentitySettings

READ_ONLY = "The users of this domain come from LDAP and are read-only."


class LdapIdentityBackend:
    read_only = True

    def __init__(self, config: IdentitySettings, domain_id: Callable[[Session], str | None]) -> None:
        self.config = config
        self.domain_id = domain_id
        self.server = ldap3.Server(config.ldap_url, connect_timeout=5)

    @contextmanager
    def _bound(self, user: str | None = None, password: str | None = None) -> Iterator[ldap3.Connection]:
        """A connection bound as `user` (the service's bind DN when None), unbound and closed afterwards:
        ldap3's own `with` leaves a connection bound at creation open, a socket per search or login."""
        bind_dn = user if user is not None else (self.config.ldap_bind_dn or None)
        bind_password = password if user is not None else (self.config.ldap_bind_password or None)
        connection = ldap3.Connection(
            self.server, user=bind_dn, password=bind_password, read_only=True, receive_timeout=10
        )
        try:
            if not connection.bind():
                raise LDAPBindError(connection.result.get("description") or "invalid credentials")
            yield connection
        finally:
            connection.unbind()

    def _search(self, extra_filter: str) -> list[tuple[str, dict[str, Any]]]:
        config = self.config
        search_filter = f"(&(objectClass={config.ldap_user_objectclass}){extra_filter})"
        attributes = [
            config.ldap_user_id_attribute,
            config.ldap_user_name_attribute,
            config.ldap_user_mail_attribute,
        ]
        try:
            with self._bound() as connection:
                connection.search(config.ldap_user_tree_dn, search_filter, attributes=attributes)
                return [(entry.entry_dn, entry.entry_attributes_as_dict) for entry in connection.entries]
        except LDAPException as exc:
            raise ServiceUnavailable(f"The LDAP server is unavailable: {exc}") from exc

    def _record(self, session: Session, attributes: dict[str, Any]) -> UserRecord | None:
        domain_id = self.domain_id(session)
        config = self.config
        ids = attributes.get(config.ldap_user_id_attribute) or []
        names = attributes.get(config.ldap_user_name_attribute) or []
        mails = attributes.get(config.ldap_user_mail_attribute) or []
        if domain_id is None or not ids or not names:
            return None
        return UserRecord(
            id=str(ids[0]), name=str(names[0]), domain_id=domain_id, email=str(mails[0]) if mails else None
        )

    def _find(self, attribute: str, value: str) -> tuple[str, dict[str, Any]] | None:
        found = self._search(f"({attribute}={escape_filter_chars(value)})")
        return found[0] if len(found) == 1 else None

    def get_user(self, session: Session, user_id: str) -> UserRecord | None:
        found = self._find(self.config.ldap_user_id_attribute, user_id)
        return self._record(session, found[1]) if found else None

    def find_user(self, session: Session, domain_id: str, name: str) -> UserRecord | None:
        if domain_id != self.domain_id(session):
            return None
        found = self._find(self.config.ldap_user_name_attribute, name)
        return self._record(session, found[1]) if found else None

    def list_users(self, session: Session, domain_id: str | None, name: str | None) -> list[UserRecord]:
        if domain_id is not None and domain_id != self.domain_id(session):
            return []
        extra = f"({self.config.ldap_user_name_attribute}={escape_filter_chars(name)})" if name else ""
        records = [self._record(session, attributes) for _, attributes in self._search(extra)]
        return sorted((r for r in records if r is not None), key=lambda r: r.name)

    def check_password(self, session: Session, user_id: str, password: str) -> bool:
        # An empty password would be an anonymous bind, which LDAP servers accept: never a login.
        if not password:
            return False
        found = self._find(self.config.ldap_user_id_attribute, user_id)
        if found is None:
            return False
        try:
            with self._bound(found[0], password):
                return True
        except LDAPException:
            return False

    def create_user(self, session: Session, fields: dict[str, Any], password: str | None) -> UserRecord:
        raise Forbidden(READ_ONLY)

    def update_user(self, session: Session, user_id: str, fields: dict[str, Any]) -> UserRecord:
        raise Forbidden(READ_ONLY)

    def set_password(self, session: Session, user_id: str, password: str) -> None:
        raise Forbidden(READ_ONLY)

    def delete_user(self, session: Session, user_id: str) -> None:
        raise Forbidden(READ_ONLY)
