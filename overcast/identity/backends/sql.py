"""Users in the SQL database, passwords hashed with argon2id."""

from __future__ import annotations

from typing import Any

from sqlalchemy import delete, select
from sqlalchemy.orm import Session

from overcast.db.models.identity import LoginLockout, User
from overcast.errors import Conflict, NotFound
from overcast.identity.backends import UserRecord
from overcast.identity.passwords import PasswordHasher

USER_FIELDS = ("name", "domain_id", "enabled", "email", "description", "default_project_id")


def _record(user: User) -> UserRecord:
    return UserRecord(
        id=user.id,
        name=user.name,
        domain_id=user.domain_id,
        enabled=user.enabled,
        email=user.email,
        description=user.description,
        default_project_id=user.default_project_id,
        password_expires_at=user.password_expires_at,
    )


class SqlIdentityBackend:
    read_only = False

    def __init__(self, hasher: PasswordHasher) -> None:
        self.hasher = hasher

    def get_user(self, session: Session, user_id: str) -> UserRecord | None:
        user = session.get(User, user_id)
        return _record(user) if user else None

    def find_user(self, session: Session, domain_id: str, name: str) -> UserRecord | None:
        user = session.scalars(select(User).where(User.domain_id == domain_id, User.name == name)).first()
        return _record(user) if user else None

    def list_users(self, session: Session, domain_id: str | None, name: str | None) -> list[UserRecord]:
        query = select(User).order_by(User.name, User.id)
        if domain_id is not None:
            query = query.where(User.domain_id == domain_id)
        if name is not None:
            query = query.where(User.name == name)
        return [_record(user) for user in session.scalars(query)]

    def check_password(self, session: Session, user_id: str, password: str) -> bool:
        user = session.get(User, user_id)
        if user is None:
            self.hasher.waste_time(password)
            return False
        return self.hasher.verify(user.password_hash, password)

    def create_user(self, session: Session, fields: dict[str, Any], password: str | None) -> UserRecord:
        if self.find_user(session, fields["domain_id"], fields["name"]) is not None:
            raise Conflict(f"Duplicate entry: a user named {fields['name']} exists in the domain.")
        values = {key: fields[key] for key in USER_FIELDS if fields.get(key) is not None}
        user = User(**values, password_hash=self.hasher.hash(password) if password else None)
        if fields.get("id"):
            user.id = fields["id"]
        session.add(user)
        session.flush()
        return _record(user)

    def _load(self, session: Session, user_id: str) -> User:
        user = session.get(User, user_id)
        if user is None:
            raise NotFound(f"Could not find user: {user_id}.")
        return user

    def update_user(self, session: Session, user_id: str, fields: dict[str, Any]) -> UserRecord:
        user = self._load(session, user_id)
        new_name = fields.get("name")
        if new_name and new_name != user.name and self.find_user(session, user.domain_id, new_name):
            raise Conflict(f"Duplicate entry: a user named {new_name} exists in the domain.")
        for key in USER_FIELDS:
            if key in fields and key != "domain_id":
                setattr(user, key, fields[key])
        session.flush()
        return _record(user)

    def set_password(self, session: Session, user_id: str, password: str) -> None:
        self._load(session, user_id).password_hash = self.hasher.hash(password)

    def delete_user(self, session: Session, user_id: str) -> None:
        session.delete(self._load(session, user_id))
        # The lockout row has no foreign key (LDAP users have one too): it goes with the user here.
        session.execute(delete(LoginLockout).where(LoginLockout.user_id == user_id))
