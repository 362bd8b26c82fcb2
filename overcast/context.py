"""The request context: who is asking, for which project, under which request id.

It travels from the API's auth middleware through every RPC message to the driver's log lines.
"""

from __future__ import annotations

import uuid
from dataclasses import dataclass, field
from typing import Any


def new_request_id() -> str:
    return f"req-{uuid.uuid4()}"


@dataclass(frozen=True)
class RequestContext:
    user_id: str | None = None
    project_id: str | None = None
    roles: tuple[str, ...] = ()
    request_id: str = field(default_factory=new_request_id)
    is_admin: bool = False
    domain_id: str | None = None
    user_name: str | None = None
    project_name: str | None = None
    auth_token: str | None = None
    # "all" for a system-scoped token (Keystone's {"system": {"all": true}}), else None.
    system_scope: str | None = None

    def to_dict(self) -> dict[str, Any]:
        # Every field is a plain value or the roles tuple, so a shallow copy is all of it (asdict's deep
        # walk costs a boot measurably: every RPC message and notification carries a context).
        data = {name: getattr(self, name) for name in self.__dataclass_fields__}
        data["roles"] = list(self.roles)
        # The token is a bearer credential: it never leaves the process over RPC.
        data.pop("auth_token")
        return data

    @classmethod
    def from_dict(cls, data: dict[str, Any]) -> RequestContext:
        known = {name: data[name] for name in cls.__dataclass_fields__ if name in data}
        known["roles"] = tuple(known.get("roles", ()))
        return cls(**known)

    @classmethod
    def admin(cls, request_id: str | None = None) -> RequestContext:
        """The context of the cloud's own services acting on their own behalf."""
        return cls(roles=("admin",), is_admin=True, request_id=request_id or new_request_id())
