"""Standard tags (Neutron's standard-attr-tag) on networks, subnets and ports."""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from typing import Any, cast

from sqlalchemy import CursorResult, delete, select
from sqlalchemy.orm import Session

from overcast.db.models.network import NetworkTag
from overcast.network.api.errors import InvalidInput

MAX_TAG_LENGTH = 255
# Neutron's limit on the tags of one resource (a request replacing them all).
MAX_TAGS = 50


def check_tag(tag: object) -> str:
    if not isinstance(tag, str) or not tag or len(tag) > MAX_TAG_LENGTH or "," in tag:
        raise InvalidInput(f"'{tag}' is not a valid tag: 1 to {MAX_TAG_LENGTH} characters, no comma.")
    return tag


def check_tags(tags: object) -> list[str]:
    if not isinstance(tags, list):
        raise InvalidInput(f"'{tags}' is not a list of tags.")
    if len(tags) > MAX_TAGS:
        raise InvalidInput(f"A resource has at most {MAX_TAGS} tags.")
    return sorted({check_tag(tag) for tag in tags})


def tags_of(session: Session, resource_ids: Iterable[str]) -> dict[str, list[str]]:
    ids = list(resource_ids)
    found: dict[str, list[str]] = {resource_id: [] for resource_id in ids}
    if ids:
        query = select(NetworkTag).where(NetworkTag.resource_id.in_(ids)).order_by(NetworkTag.tag)
        for row in session.scalars(query):
            found[row.resource_id].append(row.tag)
    return found


def replace(session: Session, resource_id: str, tags: Sequence[str]) -> None:
    remove_all(session, resource_id)
    session.add_all(NetworkTag(resource_id=resource_id, tag=tag) for tag in tags)
    session.flush()


def add(session: Session, resource_id: str, tag: str) -> bool:
    """False when the resource already had the tag."""
    if session.get(NetworkTag, (resource_id, tag)) is not None:
        return False
    if len(tags_of(session, [resource_id])[resource_id]) >= MAX_TAGS:
        raise InvalidInput(f"A resource has at most {MAX_TAGS} tags.")
    session.add(NetworkTag(resource_id=resource_id, tag=tag))
    session.flush()
    return True


def remove(session: Session, resource_id: str, tag: str) -> bool:
    removed = session.execute(
        delete(NetworkTag).where(NetworkTag.resource_id == resource_id, NetworkTag.tag == tag)
    )
    return bool(cast(CursorResult[Any], removed).rowcount)


def remove_all(session: Session, resource_id: str) -> None:
    session.execute(delete(NetworkTag).where(NetworkTag.resource_id == resource_id))
