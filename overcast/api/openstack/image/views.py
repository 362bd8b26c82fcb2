"""Image API bodies, shaped as Glance renders them."""

from __future__ import annotations

from datetime import UTC, datetime
from typing import Any

from overcast.db.models.image import ImageMember
from overcast.image.registry import ImageRecord


def timestamp(moment: datetime | None) -> str | None:
    if moment is None:
        return None
    return moment.astimezone(UTC).strftime("%Y-%m-%dT%H:%M:%SZ")


def image(record: ImageRecord) -> dict[str, Any]:
    row = record.image
    # Extra properties sit beside the core attributes; a core attribute always wins a name clash.
    body: dict[str, Any] = dict(row.properties)
    body.update({
        "id": row.id, "name": row.name, "status": row.status, "visibility": row.visibility,
        "protected": row.protected, "os_hidden": row.os_hidden, "checksum": row.checksum,
        "os_hash_algo": row.os_hash_algo, "os_hash_value": row.os_hash_value, "owner": row.owner,
        "size": row.size, "virtual_size": row.virtual_size, "min_ram": row.min_ram, "min_disk": row.min_disk,
        "disk_format": row.disk_format, "container_format": row.container_format,
        "created_at": timestamp(row.created_at), "updated_at": timestamp(row.updated_at),
        "tags": list(record.tags), "self": f"/v2/images/{row.id}", "file": f"/v2/images/{row.id}/file",
        "schema": "/v2/schemas/image",
    })  # fmt: skip
    if record.stores:
        body["stores"] = ",".join(record.stores)
    return body


def member(row: ImageMember) -> dict[str, Any]:
    return {
        "image_id": row.image_id,
        "member_id": row.member,
        "status": row.status,
        "created_at": timestamp(row.created_at),
        "updated_at": timestamp(row.updated_at),
        "schema": "/v2/schemas/member",
    }
