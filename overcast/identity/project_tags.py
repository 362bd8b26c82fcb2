"""Project tags (/v3/projects/{id}/tags), with Keystone's rules for what a tag may be, and the tag
filters of the project list (tags, tags-any, not-tags, not-tags-any)."""

from __future__ import annotations

from collections.abc import Iterable

from overcast.db.models.identity import Project
from overcast.errors import BadRequest, NotFound
from overcast.identity.core import IdentityCore

MAX_TAGS = 80
MAX_TAG_LENGTH = 255


def check_tags(tags: Iterable[str]) -> list[str]:
    """The tags as a list without repeats, or BadRequest as Keystone's project tag schema answers."""
    unique: list[str] = []
    for tag in tags:
        if not isinstance(tag, str) or not 1 <= len(tag) <= MAX_TAG_LENGTH:
            raise BadRequest(f"Invalid input for field 'tags': a tag is 1 to {MAX_TAG_LENGTH} characters.")
        if "/" in tag or "," in tag:
            raise BadRequest(f"Invalid input for field 'tags': {tag!r} may not contain '/' or ','.")
        if tag not in unique:
            unique.append(tag)
    if len(unique) > MAX_TAGS:
        raise BadRequest(f"Invalid input for field 'tags': a project holds at most {MAX_TAGS} tags.")
    return unique


def tags_match(
    tags: list[str],
    all_of: list[str] | None,
    any_of: list[str] | None,
    not_all_of: list[str] | None,
    not_any_of: list[str] | None,
) -> bool:
    held = set(tags)
    if all_of and not set(all_of) <= held:
        return False
    if any_of and not held & set(any_of):
        return False
    if not_all_of and set(not_all_of) <= held:
        return False
    return not (not_any_of and held & set(not_any_of))


class ProjectTagAPI:
    def __init__(self, core: IdentityCore) -> None:
        self.core = core
        self.db = core.db

    def list_tags(self, project_id: str) -> list[str]:
        with self.db.reader() as session:
            return list(self.core.get_project(session, project_id).tags or [])

    def replace(self, project_id: str, tags: list[str]) -> list[str]:
        checked = check_tags(tags)
        with self.db.writer() as session:
            self.core.get_project(session, project_id).tags = checked
        return checked

    def add(self, project_id: str, tag: str) -> None:
        with self.db.writer() as session:
            project = self.core.get_project(session, project_id)
            project.tags = check_tags([*(project.tags or []), tag])

    def check(self, project_id: str, tag: str) -> None:
        if tag not in self.list_tags(project_id):
            raise NotFound(f"Could not find project tag: {tag}.")

    def delete(self, project_id: str, tag: str) -> None:
        with self.db.writer() as session:
            project: Project = self.core.get_project(session, project_id)
            if tag not in (project.tags or []):
                raise NotFound(f"Could not find project tag: {tag}.")
            project.tags = [held for held in project.tags if held != tag]

    def delete_all(self, project_id: str) -> None:
        with self.db.writer() as session:
            self.core.get_project(session, project_id).tags = []
