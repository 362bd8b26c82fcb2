"""What a compute request names, found only if the caller may see it: instances, flavors and images.

One rule each, shared by every compute API module, so boot, rebuild, rescue and resize cannot disagree
about what a project may use. Another project's instance or private flavor is a 404, never Forbidden.
Images are read through the image registry's own visibility rule (owned, public, community, shared
with the project), never from the images table directly.
"""

from __future__ import annotations

from typing import TYPE_CHECKING

from sqlalchemy import select
from sqlalchemy.orm import Session

from overcast import errors, policy
from overcast.context import RequestContext
from overcast.db.models.aggregates import FlavorProject
from overcast.db.models.compute import Flavor, Instance
from overcast.image import registry

if TYPE_CHECKING:
    from overcast.db.models.image import Image


def id_from_ref(ref: str) -> str:
    """The id in a flavorRef or imageRef, which may be a bare id or a URL ending in it."""
    return ref.rstrip("/").rsplit("/", 1)[-1]


def visible_instance(
    session: Session, ctxt: RequestContext, uuid: str, *, include_deleted: bool = False
) -> Instance:
    """The instance if the caller may see it; NotFound otherwise.

    With `include_deleted` (2.21's instance actions) a deleted server is found too: the newest row of
    that uuid.
    """
    stmt = select(Instance).where(Instance.uuid == uuid)
    if not include_deleted:
        stmt = stmt.where(Instance.deleted.is_(False))
    instance = session.scalars(stmt.order_by(Instance.id.desc())).first()
    try:
        if instance is None:
            raise errors.NotFound(uuid)
        policy.ensure_visible(ctxt, instance.project_id, "instance")
    except errors.NotFound:
        raise errors.NotFound(f"Instance {uuid} could not be found.") from None
    return instance


def visible_flavor(session: Session, ctxt: RequestContext, flavorid: str) -> Flavor:
    """The flavor if it is public, the caller is an admin, or it is shared with the caller's project."""
    flavor = session.scalars(select(Flavor).where(Flavor.flavorid == flavorid)).first()
    hidden = flavor is not None and not flavor.is_public and not ctxt.is_admin
    if flavor is None or (hidden and not _shared_with_project(session, flavor, ctxt)):
        raise errors.NotFound(f"Flavor {flavorid} could not be found.")
    return flavor


def _shared_with_project(session: Session, flavor: Flavor, ctxt: RequestContext) -> bool:
    shared = select(FlavorProject.id).where(
        FlavorProject.flavor_id == flavor.id, FlavorProject.project_id == ctxt.project_id
    )
    return session.scalars(shared).first() is not None


def visible_image(session: Session, ctxt: RequestContext, image_ref: str) -> Image:
    """The active image `image_ref` names, if the image service lets the caller see it.

    An image is always named in a request's body, so what cannot be used is Nova's 400, not a 404.
    """
    image_id = id_from_ref(image_ref)
    try:
        image = registry.get_visible(session, ctxt, image_id)
    except errors.NotFound:
        raise errors.BadRequest("Can not find requested image") from None
    if image.status != "active":
        raise errors.BadRequest(f"Image {image_id} is not active.")
    return image
