"""Image API policy rules (Glance's defaults): owners manage their images, only admins publish."""

from __future__ import annotations

from overcast import policy

# Members (and admins) of the project that owns the image; targets carry {"project_id": image.owner}.
OWNER_MEMBER = policy.ADMIN | ((policy.HasRole("member") | policy.HasRole("admin")) & policy.OWN_PROJECT)

ADD_IMAGE = "image:add_image"
MODIFY_IMAGE = "image:modify_image"
DELETE_IMAGE = "image:delete_image"
PUBLICIZE_IMAGE = "image:publicize_image"
COMMUNITIZE_IMAGE = "image:communitize_image"
UPLOAD_IMAGE = "image:upload_image"
DEACTIVATE = "image:deactivate"
REACTIVATE = "image:reactivate"
MANAGE_MEMBERS = "image:add_member"
MODIFY_MEMBER = "image:modify_member"
SET_OWNER = "image:set_owner"
COPY_IMAGE = "image:copy_image"

RULES: dict[str, policy.Check] = {
    ADD_IMAGE: OWNER_MEMBER,
    MODIFY_IMAGE: OWNER_MEMBER,
    DELETE_IMAGE: OWNER_MEMBER,
    PUBLICIZE_IMAGE: policy.ADMIN,
    COMMUNITIZE_IMAGE: OWNER_MEMBER,
    UPLOAD_IMAGE: OWNER_MEMBER,
    DEACTIVATE: OWNER_MEMBER,
    REACTIVATE: OWNER_MEMBER,
    MANAGE_MEMBERS: OWNER_MEMBER,
    # The member project itself accepts or rejects a share (target {"project_id": member}).
    MODIFY_MEMBER: policy.OWN_PROJECT,
    SET_OWNER: policy.ADMIN,
    COPY_IMAGE: policy.ADMIN,
}

policy.register(RULES)
