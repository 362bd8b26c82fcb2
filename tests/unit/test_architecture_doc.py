"""docs/architecture.md's package layout lists the tree exactly.

The layout block is prose for readers, so the test reads it the way a reader does: each entry of the
block (`  compute/    api/ (...), servers.py ...`) is one top-level module or package of `overcast/`,
and the names in a package's entry are its modules and subpackages. A subpackage named without its files
(`models/`, `migrations/`) stands for everything in it. Nothing in the tree may be missing from the block
and nothing the block names may be missing from the tree.
"""

from __future__ import annotations

import fnmatch
import re
from pathlib import Path

import overcast

SOURCE_ROOT = Path(overcast.__file__).parent
ARCHITECTURE = SOURCE_ROOT.parent / "docs" / "architecture.md"

_ENTRY = re.compile(r"^  (?P<name>[\w.]+/?)(?:\s{2,}|$)")
# A module (`servers.py`, `transports/amqp*.py`) or a package (`qemu/`) as the prose names it.
# A slash between words (`start/stop`, `I/O`) is prose, not a package.
_NAME = re.compile(r"(?<![\w./-])(?P<name>[\w*{},]+(?:/[\w*{},]+)*(?:\.py\b|/(?![\w{])))")


def _layout_entries() -> dict[str, str]:
    block = ARCHITECTURE.read_text().split("## Package layout", 1)[1].split("```", 2)[1]
    entries: dict[str, str] = {}
    current: str | None = None
    for line in block.splitlines()[1:]:
        entry = _ENTRY.match(line)
        if entry:
            current = entry["name"]
            entries[current] = line[entry.end() :]
        elif line.startswith("   ") and current is not None:
            entries[current] += " " + line.strip()
        else:
            current = None  # `tests/`, `bench/`: outside the package
    return entries


def _expand_braces(name: str) -> list[str]:
    braces = re.search(r"\{([^{}]*)\}", name)
    if braces is None:
        return [name]
    return [
        expanded
        for choice in braces[1].split(",")
        for expanded in _expand_braces(name[: braces.start()] + choice + name[braces.end() :])
    ]


def _named(description: str) -> set[str]:
    return {expanded for match in _NAME.finditer(description) for expanded in _expand_braces(match["name"])}


def _package_contents(package: Path) -> tuple[set[str], set[str]]:
    """The package's modules and subpackages, as paths relative to it (`qemu/driver.py`, `qemu/`)."""
    modules = {
        path.relative_to(package).as_posix()
        for path in package.rglob("*.py")
        if path.name != "__init__.py" and "__pycache__" not in path.parts
    }
    subpackages = {
        path.parent.relative_to(package).as_posix() + "/"
        for path in package.rglob("__init__.py")
        if path.parent != package
    }
    return modules, subpackages


def _covers(name: str, path: str) -> bool:
    """Whether a name the prose gives stands for a module or subpackage at `path` inside the package."""
    if path.endswith("/") and name.startswith(path):
        return True  # naming `openstack/compute/` names `openstack/` too
    if name.endswith("/"):
        return path.startswith(name) or fnmatch.fnmatch(path, "*/" + name + "*")
    return fnmatch.fnmatch(path, name) or fnmatch.fnmatch(path, "*/" + name)


def _top_level() -> set[str]:
    modules = {path.name for path in SOURCE_ROOT.glob("*.py") if path.name != "__init__.py"}
    packages = {path.parent.name + "/" for path in SOURCE_ROOT.glob("*/__init__.py")}
    return modules | packages


def test_the_layout_lists_every_top_level_module_and_package() -> None:
    assert set(_layout_entries()) == _top_level()


def test_each_package_entry_names_its_modules_and_nothing_else() -> None:
    problems: list[str] = []
    for entry, description in _layout_entries().items():
        if not entry.endswith("/"):
            continue
        modules, subpackages = _package_contents(SOURCE_ROOT / entry)
        named = _named(description)
        for path in sorted(modules | subpackages):
            if not any(_covers(name, path) for name in named):
                problems.append(f"{entry}{path} is in the tree but not in the layout")
        for name in sorted(named):
            if not any(_covers(name, path) for path in modules | subpackages):
                problems.append(f"{entry}{name} is in the layout but not in the tree")
    assert not problems, "\n".join(problems)
