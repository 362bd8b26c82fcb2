"""Images: the logic behind /image/v2 (registry metadata, visibility, tags) and what compute calls.

Data (upload, download, staging, import) lives in data.py and sharing in members.py; `ImageAPI` bundles
them. The API's composition root (`api/assembly.py`) builds one with the configured `ImageSettings` and
hands it to the image router and to the compute side.
"""

from __future__ import annotations

import logging
import uuid
from collections.abc import Iterable
from pathlib import Path
from typing import Any, BinaryIO

from sqlalchemy import select
from sqlalchemy.orm import Session

from overcast import errors, policy
from overcast.cloud import Cloud
from overcast.context import RequestContext
from overcast.db.base import utcnow
from overcast.db.models.image import Image, ImageTag
from overcast.db.pagination import paginate
from overcast.image import notifications as image_notifications
from overcast.image import policies, registry
from overcast.image.data import SIZE_QUOTA, ImageData, image_quotas, size_in_mib
from overcast.image.members import MemberAPI
from overcast.image.metadefs import MetadefAPI
from overcast.image.patch import ImageChanges, apply
from overcast.image.registry import ImageFilters, ImageRecord
from overcast.image.settings import ImageSettings
from overcast.image.stores import CHUNK_SIZE, FilesystemStore, Store
from overcast.image.tasks import TaskAPI
from overcast.quota import QuotaEngine

LOG = logging.getLogger(__name__)

# Glance's api_limit_max and image_tag_quota.
MAX_LIMIT = 1000
MAX_TAGS = 128
SORT_KEYS = ("name", "status", "container_format", "disk_format", "size", "id", "created_at", "updated_at",
             "visibility", "owner", "min_disk", "min_ram", "virtual_size")  # fmt: skip


def owner_target(image: Image) -> dict[str, Any]:
    return {"project_id": image.owner}


class ImageAPI:
    def __init__(
        self,
        cloud: Cloud,
        settings: ImageSettings | None = None,
        stores: dict[str, Store] | None = None,
        quotas: QuotaEngine | None = None,
    ) -> None:
        self.cloud = cloud
        self.db = cloud.db
        self.settings = settings or ImageSettings()
        self.quotas = quotas or image_quotas(self.settings)
        self.data = ImageData(cloud, self.settings, self.quotas, stores=stores)
        self.members = MemberAPI(self.db)
        self.metadefs = MetadefAPI(self.db)
        self.tasks = TaskAPI(self.db)

    @property
    def stores(self) -> dict[str, Store]:
        return self.data.stores

    @property
    def staging(self) -> FilesystemStore:
        return self.data.staging

    @property
    def default_store(self) -> str:
        return self.data.default_store

    # --- read -------------------------------------------------------------------------------------
    def get(self, ctxt: RequestContext, image_id: str) -> ImageRecord:
        """The image `ctxt` may see, with its tags and stores; NotFound otherwise."""
        policy.enforce(ctxt, policies.GET_IMAGE)
        with self.db.reader() as session:
            return registry.record(session, registry.get_visible(session, ctxt, image_id))

    def list(self, ctxt: RequestContext, filters: ImageFilters) -> list[ImageRecord]:
        policy.enforce(ctxt, policies.GET_IMAGES)
        for key, direction in filters.sort:
            if key not in SORT_KEYS:
                raise errors.BadRequest(f"Invalid sort key: {key}. Valid keys: {', '.join(SORT_KEYS)}.")
            if direction not in ("asc", "desc"):
                raise errors.BadRequest(f"Invalid sort direction: {direction}")
        if not filters.limit >= 0:
            raise errors.BadRequest("limit param must be positive")
        limit = min(filters.limit, MAX_LIMIT)
        with self.db.reader() as session:
            stmt = paginate(
                registry.filtered(ctxt, filters), Image, sort_keys=list(filters.sort), marker=filters.marker,
                limit=limit, marker_column="id", session=session,
            )  # fmt: skip
            images = list(session.scalars(stmt))
            return registry.records(session, images)

    # --- create -----------------------------------------------------------------------------------
    def create(self, ctxt: RequestContext, changes: ImageChanges, image_id: str | None = None) -> ImageRecord:
        owner = changes.core.pop("owner", ctxt.project_id)
        if owner != ctxt.project_id:
            policy.enforce(ctxt, policies.SET_OWNER)
        policy.enforce(ctxt, policies.ADD_IMAGE, {"project_id": owner})
        visibility = changes.core.get("visibility", "shared")
        self._check_visibility(ctxt, visibility)
        if image_id is not None:
            try:
                image_id = str(uuid.UUID(image_id))
            except (ValueError, AttributeError):
                raise errors.BadRequest(f"Invalid image id {image_id!r}: must be a UUID.") from None
        tags = changes.tags or []
        if len(tags) > MAX_TAGS:
            raise errors.RequestTooLarge(f"Attempted: {len(tags)}, Maximum: {MAX_TAGS} tags.")

        def write(session: Session) -> ImageRecord:
            if image_id is not None and session.get(Image, image_id) is not None:
                raise errors.Conflict(f"Image with identifier {image_id} already exists!")
            if owner is not None:
                self.quotas.consume(session, owner, {"images": 1})
            image = Image(
                id=image_id or str(uuid.uuid4()), status=registry.QUEUED, owner=owner, visibility=visibility,
                properties=dict(changes.properties),
                **{name: value for name, value in changes.core.items() if name != "visibility"},
            )  # fmt: skip
            session.add(image)
            session.flush()
            registry.set_tags(session, image.id, tags)
            return registry.record(session, image)

        return self.db.write(write)

    @staticmethod
    def _check_visibility(ctxt: RequestContext, visibility: str) -> None:
        if visibility == "public":
            policy.enforce(ctxt, policies.PUBLICIZE_IMAGE, error=_publicize_error)
        elif visibility == "community":
            policy.enforce(ctxt, policies.COMMUNITIZE_IMAGE, {"project_id": ctxt.project_id})

    # --- update -----------------------------------------------------------------------------------
    def update(self, ctxt: RequestContext, image_id: str, operations: Any) -> ImageRecord:
        def write(session: Session) -> ImageRecord:
            image = registry.get_visible(session, ctxt, image_id, for_update=True)
            policy.enforce(ctxt, policies.MODIFY_IMAGE, owner_target(image))
            current = registry.record(session, image)
            core_now = {name: getattr(image, name) for name in
                        ("name", "visibility", "protected", "os_hidden", "disk_format", "container_format",
                         "min_ram", "min_disk", "owner")}  # fmt: skip
            changes = apply(operations, core_now, dict(image.properties), list(current.tags))
            if "visibility" in changes.core:
                self._check_visibility(ctxt, changes.core["visibility"])
            if "owner" in changes.core:
                policy.enforce(ctxt, policies.SET_OWNER)
            for name in ("disk_format", "container_format"):
                if name in changes.core and current.locations:
                    raise errors.Forbidden(f"Attribute {name} can be only replaced for a queued image.")
            if changes.tags is not None and len(changes.tags) > MAX_TAGS:
                raise errors.RequestTooLarge(f"Attempted: {len(changes.tags)}, Maximum: {MAX_TAGS} tags.")
            for name, value in changes.core.items():
                setattr(image, name, value)
            image.properties = changes.properties
            image.updated_at = utcnow()
            if changes.tags is not None and list(changes.tags) != list(current.tags):
                registry.set_tags(session, image.id, changes.tags)
            session.flush()
            return registry.record(session, image)

        return self.db.write(write)

    # --- delete -----------------------------------------------------------------------------------
    def delete(self, ctxt: RequestContext, image_id: str) -> None:
        def write(session: Session) -> tuple[list[tuple[str, str]], dict[str, Any]]:
            image = registry.get_visible(session, ctxt, image_id, for_update=True)
            policy.enforce(ctxt, policies.DELETE_IMAGE, owner_target(image))
            if image.protected:
                raise errors.Forbidden(f"Image {image_id} is protected and cannot be deleted.")
            locations = registry.drop_locations(session, image_id)
            if image.owner is not None:
                released = {"images": 1, SIZE_QUOTA: size_in_mib(image.size) if locations else 0}
                self.quotas.release(session, image.owner, released)
            image.status = registry.DELETED
            image.deleted = True
            image.deleted_at = utcnow()
            session.flush()
            return locations, image_notifications.image_payload(image)

        locations, deleted = self.db.write(write)
        self.data.notifier.info(ctxt, "image.delete", deleted)
        self.discard_data(image_id, locations)

    def discard_data(self, image_id: str, locations: Iterable[tuple[str, str]]) -> None:
        """Remove an image's data (after the registry stopped pointing at it); failures are only logged."""
        for store_id, url in [*locations, ("staging", f"file://{self.staging.directory / image_id}")]:
            store = self.staging if store_id == "staging" else self.stores.get(store_id)
            if store is None:
                LOG.error("Image %s has data in store %s, which is not enabled here", image_id, store_id)
                continue
            try:
                store.delete(url)
            except errors.OvercastError:
                LOG.exception("Could not delete the data of image %s from %s", image_id, store_id)
        # An upload still running, or one whose API died, has written data no location names yet.
        self.data.discard_partials(image_id)

    # --- deactivate / reactivate ------------------------------------------------------------------
    def deactivate(self, ctxt: RequestContext, image_id: str) -> None:
        self._toggle(ctxt, image_id, policies.DEACTIVATE, registry.ACTIVE, registry.DEACTIVATED)

    def reactivate(self, ctxt: RequestContext, image_id: str) -> None:
        self._toggle(ctxt, image_id, policies.REACTIVATE, registry.DEACTIVATED, registry.ACTIVE)

    def _toggle(self, ctxt: RequestContext, image_id: str, rule: str, source: str, target: str) -> None:
        def write(session: Session) -> None:
            image = registry.get_visible(session, ctxt, image_id, for_update=True)
            policy.enforce(ctxt, rule, owner_target(image))
            if image.status == target:
                return
            if not registry.compare_and_set_status(session, image_id, (source,), target):
                verb = "deactivate" if target == registry.DEACTIVATED else "reactivate"
                raise errors.Forbidden(f"Not allowed to {verb} image in status '{image.status}'")

        self.db.write(write)

    # --- tags -------------------------------------------------------------------------------------
    def add_tag(self, ctxt: RequestContext, image_id: str, tag: str) -> None:
        if not 0 < len(tag) <= 255:
            raise errors.BadRequest("Tags must be 1-255 characters.")

        def write(session: Session) -> None:
            image = registry.get_visible(session, ctxt, image_id, for_update=True)
            policy.enforce(ctxt, policies.MODIFY_IMAGE, owner_target(image))
            tags = list(session.scalars(select(ImageTag.value).where(ImageTag.image_id == image_id)))
            if tag in tags:
                return
            if len(tags) >= MAX_TAGS:
                raise errors.RequestTooLarge(f"Attempted: {len(tags) + 1}, Maximum: {MAX_TAGS} tags.")
            session.add(ImageTag(image_id=image_id, value=tag))
            image.updated_at = utcnow()

        self.db.write(write)

    def remove_tag(self, ctxt: RequestContext, image_id: str, tag: str) -> None:
        def write(session: Session) -> None:
            image = registry.get_visible(session, ctxt, image_id, for_update=True)
            policy.enforce(ctxt, policies.MODIFY_IMAGE, owner_target(image))
            row = session.get(ImageTag, (image_id, tag))
            if row is None:
                raise errors.NotFound(f"Tag {tag} not found on image {image_id}")
            session.delete(row)
            image.updated_at = utcnow()

        self.db.write(write)

    # --- for compute ------------------------------------------------------------------------------
    def create_snapshot(
        self,
        ctxt: RequestContext,
        name: str,
        owner: str,
        properties: dict[str, str] | None = None,
        disk_format: str = "qcow2",
    ) -> ImageRecord:
        """The queued image a server snapshot (createImage) uploads into, owned by the server's project."""
        changes = ImageChanges(
            core={"name": name, "owner": owner, "visibility": "private", "disk_format": disk_format,
                  "container_format": "bare"},
            properties={"image_type": "snapshot", **(properties or {})},
        )  # fmt: skip
        return self.create(ctxt, changes)

    def upload(
        self, ctxt: RequestContext, image_id: str, source: BinaryIO | Path | Iterable[bytes]
    ) -> ImageRecord:
        """Upload data (a readable file, a path, or chunks) into a queued image and activate it."""
        result: ImageRecord = self.data.upload(ctxt, image_id, _chunks_of(source))
        return result


def _publicize_error(message: str) -> Exception:
    return errors.Forbidden("You are not authorized to publicize images: only admins can. " + message)


def _chunks_of(source: BinaryIO | Path | Iterable[bytes]) -> Iterable[bytes]:
    if isinstance(source, Path):

        def from_path() -> Iterable[bytes]:
            with source.open("rb") as handle:
                while chunk := handle.read(CHUNK_SIZE):
                    yield chunk

        return from_path()
    if hasattr(source, "read"):
        readable: Any = source
        return iter(lambda: bytes(readable.read(CHUNK_SIZE)), b"")
    return source
