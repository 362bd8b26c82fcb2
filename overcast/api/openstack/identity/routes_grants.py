"""Role grants of users and groups: on projects and domains, inherited by the projects below them
(OS-INHERIT), and on the system. The same routes for both actors, as Keystone serves them."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any, Protocol

from fastapi import APIRouter, Depends, Path, Request, Response

from overcast import policy
from overcast.api.deps import get_context
from overcast.api.openstack.identity.common import get_identity, listing, new_router
from overcast.context import RequestContext
from overcast.errors import NotFound
from overcast.identity.grants import GrantTarget
from overcast.identity.service import IdentityService

router = new_router()
Ctx = Depends(get_context)
Identity = Depends(get_identity)

# The actor collections and the name of their id in the path.
ACTORS = (("users", "user_id"), ("groups", "group_id"))


class Grantor(Protocol):
    def grant(self, target: GrantTarget, actor_id: str, role_id: str) -> None: ...
    def check_grant(self, target: GrantTarget, actor_id: str, role_id: str) -> None: ...
    def revoke_grant(self, target: GrantTarget, actor_id: str, role_id: str) -> None: ...
    def list_grants(self, target: GrantTarget, actor_id: str) -> list[dict[str, Any]]: ...


def _grantor(identity: IdentityService, actors: str) -> Grantor:
    return identity.api if actors == "users" else identity.groups


def _scoped_target(target_type: str, target_id: str, *, inherited: bool) -> GrantTarget:
    if target_type not in ("projects", "domains"):
        raise NotFound(f"Unknown grant target {target_type}.")
    return GrantTarget(target_type[:-1], target_id, inherited)


TargetOf = Callable[..., GrantTarget]


def _where(
    identity: IdentityService, target: GrantTarget, actors: str, actor_id: str, role_id: str
) -> dict[str, Any]:
    return identity.policy_targets.grant(target, actors, actor_id, role_id)


def _enforce_manage(
    context: RequestContext,
    identity: IdentityService,
    target: GrantTarget,
    actors: str,
    actor_id: str,
    role_id: str,
) -> None:
    policy.enforce(context, "identity:manage_grant", _where(identity, target, actors, actor_id, role_id))


def _add_routes(prefix: str, suffix: str, actors: str, id_name: str, target_of: TargetOf) -> None:
    """PUT, GET/HEAD and DELETE of one grant at prefix/{actors}/{id}/roles/{role_id}suffix, and the list
    of grants at prefix/{actors}/{id}/roles{suffix}; `target_of`, a dependency, reads the target from the
    path (and so declares its parameters)."""
    grant_path = f"{prefix}/{actors}/{{{id_name}}}/roles/{{role_id}}{suffix}"
    list_path = f"{prefix}/{actors}/{{{id_name}}}/roles{suffix}"
    actor_id_param = Path(alias=id_name)

    def grant_role(
        role_id: str,
        actor_id: str = actor_id_param,
        target: GrantTarget = Depends(target_of),
        context: RequestContext = Ctx,
        identity: IdentityService = Identity,
    ) -> Response:
        _enforce_manage(context, identity, target, actors, actor_id, role_id)
        _grantor(identity, actors).grant(target, actor_id, role_id)
        return Response(status_code=204)

    def check_role(
        role_id: str,
        actor_id: str = actor_id_param,
        target: GrantTarget = Depends(target_of),
        context: RequestContext = Ctx,
        identity: IdentityService = Identity,
    ) -> Response:
        policy.enforce(context, "identity:check_grant", _where(identity, target, actors, actor_id, role_id))
        _grantor(identity, actors).check_grant(target, actor_id, role_id)
        return Response(status_code=204)

    def revoke_role(
        role_id: str,
        actor_id: str = actor_id_param,
        target: GrantTarget = Depends(target_of),
        context: RequestContext = Ctx,
        identity: IdentityService = Identity,
    ) -> Response:
        _enforce_manage(context, identity, target, actors, actor_id, role_id)
        _grantor(identity, actors).revoke_grant(target, actor_id, role_id)
        return Response(status_code=204)

    def list_roles(
        request: Request,
        actor_id: str = actor_id_param,
        target: GrantTarget = Depends(target_of),
        context: RequestContext = Ctx,
        identity: IdentityService = Identity,
    ) -> dict[str, Any]:
        policy.enforce(context, "identity:check_grant", _where(identity, target, actors, actor_id, ""))
        roles = _grantor(identity, actors).list_grants(target, actor_id)
        return listing(request, "roles", "roles", roles)

    kind = f"{actors}_{'inherited' if suffix else prefix.rsplit('/', 1)[-1].strip('{}')}"
    for handler in (grant_role, check_role, revoke_role, list_roles):
        handler.__name__ = f"{handler.__name__}_{kind}"
    add = router.add_api_route
    add(grant_path, grant_role, methods=["PUT"], status_code=204, response_class=Response)
    # One route per method: FastAPI names an operation after its first method, and ids must be unique.
    add(grant_path, check_role, methods=["GET"], status_code=204, response_class=Response)
    add(grant_path, check_role, methods=["HEAD"], status_code=204, response_class=Response)
    add(grant_path, revoke_role, methods=["DELETE"], status_code=204, response_class=Response)
    add(list_path, list_roles, methods=["GET"])


def _system_target() -> GrantTarget:
    return GrantTarget.system()


def _direct_target(target_type: str, target_id: str) -> GrantTarget:
    return _scoped_target(target_type, target_id, inherited=False)


def _inherited_target(target_type: str, target_id: str) -> GrantTarget:
    return _scoped_target(target_type, target_id, inherited=True)


def _build(into: APIRouter) -> None:
    for actors, id_name in ACTORS:
        # The system's routes first: /v3/system/users/{id}/roles would otherwise read as a target type.
        _add_routes("/v3/system", "", actors, id_name, _system_target)
        _add_routes("/v3/OS-INHERIT/{target_type}/{target_id}", "/inherited_to_projects", actors, id_name,
                    _inherited_target)  # fmt: skip
        _add_routes("/v3/{target_type}/{target_id}", "", actors, id_name, _direct_target)


_build(router)
