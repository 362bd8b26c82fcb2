"""JSON-patch (application/openstack-images-v2.1-json-patch, and v2.0's older form) applied to an image.

Paths name one top-level attribute ("/name", "/hw_disk_bus", "/tags"); "~1" and "~0" escape "/" and
"~" in property names, as RFC 6901 says. Read-only attributes answer 403, malformed paths 400, replacing
or removing a property that does not exist 409, as Glance does.
"""

from __future__ import annotations

import re
from dataclasses import dataclass, field
from typing import Any

from overcast import errors
from overcast.image.formats import CONTAINER_FORMATS, DISK_FORMATS
from overcast.image.registry import VISIBILITIES

OPERATIONS = ("add", "replace", "remove")
READ_ONLY = frozenset({
    "id", "status", "checksum", "os_hash_algo", "os_hash_value", "size", "virtual_size", "created_at",
    "updated_at", "self", "file", "schema", "direct_url", "stores", "locations", "deleted", "deleted_at",
})  # fmt: skip
CORE = frozenset({
    "name", "visibility", "protected", "os_hidden", "disk_format", "container_format", "min_ram", "min_disk",
    "owner", "tags",
})  # fmt: skip
# Glance keeps these prefixes for itself.
RESERVED_PREFIXES = ("os_glance",)
# Properties the compute host acts on, and the values it knows: anything else would fail only at boot.
PROPERTY_CHOICES: dict[str, tuple[str, ...]] = {
    "hw_disk_bus": ("virtio", "scsi", "ide", "sata", "usb"),
    "hw_firmware_type": ("bios", "uefi"),
}
MAX_PROPERTY_LENGTH = 255
# Glance's bound for integer attributes (its database columns are 32-bit, as min_ram/min_disk are here).
MAX_DB_INT = 2**31 - 1
# Glance takes any string of at most 255 characters as a name. We refuse what cannot be stored or
# shown safely: C0/C1 controls (NUL, which PostgreSQL cannot store in text, newlines, escapes that
# forge log lines and terminal output), DEL, and the bidirectional overrides and isolates that make a
# name read differently from what it is ("Trojan Source"). Other format characters (the zero-width
# joiner of emoji sequences) stay allowed.
_UNSHOWABLE_IN_NAME = re.compile("[\x00-\x1f\x7f-\x9f\u061c\u200e\u200f\u202a-\u202e\u2066-\u2069]")


@dataclass
class ImageChanges:
    """What a create body or a patch asks for: core attributes, extra properties, tags."""

    core: dict[str, Any] = field(default_factory=dict)
    properties: dict[str, str] = field(default_factory=dict)
    tags: list[str] | None = None


def parse_path(path: Any) -> str:
    if not isinstance(path, str) or not path.startswith("/") or path.count("/") != 1 or path == "/":
        raise errors.BadRequest(f"Invalid JSON pointer for this resource: '{path}'")
    if "~" in path.replace("~0", "").replace("~1", ""):
        raise errors.BadRequest(f"Invalid JSON pointer for this resource: '{path}'")
    return path[1:].replace("~1", "/").replace("~0", "~")


def validate_core(name: str, value: Any) -> Any:
    """The value of core attribute `name`, or BadRequest when it is of the wrong shape."""
    if name == "name":
        if value is not None and (not isinstance(value, str) or len(value) > 255):
            raise errors.BadRequest("Invalid value for name: must be a string of at most 255 characters.")
        if value is not None and _UNSHOWABLE_IN_NAME.search(value):
            raise errors.BadRequest(
                "Invalid value for name: control characters and bidirectional overrides are not allowed."
            )
    elif name == "visibility":
        if value not in VISIBILITIES:
            raise errors.BadRequest(f"Invalid visibility value: {value}")
    elif name in ("protected", "os_hidden"):
        if not isinstance(value, bool):
            raise errors.BadRequest(f"Invalid value for {name}: must be a boolean.")
    elif name in ("min_ram", "min_disk"):
        if isinstance(value, bool) or not isinstance(value, int) or not 0 <= value <= MAX_DB_INT:
            raise errors.BadRequest(f"Invalid value for {name}: must be an integer from 0 to {MAX_DB_INT}.")
    elif name == "disk_format":
        if value is not None and value not in DISK_FORMATS:
            raise errors.BadRequest(
                f"Invalid disk_format {value!r}; valid formats: {', '.join(DISK_FORMATS)}."
            )
    elif name == "container_format":
        if value is not None and value not in CONTAINER_FORMATS:
            raise errors.BadRequest(
                f"Invalid container_format {value!r}; valid formats: {', '.join(CONTAINER_FORMATS)}."
            )
    elif name == "owner" and value is not None and (not isinstance(value, str) or len(value) > 64):
        raise errors.BadRequest("Invalid value for owner.")
    elif name == "tags" and not _valid_tags(value):
        raise errors.BadRequest("Invalid value for tags: must be a list of strings of 1-255 characters.")
    return value


def _valid_tags(value: Any) -> bool:
    return isinstance(value, list) and all(isinstance(tag, str) and 0 < len(tag) <= 255 for tag in value)


def validate_property(name: str, value: Any) -> str:
    if name.startswith(RESERVED_PREFIXES):
        raise errors.Forbidden(f"Attribute '{name}' is reserved.")
    if not name or len(name) > MAX_PROPERTY_LENGTH:
        raise errors.BadRequest(f"Property names must be 1-{MAX_PROPERTY_LENGTH} characters.")
    if not isinstance(value, str) or len(value) > MAX_PROPERTY_LENGTH:
        raise errors.BadRequest(
            f"Invalid value for property {name!r}: must be a string of at most "
            f"{MAX_PROPERTY_LENGTH} characters."
        )
    choices = PROPERTY_CHOICES.get(name)
    if choices is not None and value not in choices:
        raise errors.BadRequest(f"Invalid value for property {name!r}: must be one of {', '.join(choices)}.")
    return value


def from_create_body(body: Any) -> ImageChanges:
    if not isinstance(body, dict):
        raise errors.BadRequest("The request body must be a JSON object.")
    changes = ImageChanges()
    for name, value in body.items():
        if name == "id":
            continue
        if name in READ_ONLY:
            raise errors.Forbidden(f"Attribute '{name}' is read-only.")
        if name == "tags":
            changes.tags = list(validate_core(name, value))
        elif name in CORE:
            changes.core[name] = validate_core(name, value)
        else:
            changes.properties[name] = validate_property(name, value)
    return changes


def from_v2_0(operations: Any) -> Any:
    """A v2.0 patch document (application/openstack-images-v2.0-json-patch: the operation is the key,
    `{"replace": "/name", "value": "x"}`) in the v2.1 shape `apply` takes; what is not such a document
    is handed on as it is, for `apply` to refuse."""
    if not isinstance(operations, list):
        return operations
    converted = []
    for operation in operations:
        if not isinstance(operation, dict):
            converted.append(operation)
            continue
        named = [op for op in OPERATIONS if op in operation]
        if len(named) != 1 or "op" in operation or "path" in operation:
            raise errors.BadRequest(
                f"Each v2.0 JSON-patch operation names exactly one of {', '.join(OPERATIONS)} as its key."
            )
        op = named[0]
        value = {"value": operation["value"]} if "value" in operation else {}
        converted.append({"op": op, "path": operation[op], **value})
    return converted


def apply(
    operations: Any, current: dict[str, Any], properties: dict[str, str], tags: list[str]
) -> ImageChanges:
    """Apply a v2.1 JSON-patch document to an image's current core values, properties and tags."""
    if not isinstance(operations, list):
        raise errors.BadRequest("A JSON-patch document must be a list of operations.")
    changes = ImageChanges(properties=dict(properties), tags=list(tags))
    for operation in operations:
        if not isinstance(operation, dict):
            raise errors.BadRequest("Each JSON-patch operation must be an object.")
        op = operation.get("op")
        if op not in OPERATIONS:
            raise errors.BadRequest(f"Operation {op!r} is not supported; use one of {', '.join(OPERATIONS)}.")
        name = parse_path(operation.get("path"))
        if op != "remove" and "value" not in operation:
            raise errors.BadRequest(f"Operation '{op}' needs a value.")
        value = operation.get("value")
        if name in READ_ONLY:
            raise errors.Forbidden(f"Attribute '{name}' is read-only.")
        if name == "tags":
            changes.tags = [] if op == "remove" else list(dict.fromkeys(validate_core(name, value)))
        elif name in CORE:
            if op == "remove":
                raise errors.Forbidden(f"Attribute '{name}' is a core attribute and cannot be removed.")
            changes.core[name] = validate_core(name, value)
        elif op == "remove":
            if name not in changes.properties:
                raise errors.Conflict(f"Property {name} does not exist.")
            del changes.properties[name]
        else:
            if op == "replace" and name not in changes.properties:
                raise errors.Conflict(f"Property {name} does not exist.")
            changes.properties[name] = validate_property(name, value)
    changes.core = {name: value for name, value in changes.core.items() if current.get(name) != value}
    return changes
