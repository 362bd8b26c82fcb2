"""Glance's metadefs schemas: the checks of request bodies, and the documents /v2/schemas/metadefs/* serve.

The documents and the checks come from the same field tables, so what a client reads there is what the
API accepts: unknown fields and values of the wrong type or length are 400s, as Glance's schemas make them.
"""

from __future__ import annotations

from typing import Any

from overcast import errors

NAME_LENGTH = 80
TAG_LENGTH = 255
DESCRIPTION_LENGTH = 500
VISIBILITIES = ("public", "private")
PROPERTY_TYPES = ("array", "boolean", "integer", "number", "object", "string", "null")
# What a namespace create may nest, each made with it.
NAMESPACE_CONTENTS = ("resource_type_associations", "properties", "objects", "tags")
_READ_ONLY = ("created_at", "updated_at", "self", "schema")

_STRING = {"type": "string"}
_TIME = {"type": "string", "readOnly": True, "format": "date-time"}

NAMESPACE_FIELDS: dict[str, Any] = {
    "namespace": {"type": "string", "minLength": 1, "maxLength": NAME_LENGTH,
                  "description": "The unique namespace text."},
    "display_name": {"type": "string", "maxLength": NAME_LENGTH,
                     "description": "The user friendly name for the namespace."},
    "description": {"type": "string", "maxLength": DESCRIPTION_LENGTH,
                    "description": "Provides a user friendly description of the namespace."},
    "visibility": {"type": "string", "enum": list(VISIBILITIES),
                   "description": "Scope of namespace accessibility."},
    "protected": {"type": "boolean", "description": "If true, namespace will not be deletable."},
    "owner": {"type": "string", "maxLength": 255, "description": "Owner of the namespace."},
}  # fmt: skip

PROPERTY_FIELDS: dict[str, Any] = {
    "name": {"type": "string", "minLength": 1, "maxLength": NAME_LENGTH},
    "title": _STRING,
    "description": _STRING,
    "operators": {"type": "array", "items": _STRING},
    "type": {"type": "string", "enum": list(PROPERTY_TYPES)},
    "default": {},
    "readonly": {"type": "boolean"},
    "minimum": {"type": "number"},
    "maximum": {"type": "number"},
    "pattern": {"type": "string", "format": "regex"},
    "minLength": {"type": "integer", "minimum": 0},
    "maxLength": {"type": "integer", "minimum": 0},
    "enum": {"type": "array"},
    "items": {"type": "object"},
    "uniqueItems": {"type": "boolean"},
    "minItems": {"type": "integer", "minimum": 0},
    "maxItems": {"type": "integer", "minimum": 0},
    "additionalItems": {"type": "boolean"},
}
PROPERTY_REQUIRED = ("name", "title", "type")

OBJECT_FIELDS: dict[str, Any] = {
    "name": {"type": "string", "minLength": 1, "maxLength": NAME_LENGTH},
    "description": _STRING,
    "required": {"type": "array", "items": _STRING},
    "properties": {"type": "object", "additionalProperties": {"type": "object"}},
}

TAG_FIELDS: dict[str, Any] = {"name": {"type": "string", "minLength": 1, "maxLength": TAG_LENGTH}}

RESOURCE_TYPE_FIELDS: dict[str, Any] = {
    "name": {"type": "string", "minLength": 1, "maxLength": NAME_LENGTH,
             "description": "Resource type names should be aligned with Heat resource types."},
    "prefix": {"type": "string", "maxLength": NAME_LENGTH,
               "description": "Prefix the namespace's properties take on this resource type."},
    "properties_target": {"type": "string", "maxLength": NAME_LENGTH,
                          "description": "The part of the resource the properties apply to."},
}  # fmt: skip

_JSON_TYPES: dict[str, tuple[type, ...]] = {
    "string": (str,), "boolean": (bool,), "integer": (int,), "number": (int, float), "array": (list,),
    "object": (dict,),
}  # fmt: skip


def _check(kind: str, body: Any, fields: dict[str, Any], required: tuple[str, ...]) -> dict[str, Any]:
    if not isinstance(body, dict):
        raise errors.BadRequest(f"The {kind} must be a JSON object.")
    checked: dict[str, Any] = {}
    for name, value in body.items():
        if name in _READ_ONLY:
            continue
        spec = fields.get(name)
        if spec is None:
            raise errors.BadRequest(
                f"Additional properties are not allowed ('{name}' was unexpected) in the {kind}."
            )
        expected = _JSON_TYPES.get(spec.get("type", ""))
        if expected is not None and (
            not isinstance(value, expected) or (bool not in expected and isinstance(value, bool))
        ):
            raise errors.BadRequest(
                f"Invalid value for {name} in the {kind}: must be of type {spec['type']}."
            )
        if "minLength" in spec and len(value) < spec["minLength"]:
            raise errors.BadRequest(f"{name} of the {kind} must not be empty.")
        if "maxLength" in spec and len(value) > spec["maxLength"]:
            raise errors.BadRequest(f"{name} of the {kind} is longer than {spec['maxLength']} characters.")
        if "enum" in spec and value not in spec["enum"]:
            raise errors.BadRequest(
                f"Invalid value for {name} in the {kind}: one of {', '.join(spec['enum'])}."
            )
        if spec.get("minimum") == 0 and value < 0:
            raise errors.BadRequest(f"{name} of the {kind} must not be negative.")
        checked[name] = value
    for name in required:
        if not checked.get(name) and checked.get(name) is not False:
            raise errors.BadRequest(f"'{name}' is a required property of the {kind}.")
    return checked


def namespace(body: Any, *, creating: bool) -> dict[str, Any]:
    contents = {key: body.pop(key) for key in NAMESPACE_CONTENTS if isinstance(body, dict) and key in body}
    checked = _check("namespace", body, NAMESPACE_FIELDS, ("namespace",) if creating else ())
    if creating:
        checked.setdefault("visibility", "private")
        checked.setdefault("protected", False)
    if "properties" in contents:
        properties = contents["properties"]
        if not isinstance(properties, dict):
            raise errors.BadRequest("The namespace's properties must be an object of property definitions.")
        checked["properties"] = {
            name: {
                key: value for key, value in metadef_property({**prop, "name": name}).items() if key != "name"
            }
            for name, prop in properties.items()
            if isinstance(prop, dict) or _not_a_definition(name)
        }
    if "objects" in contents:
        if not isinstance(contents["objects"], list):
            raise errors.BadRequest("The namespace's objects must be a list.")
        checked["objects"] = [metadef_object(obj) for obj in contents["objects"]]
    if "tags" in contents:
        checked["tags"] = tag_list({"tags": contents["tags"]})
    if "resource_type_associations" in contents:
        if not isinstance(contents["resource_type_associations"], list):
            raise errors.BadRequest("The namespace's resource_type_associations must be a list.")
        checked["resource_type_associations"] = [
            resource_type_association(item) for item in contents["resource_type_associations"]
        ]
    return checked


def _not_a_definition(name: str) -> bool:
    raise errors.BadRequest(f"Property {name} of the namespace must be an object.")


def metadef_property(body: Any) -> dict[str, Any]:
    return _check("property", body, PROPERTY_FIELDS, PROPERTY_REQUIRED)


def metadef_object(body: Any) -> dict[str, Any]:
    checked = _check("object", body, OBJECT_FIELDS, ("name",))
    properties = checked.get("properties") or {}
    checked["properties"] = {
        name: {key: value for key, value in metadef_property({**prop, "name": name}).items() if key != "name"}
        for name, prop in properties.items()
        if isinstance(prop, dict) or _not_a_definition(name)
    }
    checked.setdefault("required", [])
    return checked


def tag(body: Any) -> str:
    name: str = _check("tag", body, TAG_FIELDS, ("name",))["name"]
    return name


def tag_list(body: Any) -> list[str]:
    if not isinstance(body, dict) or not isinstance(body.get("tags"), list) or set(body) - {"tags"}:
        raise errors.BadRequest('The request body must be {"tags": [{"name": "..."}]}.')
    names = [tag(item) for item in body["tags"]]
    if len(set(names)) != len(names):
        raise errors.Conflict("Duplicate tag names in the request.")
    return names


def resource_type_association(body: Any) -> dict[str, Any]:
    return _check("resource type association", body, RESOURCE_TYPE_FIELDS, ("name",))


# --- the documents --------------------------------------------------------------------------------
def _document(
    name: str, fields: dict[str, Any], required: tuple[str, ...] = (), **extra: Any
) -> dict[str, Any]:
    return {
        "name": name,
        "properties": {**fields, "created_at": _TIME, "updated_at": _TIME,
                       "self": {"type": "string"}, "schema": {"type": "string", "readOnly": True}},
        "additionalProperties": False,
        **({"required": list(required)} if required else {}),
        **extra,
    }  # fmt: skip


def _listing(name: str, key: str, item: dict[str, Any], items_shape: str = "array") -> dict[str, Any]:
    collection = (
        {"type": "array", "items": item} if items_shape == "array"
        else {"type": "object", "additionalProperties": item}
    )  # fmt: skip
    return {
        "name": name,
        "properties": {key: collection, "schema": {"type": "string"}, "first": {"type": "string"},
                       "next": {"type": "string"}},
        "links": [{"rel": "first", "href": "{first}"}, {"rel": "next", "href": "{next}"},
                  {"rel": "describedby", "href": "{schema}"}],
    }  # fmt: skip


def documents() -> dict[str, dict[str, Any]]:
    """Every /v2/schemas/metadefs/<name> document by name."""
    property_doc = _document("property", PROPERTY_FIELDS, PROPERTY_REQUIRED)
    object_doc = _document("object", OBJECT_FIELDS, ("name",))
    tag_doc = _document("tag", TAG_FIELDS, ("name",))
    resource_type_doc = _document("resource_type_association", RESOURCE_TYPE_FIELDS, ("name",))
    namespace_doc = _document(
        "namespace",
        {**NAMESPACE_FIELDS,
         "resource_type_associations": {"type": "array", "items": resource_type_doc},
         "properties": {"type": "object", "additionalProperties": property_doc},
         "objects": {"type": "array", "items": object_doc},
         "tags": {"type": "array", "items": tag_doc}},
        ("namespace",),
    )  # fmt: skip
    return {
        "namespace": namespace_doc,
        "namespaces": _listing("namespaces", "namespaces", namespace_doc),
        "object": object_doc,
        "objects": _listing("objects", "objects", object_doc),
        "property": property_doc,
        "properties": _listing("properties", "properties", property_doc, items_shape="object"),
        "tag": tag_doc,
        "tags": _listing("tags", "tags", tag_doc),
        "resource_type": resource_type_doc,
        "resource_types": _listing(
            "resource_type_associations", "resource_type_associations", resource_type_doc
        ),
    }
