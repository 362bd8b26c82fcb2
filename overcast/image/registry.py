"""The image registry: image rows as the API reads and changes them (visibility, filters, CAS status)."""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from dataclasses import dataclass, field
from datetime import datetime
from typing import Any

from sqlalchemy import ColumnElement, Select, and_, delete, exists, false, or_, select, update
from sqlalchemy.orm import Session

from overcast import errors
from overcast.context import RequestContext
from overcast.db.base import utcnow
from overcast.db.models.image import Image, ImageLocation, ImageMember, ImageTag

# Glance's image states.
QUEUED = "queued"
SAVING = "saving"
UPLOADING = "uploading"
IMPORTING = "importing"
ACTIVE = "active"
DEACTIVATED = "deactivated"
KILLED = "killed"
DELETED = "deleted"
STATUSES = (QUEUED, SAVING, UPLOADING, IMPORTING, ACTIVE, DEACTIVATED, KILLED, DELETED)

VISIBILITIES = ("public", "community", "shared", "private")
MEMBER_STATUSES = ("pending", "accepted", "rejected")


@dataclass(frozen=True)
class ImageRecord:
    """An image as the API shows it: the row plus its tags and the stores holding its data."""

    image: Image
    tags: tuple[str, ...] = ()
    locations: tuple[tuple[str, str], ...] = ()  # (store id, location url)
    member_status: str | None = None

    @property
    def stores(self) -> tuple[str, ...]:
        return tuple(dict.fromkeys(store for store, _ in self.locations))


@dataclass(frozen=True)
class ImageFilters:
    name: str | None = None
    status: str | None = None
    visibility: str | None = None
    owner: str | None = None
    member_status: str = "accepted"
    tags: tuple[str, ...] = ()
    disk_format: str | None = None
    container_format: str | None = None
    size_min: int | None = None
    size_max: int | None = None
    changes_since: datetime | None = None
    protected: bool | None = None
    os_hidden: bool = False
    ids: tuple[str, ...] = ()
    sort: tuple[tuple[str, str], ...] = (("created_at", "desc"),)
    marker: str | None = None
    limit: int = 25
    time_filters: tuple[tuple[str, str, datetime], ...] = field(default_factory=tuple)


def _is_member(ctxt: RequestContext, statuses: Sequence[str] | None = None) -> ColumnElement[bool]:
    condition = and_(ImageMember.image_id == Image.id, ImageMember.member == ctxt.project_id)
    if statuses is not None:
        condition = and_(condition, ImageMember.status.in_(statuses))
    return exists().where(condition)


def can_see(ctxt: RequestContext) -> ColumnElement[bool]:
    """What `ctxt` may show: its own, public and community images, and images shared with it."""
    if ctxt.is_admin:
        return Image.id.is_not(None)
    return or_(
        Image.owner == ctxt.project_id,
        Image.visibility.in_(("public", "community")),
        and_(Image.visibility == "shared", _is_member(ctxt)),
    )


def get_live(session: Session, image_id: str) -> Image:
    image = session.get(Image, image_id)
    if image is None or image.deleted:
        raise errors.NotFound(f"No image found with ID {image_id}")
    return image


def get_any(session: Session, image_id: str) -> Image | None:
    """The row whatever its status, visibility or deletion: the cloud's own record of an image a server
    was built from (a server outlives its image); never for a user's request."""
    return session.get(Image, image_id)


def get_visible(session: Session, ctxt: RequestContext, image_id: str, *, for_update: bool = False) -> Image:
    stmt = select(Image).where(Image.id == image_id, Image.deleted.is_(False), can_see(ctxt))
    if for_update:
        stmt = stmt.with_for_update()
    image = session.scalars(stmt).first()
    if image is None:
        raise errors.NotFound(f"No image found with ID {image_id}")
    return image


def record(session: Session, image: Image, ctxt: RequestContext | None = None) -> ImageRecord:
    return records(session, [image], ctxt)[0]


def records(
    session: Session, images: Sequence[Image], ctxt: RequestContext | None = None
) -> list[ImageRecord]:
    ids = [image.id for image in images]
    tags: dict[str, list[str]] = {image_id: [] for image_id in ids}
    locations: dict[str, list[tuple[str, str]]] = {image_id: [] for image_id in ids}
    if ids:
        for tag in session.scalars(
            select(ImageTag).where(ImageTag.image_id.in_(ids)).order_by(ImageTag.value)
        ):
            tags[tag.image_id].append(tag.value)
        query = select(ImageLocation).where(ImageLocation.image_id.in_(ids)).order_by(ImageLocation.id)
        for location in session.scalars(query):
            locations[location.image_id].append((location.store, location.url))
    return [ImageRecord(image, tuple(tags[image.id]), tuple(locations[image.id])) for image in images]


def filtered(ctxt: RequestContext, filters: ImageFilters) -> Select[Any]:
    stmt = select(Image).where(Image.deleted.is_(False))
    if filters.visibility is not None:
        stmt = stmt.where(Image.visibility == filters.visibility)
    if ctxt.is_admin or filters.visibility == "community":
        pass
    elif filters.visibility == "shared":
        stmt = stmt.where(or_(Image.owner == ctxt.project_id, _member_filter(ctxt, filters)))
    else:
        # Glance's default list: own, public, and shared images this project accepted (not community).
        stmt = stmt.where(
            or_(
                Image.owner == ctxt.project_id,
                Image.visibility == "public",
                and_(Image.visibility == "shared", _member_filter(ctxt, filters)),
            )
        )
    if filters.name is not None:
        stmt = stmt.where(Image.name == filters.name)
    if filters.status is not None:
        stmt = stmt.where(Image.status == filters.status)
    if filters.owner is not None:
        stmt = stmt.where(Image.owner == filters.owner)
    if filters.disk_format is not None:
        stmt = stmt.where(Image.disk_format == filters.disk_format)
    if filters.container_format is not None:
        stmt = stmt.where(Image.container_format == filters.container_format)
    if filters.size_min is not None:
        stmt = stmt.where(Image.size >= filters.size_min)
    if filters.size_max is not None:
        stmt = stmt.where(Image.size <= filters.size_max)
    if filters.changes_since is not None:
        stmt = stmt.where(Image.updated_at >= filters.changes_since)
    if filters.protected is not None:
        stmt = stmt.where(Image.protected.is_(filters.protected))
    if not filters.os_hidden:
        stmt = stmt.where(Image.os_hidden.is_(False))
    if filters.ids:
        stmt = stmt.where(Image.id.in_(filters.ids))
    for tag in filters.tags:
        stmt = stmt.where(exists().where(ImageTag.image_id == Image.id, ImageTag.value == tag))
    for column, operator, moment in filters.time_filters:
        stmt = stmt.where(_compare(getattr(Image, column), operator, moment))
    return stmt


def _member_filter(ctxt: RequestContext, filters: ImageFilters) -> ColumnElement[bool]:
    if filters.member_status == "all":
        return _is_member(ctxt)
    return _is_member(ctxt, (filters.member_status,))


def _compare(column: Any, operator: str, moment: datetime) -> ColumnElement[bool]:
    comparisons: dict[str, ColumnElement[bool]] = {
        "gt": column > moment, "gte": column >= moment, "lt": column < moment,
        "lte": column <= moment, "eq": column == moment, "neq": column != moment,
    }  # fmt: skip
    return comparisons.get(operator, false())


def compare_and_set_status(
    session: Session, image_id: str, expected: Iterable[str], new_status: str, **values: Any
) -> bool:
    """Move the image to `new_status` only if it is still in one of `expected`; False if it was not."""
    result = session.execute(
        update(Image)
        .where(Image.id == image_id, Image.status.in_(tuple(expected)), Image.deleted.is_(False))
        .values(status=new_status, updated_at=utcnow(), **values)
        .execution_options(synchronize_session=False)
    )
    return bool(result.rowcount)  # type: ignore[attr-defined]


def add_queued(
    session: Session,
    *,
    name: str,
    owner: str | None,
    min_disk: int,
    min_ram: int = 0,
    properties: dict[str, Any],
    os_hidden: bool = False,
) -> Image:
    """A private image waiting for its data, added in the caller's transaction: a server's snapshot, or
    a cold move's transfer image (whose quota, if any, the caller counts)."""
    image = Image(
        name=name, status=QUEUED, visibility="private", os_hidden=os_hidden, owner=owner, min_disk=min_disk,
        min_ram=min_ram, properties=properties,
    )  # fmt: skip
    session.add(image)
    session.flush()
    return image


def describe_queued(session: Session, image_id: str, disk_format: str, container_format: str) -> None:
    """Name the formats of an image still waiting for its data; an image that moved on keeps its own."""
    image = session.get(Image, image_id)
    if image is not None and image.status == QUEUED:
        image.disk_format, image.container_format = disk_format, container_format


def set_tags(session: Session, image_id: str, tags: Iterable[str]) -> None:
    session.execute(delete(ImageTag).where(ImageTag.image_id == image_id))
    for value in dict.fromkeys(tags):
        session.add(ImageTag(image_id=image_id, value=value))
    session.flush()


def add_location(session: Session, image_id: str, store: str, url: str) -> None:
    session.add(ImageLocation(image_id=image_id, store=store, url=url))
    session.flush()


def location_rows(session: Session, image_id: str) -> list[ImageLocation]:
    query = select(ImageLocation).where(ImageLocation.image_id == image_id).order_by(ImageLocation.id)
    return list(session.scalars(query))


def drop_locations(session: Session, image_id: str) -> list[tuple[str, str]]:
    rows = location_rows(session, image_id)
    session.execute(delete(ImageLocation).where(ImageLocation.image_id == image_id))
    return [(row.store, row.url) for row in rows]


def boot_properties(session: Session, image_id: str) -> dict[str, Any]:
    """What a compute host needs to know about the image it boots (ImageRef.properties).

    The image's own properties (hw_architecture, hw_disk_bus, os_distro, ...) plus the core attributes
    the driver and its cache use; {} when the image is gone (a server outlives its image).
    """
    image = get_any(session, image_id)
    if image is None:
        return {}
    core = {
        "name": image.name, "disk_format": image.disk_format, "container_format": image.container_format,
        "min_ram": image.min_ram, "min_disk": image.min_disk, "size": image.size,
        "virtual_size": image.virtual_size, "checksum": image.checksum, "os_hash_algo": image.os_hash_algo,
        "os_hash_value": image.os_hash_value,
    }  # fmt: skip
    return {**image.properties, **core}
