"""Image members: an owner shares a "shared" image with other projects; each accepts or rejects it."""

from __future__ import annotations

from sqlalchemy import func, select
from sqlalchemy.orm import Session

from overcast import errors, policy
from overcast.context import RequestContext
from overcast.db.engine import Database
from overcast.db.models.image import Image, ImageMember
from overcast.image import policies, registry

# Glance's image_member_quota.
MAX_MEMBERS = 128


class MemberAPI:
    def __init__(self, db: Database) -> None:
        self.db = db

    @staticmethod
    def _owned(session: Session, ctxt: RequestContext, image_id: str) -> Image:
        image = registry.get_visible(session, ctxt, image_id, for_update=True)
        policy.enforce(ctxt, policies.MANAGE_MEMBERS, {"project_id": image.owner})
        return image

    def list(self, ctxt: RequestContext, image_id: str) -> list[ImageMember]:
        policy.enforce(ctxt, policies.GET_MEMBERS)
        with self.db.reader() as session:
            image = registry.get_visible(session, ctxt, image_id)
            if image.visibility != "shared":
                raise errors.Forbidden("Only shared images have members.")
            stmt = (
                select(ImageMember).where(ImageMember.image_id == image_id).order_by(ImageMember.created_at)
            )
            if not (ctxt.is_admin or image.owner == ctxt.project_id):
                # A member sees its own membership only.
                stmt = stmt.where(ImageMember.member == ctxt.project_id)
            return list(session.scalars(stmt))

    def get(self, ctxt: RequestContext, image_id: str, member: str) -> ImageMember:
        policy.enforce(ctxt, policies.GET_MEMBER)
        with self.db.reader() as session:
            image = registry.get_visible(session, ctxt, image_id)
            row = session.get(ImageMember, (image_id, member))
            allowed = ctxt.is_admin or image.owner == ctxt.project_id or member == ctxt.project_id
            if row is None or not allowed:
                raise errors.NotFound(f"Member {member} not found for image {image_id}")
            return row

    def add(self, ctxt: RequestContext, image_id: str, member: str) -> ImageMember:
        if not isinstance(member, str) or not 0 < len(member) <= 64:
            raise errors.BadRequest("member must be a project id.")

        def write(session: Session) -> ImageMember:
            image = self._owned(session, ctxt, image_id)
            if image.visibility != "shared":
                raise errors.Forbidden(f"Image {image_id} is not shared: only shared images have members.")
            if session.get(ImageMember, (image_id, member)) is not None:
                raise errors.Conflict(f"Member {member} already exists for image {image_id}")
            count = session.scalar(select(func.count()).where(ImageMember.image_id == image_id)) or 0
            if count >= MAX_MEMBERS:
                raise errors.RequestTooLarge(f"Attempted: {count + 1}, Maximum: {MAX_MEMBERS} members.")
            row = ImageMember(image_id=image_id, member=member, status="pending")
            session.add(row)
            session.flush()
            return row

        return self.db.write(write)

    def update(self, ctxt: RequestContext, image_id: str, member: str, status: str) -> ImageMember:
        if status not in registry.MEMBER_STATUSES:
            raise errors.BadRequest(f"Invalid member status {status!r}: use pending, accepted or rejected.")

        def write(session: Session) -> ImageMember:
            registry.get_visible(session, ctxt, image_id)
            row = session.get(ImageMember, (image_id, member))
            if row is None:
                raise errors.NotFound(f"Member {member} not found for image {image_id}")
            policy.enforce(ctxt, policies.MODIFY_MEMBER, {"project_id": member})
            row.status = status
            session.flush()
            return row

        return self.db.write(write)

    def delete(self, ctxt: RequestContext, image_id: str, member: str) -> None:
        def write(session: Session) -> None:
            self._owned(session, ctxt, image_id)
            row = session.get(ImageMember, (image_id, member))
            if row is None:
                raise errors.NotFound(f"Member {member} not found for image {image_id}")
            session.delete(row)

        self.db.write(write)
