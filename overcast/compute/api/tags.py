"""Server tags (compute API 2.26): the logic behind /servers/{id}/tags and the tag list filters.

A tag is 1-60 characters without "/" or ","; a server has at most 50. Changing tags needs the server in a
settled state (Nova's list: active, paused, suspended, stopped, shelved, shelved_offloaded).
"""

from __future__ import annotations

from collections.abc import Iterable, Sequence

from sqlalchemy import ColumnElement, and_, delete, exists, not_, select
from sqlalchemy.orm import Session

from overcast import errors
from overcast.compute import instances, states
from overcast.compute.api.lookup import visible_instance
from overcast.context import RequestContext
from overcast.db.base import utcnow
from overcast.db.engine import Database
from overcast.db.models.compute import Instance
from overcast.db.models.server_tags import InstanceTag
from overcast.db.value_sets import ValuesQuery

MAX_TAGS = 50
MAX_TAG_LENGTH = 60
TAGGABLE_VM_STATES = (states.ACTIVE, states.PAUSED, states.SUSPENDED, states.STOPPED, states.SHELVED,
                      states.SHELVED_OFFLOADED)  # fmt: skip


def tag_problem(tag: object) -> str | None:
    """Why `tag` is not a valid tag, or None."""
    if not isinstance(tag, str):
        return f"{tag!r} is not of type 'string'"
    if not tag:
        return f"{tag!r} should be non-empty"
    if len(tag) > MAX_TAG_LENGTH:
        return f"{tag!r} is too long"
    if "/" in tag or "," in tag:
        return f"{tag!r} does not match '^[^,/]*$'"
    return None


def check_tags(tags: Sequence[object]) -> list[str]:
    """A request's tag list, deduplicated in order; BadRequest for a bad tag or too many."""
    for tag in tags:
        problem = tag_problem(tag)
        if problem is not None:
            raise errors.BadRequest(f"Invalid input for field/attribute tags. Value: {list(tags)}. {problem}")
    unique = list(dict.fromkeys(str(tag) for tag in tags))
    if len(unique) > MAX_TAGS:
        raise errors.BadRequest(f"The number of tags exceeded the per-server limit {MAX_TAGS}")
    return unique


_TAGS_OF = ValuesQuery(
    lambda in_page: (
        select(InstanceTag.instance_uuid, InstanceTag.tag)
        .where(in_page(InstanceTag.instance_uuid))
        .order_by(InstanceTag.tag)
    )
)


def tags_of(session: Session, uuids: Iterable[str]) -> dict[str, list[str]]:
    wanted = list(uuids)
    found: dict[str, list[str]] = {uuid: [] for uuid in wanted}
    if not wanted:
        return found
    for uuid, tag in _TAGS_OF.execute(session, wanted):
        found[uuid].append(tag)
    return found


def add_all(session: Session, uuid: str, tags: Iterable[str]) -> None:
    for tag in tags:
        session.add(InstanceTag(instance_uuid=uuid, tag=tag))


# --- list filters (GET /servers?tags=a,b&tags-any=...&not-tags=...&not-tags-any=...) -----------------
def _has(tag: str) -> ColumnElement[bool]:
    return exists().where(InstanceTag.instance_uuid == Instance.uuid, InstanceTag.tag == tag)


def _has_any(tags: list[str]) -> ColumnElement[bool]:
    return exists().where(InstanceTag.instance_uuid == Instance.uuid, InstanceTag.tag.in_(tags))


def filter_clauses(
    *, all_of: list[str], any_of: list[str], not_all_of: list[str], not_any_of: list[str]
) -> list[ColumnElement[bool]]:
    clauses: list[ColumnElement[bool]] = [_has(tag) for tag in all_of]
    if any_of:
        clauses.append(_has_any(any_of))
    if not_all_of:
        clauses.append(not_(and_(*(_has(tag) for tag in not_all_of))))
    if not_any_of:
        clauses.append(not_(_has_any(not_any_of)))
    return clauses


def split_filter(value: str | None) -> list[str]:
    return [part for part in (value or "").split(",") if part] if value else []


# --- /servers/{id}/tags --------------------------------------------------------------------------------
class TagAPI:
    def __init__(self, db: Database) -> None:
        self.db = db

    def of(self, ctxt: RequestContext, uuid: str) -> list[str]:
        with self.db.reader() as session:
            visible_instance(session, ctxt, uuid)
            return tags_of(session, [uuid])[uuid]

    def has(self, ctxt: RequestContext, uuid: str, tag: str) -> bool:
        return tag in self.of(ctxt, uuid)

    def replace(self, ctxt: RequestContext, uuid: str, tags: Sequence[object]) -> list[str]:
        wanted = check_tags(tags)

        def write(session: Session) -> list[str]:
            _changeable(session, ctxt, uuid, "update tags")
            session.execute(delete(InstanceTag).where(InstanceTag.instance_uuid == uuid))
            add_all(session, uuid, wanted)
            _touch(session, uuid)
            return sorted(wanted)

        return self.db.write(write)

    def add(self, ctxt: RequestContext, uuid: str, tag: str) -> bool:
        """True when the tag is new (201), False when the server had it already (204)."""
        problem = tag_problem(tag)
        if problem is not None:
            raise errors.BadRequest(
                f"Tag '{tag}' is invalid. It must be a non empty string without characters '/' and ','. "
                f"Validation error message: {problem}"
            )

        def write(session: Session) -> bool:
            _changeable(session, ctxt, uuid, "update tag")
            current = tags_of(session, [uuid])[uuid]
            if tag in current:
                return False
            if len(current) >= MAX_TAGS:
                raise errors.BadRequest(f"The number of tags exceeded the per-server limit {MAX_TAGS}")
            add_all(session, uuid, [tag])
            _touch(session, uuid)
            return True

        return self.db.write(write)

    def remove(self, ctxt: RequestContext, uuid: str, tag: str) -> None:
        def write(session: Session) -> None:
            _changeable(session, ctxt, uuid, "delete tag")
            result = session.execute(
                delete(InstanceTag).where(InstanceTag.instance_uuid == uuid, InstanceTag.tag == tag)
            )
            if getattr(result, "rowcount", 0) == 0:
                raise errors.NotFound(f"Instance {uuid} has no tag '{tag}'")
            _touch(session, uuid)

        self.db.write(write)

    def clear(self, ctxt: RequestContext, uuid: str) -> None:
        def write(session: Session) -> None:
            _changeable(session, ctxt, uuid, "delete tags")
            session.execute(delete(InstanceTag).where(InstanceTag.instance_uuid == uuid))
            _touch(session, uuid)

        self.db.write(write)


def _changeable(session: Session, ctxt: RequestContext, uuid: str, api_name: str) -> Instance:
    instance = visible_instance(session, ctxt, uuid)
    if instance.vm_state not in TAGGABLE_VM_STATES:
        raise errors.Conflict(states.invalid_state_message(api_name, uuid, "vm_state", instance.vm_state))
    return instance


def _touch(session: Session, uuid: str) -> None:
    # A tag change is a change of the server (changes-since lists it).
    instances.compare_and_swap(session, uuid, states.ANY, updated_at=utcnow())
