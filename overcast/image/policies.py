"""Image API policy rules (Glance's names and defaults): owners manage their images, only admins publish.

The image service layer enforces these, not its routers: compute calls it in-process on a user's behalf
(snapshots, a cold move's transfer image), and those calls must meet the same rules as HTTP ones. Reads
name a rule that allows anyone: whether the caller may see the image is its visibility's question
(``registry.get_visible``), which answers 404.
"""

from __future__ import annotations

from overcast.policy import ADMIN, ANYONE, OWN_PROJECT, DocumentedRule, HasRole, documented

# Members (and admins) of the project that owns the image; targets carry {"project_id": image.owner}.
OWNER_MEMBER = ADMIN | ((HasRole("member") | HasRole("admin")) & OWN_PROJECT)

IMAGES = "/image/v2/images"
IMAGE = f"{IMAGES}/{{image_id}}"
# An image path with an empty id, which Glance answers with 404.
EMPTY_ID = f"{IMAGES}/"
MEMBERS = f"{IMAGE}/members"
MEMBER = f"{MEMBERS}/{{member_id}}"

GET_IMAGES = "image:get_images"
GET_IMAGE = "image:get_image"
DOWNLOAD_IMAGE = "image:download_image"
ADD_IMAGE = "image:add_image"
MODIFY_IMAGE = "image:modify_image"
DELETE_IMAGE = "image:delete_image"
PUBLICIZE_IMAGE = "image:publicize_image"
COMMUNITIZE_IMAGE = "image:communitize_image"
UPLOAD_IMAGE = "image:upload_image"
DEACTIVATE = "image:deactivate"
REACTIVATE = "image:reactivate"
GET_MEMBERS = "image:get_members"
GET_MEMBER = "image:get_member"
MANAGE_MEMBERS = "image:add_member"
MODIFY_MEMBER = "image:modify_member"
SET_OWNER = "image:set_owner"
COPY_IMAGE = "image:copy_image"

RULES: tuple[DocumentedRule, ...] = (
    documented(GET_IMAGES, ANYONE, "List the images one may see.", ("GET", IMAGES)),
    documented(GET_IMAGE, ANYONE, "Show an image one may see.", ("GET", IMAGE), ("GET", EMPTY_ID)),
    documented(
        DOWNLOAD_IMAGE,
        ANYONE,
        "Download an image one may see (a deactivated one: admins only).",
        ("GET", f"{IMAGE}/file"),
    ),
    documented(
        ADD_IMAGE,
        OWNER_MEMBER,
        "Create an image in one's project.",
        ("POST", IMAGES),
    ),
    documented(
        MODIFY_IMAGE,
        OWNER_MEMBER,
        "Change an image's properties or tags.",
        ("PATCH", IMAGE),
        ("PATCH", EMPTY_ID),
        ("PUT", f"{IMAGE}/tags/{{tag}}"),
        ("DELETE", f"{IMAGE}/tags/{{tag}}"),
    ),
    documented(DELETE_IMAGE, OWNER_MEMBER, "Delete an image.", ("DELETE", IMAGE), ("DELETE", EMPTY_ID)),
    documented(
        PUBLICIZE_IMAGE,
        ADMIN,
        "Make an image public (visibility in a create or an update).",
        ("POST", IMAGES),
        ("PATCH", IMAGE),
    ),
    documented(
        COMMUNITIZE_IMAGE,
        OWNER_MEMBER,
        "Make an image community (visibility in a create or an update).",
        ("POST", IMAGES),
        ("PATCH", IMAGE),
    ),
    documented(
        UPLOAD_IMAGE,
        OWNER_MEMBER,
        "Upload, stage or import an image's data.",
        ("PUT", f"{IMAGE}/file"),
        ("PUT", f"{IMAGE}/stage"),
        ("POST", f"{IMAGE}/import"),
    ),
    documented(DEACTIVATE, OWNER_MEMBER, "Deactivate an image.", ("POST", f"{IMAGE}/actions/deactivate")),
    documented(REACTIVATE, OWNER_MEMBER, "Reactivate an image.", ("POST", f"{IMAGE}/actions/reactivate")),
    documented(
        GET_MEMBERS,
        ANYONE,
        "List a shared image's members (a member sees its own membership only).",
        ("GET", MEMBERS),
    ),
    documented(
        GET_MEMBER, ANYONE, "Show a membership (the image's owner, or the member itself).", ("GET", MEMBER)
    ),
    documented(
        MANAGE_MEMBERS,
        OWNER_MEMBER,
        "Share an image with a project, or stop sharing it.",
        ("POST", MEMBERS),
        ("DELETE", MEMBER),
    ),
    # The member project itself accepts or rejects a share (target {"project_id": member}).
    documented(
        MODIFY_MEMBER, OWN_PROJECT, "Accept or reject a share made to one's project.", ("PUT", MEMBER)
    ),
    documented(
        SET_OWNER, ADMIN, "Name another project as an image's owner.", ("POST", IMAGES), ("PATCH", IMAGE)
    ),
    documented(
        COPY_IMAGE,
        ADMIN,
        "Copy an image's data to more stores (copy-image import).",
        ("POST", f"{IMAGE}/import"),
    ),
)

# --- metadata definitions (Glance's metadefs: reads are anyone's, the namespace's visibility deciding with
# a 404; writes are admins', as Glance's defaults) and tasks (admins', Glance's tasks_api_access) ----------
METADEFS = "/image/v2/metadefs"
NAMESPACES = f"{METADEFS}/namespaces"
NAMESPACE = f"{NAMESPACES}/{{namespace_name}}"
GET_METADEF_NAMESPACES = "image:get_metadef_namespaces"
GET_METADEF_NAMESPACE = "image:get_metadef_namespace"
ADD_METADEF_NAMESPACE = "image:add_metadef_namespace"
MODIFY_METADEF_NAMESPACE = "image:modify_metadef_namespace"
DELETE_METADEF_NAMESPACE = "image:delete_metadef_namespace"
GET_METADEF_OBJECTS = "image:get_metadef_objects"
GET_METADEF_OBJECT = "image:get_metadef_object"
ADD_METADEF_OBJECT = "image:add_metadef_object"
MODIFY_METADEF_OBJECT = "image:modify_metadef_object"
DELETE_METADEF_OBJECT = "image:delete_metadef_object"
GET_METADEF_PROPERTIES = "image:get_metadef_properties"
GET_METADEF_PROPERTY = "image:get_metadef_property"
ADD_METADEF_PROPERTY = "image:add_metadef_property"
MODIFY_METADEF_PROPERTY = "image:modify_metadef_property"
REMOVE_METADEF_PROPERTY = "image:remove_metadef_property"
GET_METADEF_TAGS = "image:get_metadef_tags"
GET_METADEF_TAG = "image:get_metadef_tag"
ADD_METADEF_TAG = "image:add_metadef_tag"
ADD_METADEF_TAGS = "image:add_metadef_tags"
MODIFY_METADEF_TAG = "image:modify_metadef_tag"
DELETE_METADEF_TAG = "image:delete_metadef_tag"
LIST_METADEF_RESOURCE_TYPES = "image:list_metadef_resource_types"
GET_METADEF_RESOURCE_TYPE = "image:get_metadef_resource_type"
ADD_METADEF_RESOURCE_TYPE = "image:add_metadef_resource_type_association"
REMOVE_METADEF_RESOURCE_TYPE = "image:remove_metadef_resource_type_association"
GET_TASKS = "image:get_tasks"
GET_TASK = "image:get_task"
GET_IMAGE_TASKS = "image:get_image_tasks"

# By table: the (list, show) rules of objects, properties and tags, and their (add, modify, delete) rules.
READ_RULES = {
    "image_metadef_objects": (GET_METADEF_OBJECTS, GET_METADEF_OBJECT),
    "image_metadef_properties": (GET_METADEF_PROPERTIES, GET_METADEF_PROPERTY),
    "image_metadef_tags": (GET_METADEF_TAGS, GET_METADEF_TAG),
}
WRITE_RULES = {
    "image_metadef_objects": (ADD_METADEF_OBJECT, MODIFY_METADEF_OBJECT, DELETE_METADEF_OBJECT),
    "image_metadef_properties": (ADD_METADEF_PROPERTY, MODIFY_METADEF_PROPERTY, REMOVE_METADEF_PROPERTY),
    "image_metadef_tags": (ADD_METADEF_TAG, MODIFY_METADEF_TAG, DELETE_METADEF_TAG),
}


def _inside(kind: str) -> tuple[str, str]:
    return f"{NAMESPACE}/{kind}", f"{NAMESPACE}/{kind}/{{name}}"


_OBJECTS, _OBJECT = _inside("objects")
_PROPERTIES, _PROPERTY = _inside("properties")
_TAGS, _TAG = _inside("tags")
_ASSOCIATIONS, _ASSOCIATION = _inside("resource_types")

RULES += (
    documented(
        GET_METADEF_NAMESPACES, ANYONE, "List the metadefs namespaces one may see.", ("GET", NAMESPACES)
    ),
    documented(GET_METADEF_NAMESPACE, ANYONE, "Show a metadefs namespace one may see.", ("GET", NAMESPACE)),
    documented(ADD_METADEF_NAMESPACE, ADMIN, "Create a metadefs namespace.", ("POST", NAMESPACES)),
    documented(MODIFY_METADEF_NAMESPACE, ADMIN, "Update a metadefs namespace.", ("PUT", NAMESPACE)),
    documented(DELETE_METADEF_NAMESPACE, ADMIN, "Delete a metadefs namespace.", ("DELETE", NAMESPACE)),
    documented(GET_METADEF_OBJECTS, ANYONE, "List a namespace's objects.", ("GET", _OBJECTS)),
    documented(GET_METADEF_OBJECT, ANYONE, "Show a namespace's object.", ("GET", _OBJECT)),
    documented(ADD_METADEF_OBJECT, ADMIN, "Add an object to a namespace.", ("POST", _OBJECTS)),
    documented(MODIFY_METADEF_OBJECT, ADMIN, "Update a namespace's object.", ("PUT", _OBJECT)),
    documented(
        DELETE_METADEF_OBJECT,
        ADMIN,
        "Delete a namespace's object, or all of them.",
        ("DELETE", _OBJECT),
        ("DELETE", _OBJECTS),
    ),
    documented(GET_METADEF_PROPERTIES, ANYONE, "List a namespace's properties.", ("GET", _PROPERTIES)),
    documented(GET_METADEF_PROPERTY, ANYONE, "Show a namespace's property.", ("GET", _PROPERTY)),
    documented(ADD_METADEF_PROPERTY, ADMIN, "Add a property to a namespace.", ("POST", _PROPERTIES)),
    documented(MODIFY_METADEF_PROPERTY, ADMIN, "Update a namespace's property.", ("PUT", _PROPERTY)),
    documented(
        REMOVE_METADEF_PROPERTY,
        ADMIN,
        "Delete a namespace's property, or all of them.",
        ("DELETE", _PROPERTY),
        ("DELETE", _PROPERTIES),
    ),
    documented(GET_METADEF_TAGS, ANYONE, "List a namespace's tags.", ("GET", _TAGS)),
    documented(GET_METADEF_TAG, ANYONE, "Show a namespace's tag.", ("GET", _TAG)),
    documented(ADD_METADEF_TAG, ADMIN, "Add a tag to a namespace.", ("POST", _TAG)),
    documented(ADD_METADEF_TAGS, ADMIN, "Set (or append to) a namespace's tags.", ("POST", _TAGS)),
    documented(MODIFY_METADEF_TAG, ADMIN, "Rename a namespace's tag.", ("PUT", _TAG)),
    documented(
        DELETE_METADEF_TAG,
        ADMIN,
        "Delete a namespace's tag, or all of them.",
        ("DELETE", _TAG),
        ("DELETE", _TAGS),
    ),
    documented(
        LIST_METADEF_RESOURCE_TYPES, ANYONE, "List the resource types.", ("GET", f"{METADEFS}/resource_types")
    ),
    documented(
        GET_METADEF_RESOURCE_TYPE,
        ANYONE,
        "List a namespace's resource type associations.",
        ("GET", _ASSOCIATIONS),
    ),
    documented(
        ADD_METADEF_RESOURCE_TYPE,
        ADMIN,
        "Associate a namespace with a resource type.",
        ("POST", _ASSOCIATIONS),
    ),
    documented(
        REMOVE_METADEF_RESOURCE_TYPE,
        ADMIN,
        "Remove a namespace's resource type association.",
        ("DELETE", _ASSOCIATION),
    ),
    documented(GET_TASKS, ADMIN, "List the image service's tasks.", ("GET", "/image/v2/tasks")),
    documented(GET_TASK, ADMIN, "Show an image service task.", ("GET", "/image/v2/tasks/{task_id}")),
    documented(
        GET_IMAGE_TASKS,
        ANYONE,
        "List the tasks of an image one may see (its imports).",
        ("GET", f"{IMAGE}/tasks"),
    ),
)
