"""Describe actions' `Filter.N`: each action names the filters it documents and how to read each from
an item; values match as AWS's do (any value of a filter, all filters; `*` and `?` wildcards)."""

from __future__ import annotations

import fnmatch
import re
from collections.abc import Callable, Iterable, Mapping, Sequence
from dataclasses import dataclass
from functools import lru_cache
from typing import Generic, TypeVar

from overcast.ec2.errors import Ec2Error
from overcast.ec2.params import Filter

T = TypeVar("T")
# What a filter reads from an item: one value, several, or None (the item has none).
Reader = Callable[[T], object]
TAG_PREFIX = "tag:"


@lru_cache(maxsize=512)
def _pattern(value: str) -> re.Pattern[str]:
    # AWS's wildcards are * and ? only; fnmatch's [...] classes are taken literally.
    escaped = value.replace("[", "[[]")
    return re.compile(fnmatch.translate(escaped), re.DOTALL)


def _as_strings(found: object) -> list[str]:
    if found is None:
        return []
    if isinstance(found, bool):
        return ["true" if found else "false"]
    if isinstance(found, list | tuple | set | frozenset):
        return [text for item in found for text in _as_strings(item)]
    return [str(found)]


def matches(found: object, wanted: Sequence[str]) -> bool:
    candidates = _as_strings(found)
    return any(_pattern(value).fullmatch(candidate) for value in wanted for candidate in candidates)


@dataclass(frozen=True)
class FilterTable(Generic[T]):
    """An action's documented filters. `tags` reads an item's tags (key → value) for `tag:<key>`,
    `tag-key` and `tag-value`, when the action's items have tags."""

    readers: Mapping[str, Reader[T]]
    tags: Callable[[T], Mapping[str, str]] | None = None

    def check(self, filters: Iterable[Filter]) -> None:
        for item in filters:
            if item.name in self.readers:
                continue
            if self.tags is not None and (
                item.name.startswith(TAG_PREFIX) or item.name in ("tag-key", "tag-value")
            ):
                continue
            raise Ec2Error("InvalidParameterValue", f"The filter '{item.name}' is invalid")

    def _reader(self, name: str) -> Reader[T]:
        reader = self.readers.get(name)
        if reader is not None:
            return reader
        tags = self.tags
        assert tags is not None
        if name == "tag-key":
            return lambda item: list(tags(item))
        if name == "tag-value":
            return lambda item: list(tags(item).values())
        key = name[len(TAG_PREFIX) :]
        return lambda item: tags(item).get(key)

    def apply(self, items: Iterable[T], filters: Sequence[Filter]) -> list[T]:
        self.check(filters)
        selected = list(items)
        for item_filter in filters:
            reader = self._reader(item_filter.name)
            selected = [item for item in selected if matches(reader(item), item_filter.values)]
        return selected
