"""/v2/schemas/* (JSON schemas of the bodies) and /v2/info/* (stores, import methods)."""

from __future__ import annotations

from typing import Any

from fastapi import APIRouter, Request

from overcast.api.openstack.image.errors import GlanceRoute
from overcast.image.data import IMPORT_METHODS
from overcast.image.formats import CONTAINER_FORMATS, DISK_FORMATS
from overcast.image.patch import PROPERTY_CHOICES
from overcast.image.registry import MEMBER_STATUSES, STATUSES, VISIBILITIES

router = APIRouter(route_class=GlanceRoute)

_READ_ONLY = {"readOnly": True}
_UUID = {
    "type": "string",
    "pattern": "^([0-9a-fA-F]){8}-([0-9a-fA-F]){4}-([0-9a-fA-F]){4}-([0-9a-fA-F]){4}-([0-9a-fA-F]){12}$",
}
_TIME = {"type": "string", "format": "date-time", **_READ_ONLY}

IMAGE_PROPERTIES: dict[str, Any] = {
    "id": {**_UUID, "description": "An identifier for the image"},
    "name": {"type": ["null", "string"], "maxLength": 255, "description": "Descriptive name for the image"},
    "status": {"type": "string", "enum": list(STATUSES), **_READ_ONLY, "description": "Status of the image"},
    "visibility": {
        "type": "string",
        "enum": list(VISIBILITIES),
        "description": "Scope of image accessibility",
    },
    "protected": {"type": "boolean", "description": "If true, image will not be deletable."},
    "os_hidden": {"type": "boolean", "description": "If true, image will not appear in default image list."},
    "checksum": {"type": ["null", "string"], "maxLength": 32, **_READ_ONLY, "description": "md5 of the data"},
    "os_hash_algo": {"type": ["null", "string"], "maxLength": 64, **_READ_ONLY},
    "os_hash_value": {"type": ["null", "string"], "maxLength": 128, **_READ_ONLY},
    "owner": {"type": ["null", "string"], "maxLength": 255, "description": "Owner of the image"},
    "size": {"type": ["null", "integer"], **_READ_ONLY, "description": "Size of image file in bytes"},
    "virtual_size": {
        "type": ["null", "integer"],
        **_READ_ONLY,
        "description": "Virtual size of image in bytes",
    },
    "container_format": {"type": ["null", "string"], "enum": [None, *CONTAINER_FORMATS]},
    "disk_format": {"type": ["null", "string"], "enum": [None, *DISK_FORMATS]},
    "created_at": _TIME,
    "updated_at": _TIME,
    "tags": {"type": "array", "items": {"type": "string", "maxLength": 255}},
    "min_ram": {"type": "integer", "description": "Amount of ram (in MB) required to boot image."},
    "min_disk": {"type": "integer", "description": "Amount of disk space (in GB) required to boot image."},
    "self": {"type": "string", **_READ_ONLY},
    "file": {"type": "string", **_READ_ONLY},
    "stores": {"type": "string", **_READ_ONLY, "description": "Store ids holding the image data"},
    "schema": {"type": "string", **_READ_ONLY},
    # Properties the scheduler and the QEMU driver read.
    "hw_architecture": {"type": "string", "description": "CPU architecture the image needs (e.g. x86_64)"},
    "hw_disk_bus": {"type": "string", "enum": list(PROPERTY_CHOICES["hw_disk_bus"])},
    "hw_vif_model": {"type": "string"},
    "hw_firmware_type": {"type": "string", "enum": list(PROPERTY_CHOICES["hw_firmware_type"])},
    "hw_machine_type": {"type": "string"},
    "os_distro": {"type": "string"},
    "os_version": {"type": "string"},
}

MEMBER_PROPERTIES: dict[str, Any] = {
    "image_id": {**_UUID, "description": "An identifier for the image"},
    "member_id": {"type": "string", "description": "An identifier for the image member (tenantId)"},
    "status": {
        "type": "string",
        "enum": list(MEMBER_STATUSES),
        "description": "The status of this image member",
    },
    "created_at": {"type": "string", "description": "Date and time of image member creation"},
    "updated_at": {"type": "string", "description": "Date and time of last modification of image member"},
    "schema": {"type": "string", **_READ_ONLY},
}


def image_schema() -> dict[str, Any]:
    return {
        "name": "image",
        "properties": IMAGE_PROPERTIES,
        "additionalProperties": {"type": "string"},
        "links": [
            {"rel": "self", "href": "{self}"},
            {"rel": "enclosure", "href": "{file}"},
            {"rel": "describedby", "href": "{schema}"},
        ],
    }


def member_schema() -> dict[str, Any]:
    return {"name": "member", "properties": MEMBER_PROPERTIES}


@router.get("/image/v2/schemas/image")
def get_image_schema() -> dict[str, Any]:
    return image_schema()


@router.get("/image/v2/schemas/images")
def get_images_schema() -> dict[str, Any]:
    return {
        "name": "images",
        "properties": {
            "images": {"type": "array", "items": image_schema()},
            "schema": {"type": "string"},
            "first": {"type": "string"},
            "next": {"type": "string"},
        },
        "links": [
            {"rel": "first", "href": "{first}"},
            {"rel": "next", "href": "{next}"},
            {"rel": "describedby", "href": "{schema}"},
        ],
    }


@router.get("/image/v2/schemas/member")
def get_member_schema() -> dict[str, Any]:
    return member_schema()


@router.get("/image/v2/schemas/members")
def get_members_schema() -> dict[str, Any]:
    return {
        "name": "members",
        "properties": {"members": {"type": "array", "items": member_schema()}, "schema": {"type": "string"}},
        "links": [{"rel": "schema", "href": "{schema}"}],
    }


@router.get("/image/v2/info/import")
def import_info() -> dict[str, Any]:
    return {
        "import-methods": {
            "description": "Import methods available.",
            "type": "array",
            "value": list(IMPORT_METHODS),
        }
    }


@router.get("/image/v2/info/stores")
def stores_info(request: Request) -> dict[str, Any]:
    stores = request.app.state.image.stores
    default = request.app.state.image.default_store
    return {
        "stores": [
            {
                "id": store_id,
                "description": store.description,
                **({"default": True} if store_id == default else {}),
            }
            for store_id, store in stores.items()
        ]
    }
