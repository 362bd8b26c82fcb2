"""Every route of the API service's app names the rules that guard it, and every rule names real routes.

The rules come from each service's ``policies.py`` (``policy.list_rules``); the routes from the app
``api/assembly.py`` builds. Public routes (read before a token exists: the paths the app's auth middleware
lets through) and the API's own documents guard nothing and name no rule.
"""

from __future__ import annotations

import ast
import importlib
import re
import shutil
import uuid
from collections.abc import Iterator
from pathlib import Path

import pytest
from fastapi import FastAPI
from fastapi.routing import iter_route_contexts

from overcast import policy
from overcast.api.assembly import build_api
from overcast.api.auth import PublicPaths
from overcast.bus import get_transport
from overcast.cloud import Cloud
from overcast.config import load_settings
from overcast.db import Database

Route = tuple[str, str]
PACKAGE = Path(__file__).resolve().parents[3] / "overcast"
RULE_NAME = re.compile(r"(identity|os_compute_api|image|quota):[\w:-]+")


def _version_documents(*paths: str) -> set[Route]:
    return {("GET", path) for path in paths}


# Glance's JSON schemas and discovery documents describe the API to any authenticated client, and Glance
# guards them with no rule either.
IMAGE_API_DOCUMENTS: set[Route] = _version_documents(
    "/image/v2/schemas/image", "/image/v2/schemas/images", "/image/v2/schemas/member",
    "/image/v2/schemas/members", "/image/v2/info/import", "/image/v2/info/stores",
    "/image/v2/schemas/task", "/image/v2/schemas/tasks", "/image/v2/schemas/metadefs/{name}",
)  # fmt: skip


@pytest.fixture(scope="module")
def app(tmp_path_factory: pytest.TempPathFactory, sqlite_template: Path) -> Iterator[FastAPI]:
    data_dir = tmp_path_factory.mktemp("policy-coverage")
    shutil.copyfile(sqlite_template, data_dir / "overcast.db")
    database = Database(f"sqlite:///{data_dir / 'overcast.db'}")
    transport = get_transport(f"inproc://policy-coverage-{uuid.uuid4().hex}")
    cloud = Cloud(settings=load_settings(data_dir=data_dir), db=database, transport=transport)
    yield build_api(cloud)
    cloud.close()


@pytest.fixture(scope="module")
def routes(app: FastAPI) -> set[Route]:
    # The serial console's websocket has no HTTP method: its single-use console token is its check.
    return {
        (method, route.path)
        for route in iter_route_contexts(app.routes)
        if route.path is not None
        for method in route.methods or ()
    }


@pytest.fixture(scope="module")
def public_paths(app: FastAPI) -> PublicPaths:
    """What the app's auth middleware lets through without a token, as the assembly collected it."""
    collected: PublicPaths = app.state.public_paths
    return collected


@pytest.fixture(scope="module")
def public(routes: set[Route], public_paths: PublicPaths) -> set[Route]:
    return {(method, path) for method, path in routes if public_paths.allows(method, path)}


def _guarded(rules: tuple[policy.DocumentedRule, ...]) -> set[Route]:
    return {(operation.method, operation.path) for rule in rules for operation in rule.operations}


def test_every_route_but_the_public_ones_names_a_rule(routes: set[Route], public: set[Route]) -> None:
    unguarded = routes - public - IMAGE_API_DOCUMENTS - _guarded(policy.list_rules())
    assert not unguarded, f"routes no rule names: {sorted(unguarded)}"


def test_every_operation_a_rule_names_is_a_route(routes: set[Route]) -> None:
    unknown = {
        (rule.name, operation)
        for rule in policy.list_rules()
        for operation in rule.operations
        if (operation.method, operation.path) not in routes
    }
    assert not unknown, f"operations that are no route: {sorted(unknown)}"


def test_public_routes_exist_and_name_no_rule(
    app: FastAPI, routes: set[Route], public: set[Route], public_paths: PublicPaths
) -> None:
    assert routes >= IMAGE_API_DOCUMENTS
    # Every public path serves something (the websocket included): none is left over from an unserved API.
    served = {path for _, path in routes} | {route.path for route in iter_route_contexts(app.routes)}
    unserved = [entry.pattern.pattern for entry in public_paths.entries
                if not any(entry.pattern.fullmatch(path) for path in served if path)]  # fmt: skip
    assert not unserved, f"public paths that serve nothing: {unserved}"
    assert not (public | IMAGE_API_DOCUMENTS) & _guarded(policy.list_rules())


def test_each_rule_is_listed_once_with_a_description() -> None:
    names = [rule.name for rule in policy.BASE_RULES]
    for module in policy.SERVICE_RULE_MODULES:
        names += [rule.name for rule in importlib.import_module(module).RULES]
    assert len(names) == len(set(names)), sorted({name for name in names if names.count(name) > 1})
    assert set(names) <= {rule.name for rule in policy.list_rules()}
    assert all(rule.description for rule in policy.list_rules() if rule.name in names)


def test_every_rule_the_code_names_is_listed() -> None:
    """A rule name written out where it is enforced (identity's routers do) must be a listed rule."""
    named = {
        (str(source.relative_to(PACKAGE)), node.value)
        for source in PACKAGE.rglob("*.py")
        if source.name != "policies.py"
        for node in ast.walk(ast.parse(source.read_text()))
        if isinstance(node, ast.Constant) and isinstance(node.value, str) and RULE_NAME.fullmatch(node.value)
    }
    listed = {rule.name for rule in policy.list_rules()}
    assert named, "no rule names found: the scan is broken"
    assert not {(where, name) for where, name in named if name not in listed}
