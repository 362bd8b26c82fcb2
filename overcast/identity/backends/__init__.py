"""Where users live: SQL (default, read-write) or LDAP (optional, read-only, one domain)."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime
from typing import Any, Protocol

from sqlalchemy.orm import Session


@dataclass(frozen=True)
class UserRecord:
    id: str
    name: str
    domain_id: str
    enabled: bool = True
    email: str | None = None
    description: str = ""
    default_project_id: str | None = None
    password_expires_at: datetime | None = None


class IdentityBackend(Protocol):
    read_only: bool

    def get_user(self, session: Session, user_id: str) -> UserRecord | None: ...

    def find_user(self, session: Session, domain_id: str, name: str) -> UserRecord | None: ...

    def list_users(self, session: Session, domain_id: str | None, name: str | None) -> list[UserRecord]: ...

    def check_password(self, session: Session, user_id: str, password: str) -> bool: ...

    def create_user(self, session: Session, fields: dict[str, Any], password: str | None) -> UserRecord: ...

    def update_user(self, session: Session, user_id: str, fields: dict[str, Any]) -> UserRecord: ...

    def set_password(self, session: Session, user_id: str, password: str) -> None: ...

    def delete_user(self, session: Session, user_id: str) -> None: ...
