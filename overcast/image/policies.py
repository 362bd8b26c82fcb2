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
    documented(GET_IMAGE, ANYONE, "Show an image one may see.", ("GET", IMAGE)),
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
        ("PUT", f"{IMAGE}/tags/{{tag}}"),
        ("DELETE", f"{IMAGE}/tags/{{tag}}"),
    ),
    documented(DELETE_IMAGE, OWNER_MEMBER, "Delete an image.", ("DELETE", IMAGE)),
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
