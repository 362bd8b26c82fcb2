"""Rules of the house.

- **A service = manager + rpcapi.** A service's manager (`<pkg>/manager.py`) receives its messages; its
  client (`<pkg>/rpcapi.py`) is the only code that sends them, and owns the topic and the binary name
  the service answers to, so sending a message never imports the receiving server. RPC APIs carry a
  version; a manager refuses versions it does not know.
- **Dependencies point one way.** No import cycles between modules; `virt/` (the drivers) sits below
  everything that uses it, as `volume/drivers/` does; the scheduler knows compute only by its state
  table and its client.
- **Compute is split by the process a line runs in.** `compute/api/` runs in the API process,
  `compute/manager/` on each compute host; neither imports the other. They, the conductor and the
  scheduler meet through `compute/rpcapi.py` and the records at `compute/`'s top, which import neither.
- **Drivers sit behind one small ABC** with a fake and a contract test suite.
- **Routers are thin**: validate, authorize, call the service's `api.py`, render a view. No SQL in
  routers: they never open a database session.
- **State changes are compare-and-swap writes** against an explicit state table (`compute/states.py`).
- **Errors are typed** (`overcast.errors`); time and randomness are injected where tests need control.
- **Everything a user does is observable**: request id from API through RPC, notifications, metrics.
- **A module's `_private` names are its own**: no other module imports or reaches for them.
- **Mail is at the bottom, the portal at the top.** `mail/` imports nothing of Overcast but its settings
  and errors, so any service may send mail; `portal/` acts through the other services' objects, so only
  the composition root, its routes and the CLI import it.
- **The dashboard is a client of the public APIs**: `dashboard/` imports nothing of Overcast but itself
  (and the API app's public-path and body-limit helpers), so it cannot read the database or skip a policy.

The tests below hold the rules an import graph can show. They read every module of `overcast/` with
`ast`, so imports inside functions and under `TYPE_CHECKING` count as much as those at the top. Each
`KNOWN_*` allow-list names the #13 item that removes its entries: a violation on a list does not fail,
any other one does, and so does an entry whose violation is gone, so the lists only shrink.
"""

from __future__ import annotations

import ast
import functools
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from pathlib import Path

import overcast

SOURCE_ROOT = Path(overcast.__file__).parent


@dataclass(frozen=True)
class Import:
    importer: str
    # The overcast module imported, or imported from.
    module: str
    # The name taken from `module` (`from module import name`), or None when the module itself is bound.
    name: str | None
    line: int
    # The local name the import binds, when code can reach the module or name through it.
    bound_as: str | None = None

    def __str__(self) -> str:
        taken = f" ({self.name})" if self.name else ""
        return f"{self.importer}:{self.line} -> {self.module}{taken}"


@dataclass(frozen=True)
class Module:
    name: str
    tree: ast.Module
    imports: tuple[Import, ...]

    @property
    def leaf(self) -> str:
        return self.name.rpartition(".")[2]


Graph = Mapping[str, Module]


def module_name(path: Path) -> str:
    parts = path.relative_to(SOURCE_ROOT.parent).with_suffix("").parts
    return ".".join(parts[:-1] if parts[-1] == "__init__" else parts)


def read_imports(name: str, tree: ast.Module, is_package: bool, known: set[str]) -> tuple[Import, ...]:
    """Every import of an overcast module anywhere in `tree`, resolved to the module it binds or reads."""
    package = name if is_package else name.rpartition(".")[0]
    found: list[Import] = []
    for node in ast.walk(tree):
        if isinstance(node, ast.ImportFrom):
            base = node.module or ""
            if node.level:
                anchor = package.split(".")[: len(package.split(".")) - node.level + 1]
                base = ".".join([*anchor, *([base] if base else [])])
            if base.split(".")[0] != "overcast":
                continue
            for alias in node.names:
                submodule = f"{base}.{alias.name}"
                bound_as = alias.asname or alias.name
                if submodule in known:
                    found.append(Import(name, submodule, None, node.lineno, bound_as))
                else:
                    found.append(Import(name, base, alias.name, node.lineno, bound_as))
        elif isinstance(node, ast.Import):
            for alias in node.names:
                if alias.name.split(".")[0] == "overcast":
                    target = alias.name
                    while target not in known:
                        target = target.rpartition(".")[0]
                    found.append(Import(name, target, None, node.lineno, alias.asname))
    return tuple(found)


@functools.cache
def overcast_sources() -> dict[str, tuple[ast.Module, bool]]:
    """Each module of overcast/ by name: its syntax tree, and whether it is a package's __init__."""
    paths = SOURCE_ROOT.rglob("*.py")
    return {module_name(path): (ast.parse(path.read_text()), path.name == "__init__.py") for path in paths}


def import_graph(extra: Mapping[str, str] | None = None) -> dict[str, Module]:
    """The import graph of overcast/, plus `extra` modules (name -> source) for the rules' self-test."""
    sources = dict(overcast_sources())
    sources.update({name: (ast.parse(text), False) for name, text in (extra or {}).items()})
    known = set(sources)
    return {
        name: Module(name, tree, read_imports(name, tree, is_package, known))
        for name, (tree, is_package) in sources.items()
    }


@functools.cache
def overcast_graph() -> Graph:
    return import_graph()


def within(module: str, *packages: str) -> bool:
    return any(module == package or module.startswith(package + ".") for package in packages)


def imported_modules(module: Module) -> list[str]:
    return sorted({i.module for i in module.imports if i.module != module.name})


# --- cycles ---------------------------------------------------------------------------------------------
def strongly_connected(graph: Graph) -> list[list[str]]:
    """Tarjan's algorithm, iterative: every set of modules that import each other, directly or not."""
    edges = {name: imported_modules(module) for name, module in graph.items()}
    index: dict[str, int] = {}
    lowlink: dict[str, int] = {}
    stack: list[str] = []
    on_stack: set[str] = set()
    components: list[list[str]] = []
    for root in sorted(edges):
        if root in index:
            continue
        work = [(root, iter(edges[root]))]
        index[root] = lowlink[root] = len(index)
        stack.append(root)
        on_stack.add(root)
        while work:
            node, successors = work[-1]
            for successor in successors:
                if successor not in index:
                    index[successor] = lowlink[successor] = len(index)
                    stack.append(successor)
                    on_stack.add(successor)
                    work.append((successor, iter(edges[successor])))
                    break
                if successor in on_stack:
                    lowlink[node] = min(lowlink[node], index[successor])
            else:
                work.pop()
                if work:
                    lowlink[work[-1][0]] = min(lowlink[work[-1][0]], lowlink[node])
                if lowlink[node] == index[node]:
                    component = []
                    while True:
                        member = stack.pop()
                        on_stack.discard(member)
                        component.append(member)
                        if member == node:
                            break
                    if len(component) > 1:
                        components.append(sorted(component))
    return components


def one_cycle(graph: Graph, component: list[str]) -> list[str]:
    """A shortest import path from the component's first module back to itself, for the failure message."""
    members = set(component)
    start = component[0]
    came_from: dict[str, str] = {}
    frontier = [start]
    while frontier:
        following = []
        for node in frontier:
            for successor in sorted({i.module for i in graph[node].imports} & members):
                if successor == start:
                    path = [node]
                    while path[-1] != start:
                        path.append(came_from[path[-1]])
                    return [start, *reversed(path[:-1]), start]
                if successor not in came_from:
                    came_from[successor] = node
                    following.append(successor)
        frontier = following
    return component


# Cycles that exist today, each with the #13 item that removes it; a cycle may lose members, never gain any.
KNOWN_CYCLES: list[frozenset[str]] = []


def unexpected_cycles(graph: Graph) -> list[list[str]]:
    return [
        component for component in strongly_connected(graph)
        if not any(set(component) <= known for known in KNOWN_CYCLES)
    ]  # fmt: skip


def test_no_import_cycles() -> None:
    graph = overcast_graph()
    unexpected = unexpected_cycles(graph)
    described = "\n".join(
        f"  {' -> '.join(one_cycle(graph, component))}   (all of: {', '.join(component)})"
        for component in strongly_connected(graph)
    )
    assert not unexpected, f"new import cycles among {unexpected}; every cycle of the graph:\n{described}"


# --- forbidden edges ------------------------------------------------------------------------------------
Rule = Callable[[Graph], list[Import]]


def reachable(graph: Graph, start: str) -> dict[str, Import]:
    """Every module `start` imports directly or not, each with the import that first reached it."""
    seen: dict[str, Import] = {}
    todo = [start]
    while todo:
        for imported in graph[todo.pop()].imports:
            if imported.module not in seen and imported.module != start:
                seen[imported.module] = imported
                todo.append(imported.module)
    return seen


def is_manager_code(name: str) -> bool:
    """A manager module (`conductor/manager.py`), or any module of a manager package (`compute/manager/`)."""
    return any(part.startswith("manager") for part in name.split(".")[1:])


def clients_reaching_a_manager(graph: Graph) -> list[Import]:
    """An RPC client, with everything it imports, must not load a manager: a sender stays a light leaf."""
    found = []
    for name, module in graph.items():
        if module.leaf == "rpcapi":
            loaded = reachable(graph, name)
            found += [
                Import(name, target, f"through {via}", 0)
                for target, via in loaded.items() if is_manager_code(target)
            ]  # fmt: skip
    return found


def rpc_clients_outside_rpcapi(graph: Graph) -> list[Import]:
    """Only `overcast.rpcapi.ServiceRPCAPI` (the base of every `<pkg>/rpcapi.py`) builds an RPCClient."""
    return [
        i for module in graph.values() if not within(module.name, "overcast.bus", "overcast.rpcapi")
        for i in module.imports if i.name == "RPCClient"
    ]  # fmt: skip


def virt_reaching_up(graph: Graph) -> list[Import]:
    above = ("overcast.db", "overcast.compute", "overcast.scheduler", "overcast.image")
    return [
        i for module in graph.values() if within(module.name, "overcast.virt")
        for i in module.imports if within(i.module, *above)
    ]  # fmt: skip


def volume_drivers_reaching_up(graph: Graph) -> list[Import]:
    """Volume drivers hold bytes and exports; the database, the API and the manager are above them."""
    above = (
        "overcast.db", "overcast.compute", "overcast.scheduler", "overcast.image", "overcast.volume.api",
        "overcast.volume.manager", "overcast.volume.states", "overcast.volume.quotas",
    )  # fmt: skip
    return [
        i for module in graph.values() if within(module.name, "overcast.volume.drivers")
        for i in module.imports if within(i.module, *above)
    ]  # fmt: skip


# What the dashboard may import of Overcast: itself, how the API app names paths without a token, and
# its body limit, which image uploads stream past as they do through the image API.
DASHBOARD_MAY_IMPORT = ("overcast.dashboard", "overcast.api.auth", "overcast.api.middleware")
# The one exception: the session store keeps sessions in their own table, so that scaled-out dashboards
# share them; it reaches the database handle and that table's model, no other table.
DASHBOARD_SESSION_STORE = "overcast.dashboard.sessions"
SESSION_STORE_MAY_IMPORT = ("overcast.db.engine", "overcast.db.models.dashboard_sessions")


def dashboard_reaching_past_the_apis(graph: Graph) -> list[Import]:
    return [
        i for module in graph.values() if within(module.name, "overcast.dashboard")
        for i in module.imports
        if within(i.module, "overcast") and not within(i.module, *DASHBOARD_MAY_IMPORT)
        and not (module.name == DASHBOARD_SESSION_STORE and within(i.module, *SESSION_STORE_MAY_IMPORT))
    ]  # fmt: skip


MAIL_MAY_IMPORT = ("overcast.mail", "overcast.config", "overcast.errors")
PORTAL_IMPORTERS = ("overcast.portal", "overcast.api.portal", "overcast.api.assembly", "overcast.api.openapi",
                    "overcast.cli")  # fmt: skip


def mail_reaching_up(graph: Graph) -> list[Import]:
    return [
        i for module in graph.values() if within(module.name, "overcast.mail")
        for i in module.imports if within(i.module, "overcast") and not within(i.module, *MAIL_MAY_IMPORT)
    ]  # fmt: skip


def portal_imported_below(graph: Graph) -> list[Import]:
    return [
        i for module in graph.values() if not within(module.name, *PORTAL_IMPORTERS)
        for i in module.imports if within(i.module, "overcast.portal")
    ]  # fmt: skip


VOLUME_API_SIDE = ("overcast.api", "overcast.volume.api")
# The volume host's code: its manager, the data endpoint, image copies and the drivers.
VOLUME_HOST_SIDE = (
    "overcast.volume.manager", "overcast.volume.data_actions", "overcast.volume.image_transfer",
    "overcast.volume.drivers",
)  # fmt: skip


def volume_sides_reaching_each_other(graph: Graph) -> list[Import]:
    """The API process (`overcast.api`, `volume/api/`) imports nothing of the volume host, nor the host
    anything of the API process: they meet through `volume/rpcapi.py` and the shared records."""
    found = []
    for module in graph.values():
        if within(module.name, *VOLUME_API_SIDE):
            forbidden: tuple[str, ...] = VOLUME_HOST_SIDE
        elif within(module.name, *VOLUME_HOST_SIDE):
            forbidden = VOLUME_API_SIDE
        else:
            continue
        found += [i for i in module.imports if within(i.module, *forbidden)]
    return found


# What the scheduler may know of compute: the state table, and the client that names compute's binary.
SCHEDULER_MAY_IMPORT_FROM_COMPUTE = frozenset({"overcast.compute.states", "overcast.compute.rpcapi"})


def scheduler_reaching_into_compute(graph: Graph) -> list[Import]:
    return [
        i for module in graph.values() if within(module.name, "overcast.scheduler")
        for i in module.imports
        if within(i.module, "overcast.compute") and i.module not in SCHEDULER_MAY_IMPORT_FROM_COMPUTE
    ]  # fmt: skip


COMPUTE_API = "overcast.compute.api"
COMPUTE_HOST = "overcast.compute.manager"
# Code both processes share, and the services that are neither: they may import neither side.
NEITHER_SIDE = ("overcast.compute", "overcast.conductor", "overcast.scheduler", "overcast.placement")


def compute_sides_reaching_each_other(graph: Graph) -> list[Import]:
    """The API process (`overcast.api`, `compute/api/`) imports nothing of the compute host
    (`compute/manager/`), nor the host anything of the API process; the rest of compute (the shared
    records, rpcapi) and the conductor, scheduler and placement import neither side."""
    found = []
    for module in graph.values():
        if within(module.name, "overcast.api", COMPUTE_API):
            forbidden: tuple[str, ...] = (COMPUTE_HOST,)
        elif within(module.name, COMPUTE_HOST):
            forbidden = ("overcast.api", COMPUTE_API)
        elif within(module.name, *NEITHER_SIDE):
            forbidden = (COMPUTE_API, COMPUTE_HOST)
        else:
            continue
        found += [i for i in module.imports if within(i.module, *forbidden)]
    return found


SESSION_NAMES = frozenset({"Session", "sessionmaker", "scoped_session"})


def routers_touching_the_database(graph: Graph) -> list[Import]:
    """Routers (`api/openstack/**`, `api/ec2/**`) open no session (`.reader()`, `.writer()`, `db.write()`, a
    SQLAlchemy Session) and import no `db.engine`; a found session is reported as an Import of
    `overcast.db.engine`."""
    found = []
    for module in graph.values():
        if not (within(module.name, "overcast.api.openstack") or within(module.name, "overcast.api.ec2")):
            continue
        found += [i for i in module.imports if i.module == "overcast.db.engine"]
        for node in ast.walk(module.tree):
            if isinstance(node, ast.ImportFrom) and (node.module or "").startswith("sqlalchemy"):
                if SESSION_NAMES & {alias.name for alias in node.names}:
                    found.append(Import(module.name, "overcast.db.engine", "Session", node.lineno))
            elif isinstance(node, ast.Call) and opens_session(node.func):
                found.append(Import(module.name, "overcast.db.engine", ast.unparse(node.func), node.lineno))
    return found


def opens_session(called: ast.expr) -> bool:
    if not isinstance(called, ast.Attribute):
        return False
    if called.attr in ("reader", "writer"):
        return True
    receiver = called.value
    receiver_name = receiver.attr if isinstance(receiver, ast.Attribute) else getattr(receiver, "id", "")
    return called.attr == "write" and receiver_name == "db"


def is_private(name: str) -> bool:
    return name.startswith("_") and not (name.startswith("__") and name.endswith("__"))


def private_names_defined(tree: ast.Module) -> set[str]:
    """The private names a module gives a meaning: its functions, classes, variables, attributes it sets."""
    names: set[str] = set()
    for node in ast.walk(tree):
        if isinstance(node, (ast.FunctionDef, ast.AsyncFunctionDef, ast.ClassDef)):
            names.add(node.name)
        elif isinstance(node, ast.Attribute) and isinstance(node.ctx, ast.Store):
            names.add(node.attr)
        elif isinstance(node, ast.Name) and isinstance(node.ctx, ast.Store):
            names.add(node.id)
        elif isinstance(node, ast.arg):
            names.add(node.arg)
    return {name for name in names if is_private(name)}


def private_names_of_other_modules(graph: Graph) -> list[Import]:
    """`from m import _x`, `m._x` for an imported module m, `C._x` for a class C imported from m, and
    `obj._x` on an object reached through attributes (`self.driver.firewall._x`) when `_x` is a private
    name another overcast module defines and this one does not (its own `self._x`/`cls._x` are its own)."""
    found = []
    defined = {name: private_names_defined(module.tree) for name, module in graph.items()}
    definers: dict[str, set[str]] = {}
    for name, privates in defined.items():
        for private in privates:
            definers.setdefault(private, set()).add(name)
    for module in graph.values():
        found += [i for i in module.imports if i.name and is_private(i.name) and i.module != module.name]
        bound = {i.bound_as: i for i in module.imports if i.bound_as and i.module != module.name}
        for node in ast.walk(module.tree):
            if not (isinstance(node, ast.Attribute) and is_private(node.attr)):
                continue
            receiver = node.value.id if isinstance(node.value, ast.Name) else None
            owner = bound.get(receiver) if receiver else None
            if owner is not None:
                taken = f"{owner.name}.{node.attr}" if owner.name else node.attr
                found.append(Import(module.name, owner.module, taken, node.lineno))
            elif receiver not in ("self", "cls") and node.attr not in defined[module.name]:
                for definer in sorted(definers.get(node.attr, set())):
                    found.append(Import(module.name, definer, ast.unparse(node), node.lineno))
    return found


# Violations that exist today, as (importer, imported module[, name]); each names the #13 item removing it.
KNOWN_VIOLATIONS: dict[str, set[tuple[str, ...]]] = {
    "clients_reaching_a_manager": set(),
    "rpc_clients_outside_rpcapi": set(),
    "virt_reaching_up": set(),
    "volume_sides_reaching_each_other": set(),
    "volume_drivers_reaching_up": set(),
    "scheduler_reaching_into_compute": set(),
    "compute_sides_reaching_each_other": set(),
    "routers_touching_the_database": set(),
    "private_names_of_other_modules": set(),
    "dashboard_reaching_past_the_apis": set(),
    "mail_reaching_up": set(),
    "portal_imported_below": set(),
}


def known(rule: str, found: Import) -> bool:
    return any(known_as(entry, found) for entry in KNOWN_VIOLATIONS[rule])


def known_as(entry: tuple[str, ...], found: Import) -> bool:
    return entry in {(found.importer, found.module), (found.importer, found.module, found.name or "")}


RULES: dict[str, Rule] = {
    "clients_reaching_a_manager": clients_reaching_a_manager,
    "rpc_clients_outside_rpcapi": rpc_clients_outside_rpcapi,
    "virt_reaching_up": virt_reaching_up,
    "volume_sides_reaching_each_other": volume_sides_reaching_each_other,
    "volume_drivers_reaching_up": volume_drivers_reaching_up,
    "scheduler_reaching_into_compute": scheduler_reaching_into_compute,
    "compute_sides_reaching_each_other": compute_sides_reaching_each_other,
    "routers_touching_the_database": routers_touching_the_database,
    "private_names_of_other_modules": private_names_of_other_modules,
    "dashboard_reaching_past_the_apis": dashboard_reaching_past_the_apis,
    "mail_reaching_up": mail_reaching_up,
    "portal_imported_below": portal_imported_below,
}


def new_violations(graph: Graph, rule: str) -> list[str]:
    return sorted(str(found) for found in RULES[rule](graph) if not known(rule, found))


def test_rpc_clients_import_no_manager() -> None:
    assert new_violations(overcast_graph(), "clients_reaching_a_manager") == []


def test_only_the_rpcapi_base_builds_rpc_clients() -> None:
    assert new_violations(overcast_graph(), "rpc_clients_outside_rpcapi") == []


def test_virt_imports_nothing_above_it() -> None:
    assert new_violations(overcast_graph(), "virt_reaching_up") == []


def test_volume_drivers_import_nothing_above_them() -> None:
    assert new_violations(overcast_graph(), "volume_drivers_reaching_up") == []


def test_volume_api_and_volume_host_meet_only_through_rpcapi_and_shared_records() -> None:
    assert new_violations(overcast_graph(), "volume_sides_reaching_each_other") == []


def test_scheduler_knows_compute_only_by_its_states_and_client() -> None:
    assert new_violations(overcast_graph(), "scheduler_reaching_into_compute") == []


def test_compute_api_and_compute_host_meet_only_through_rpcapi_and_shared_records() -> None:
    assert new_violations(overcast_graph(), "compute_sides_reaching_each_other") == []


def test_routers_open_no_database_session() -> None:
    assert new_violations(overcast_graph(), "routers_touching_the_database") == []


def test_no_module_takes_another_modules_private_names() -> None:
    assert new_violations(overcast_graph(), "private_names_of_other_modules") == []


def test_mail_imports_only_its_settings_and_errors() -> None:
    assert new_violations(overcast_graph(), "mail_reaching_up") == []


def test_only_the_composition_root_routes_and_cli_import_the_portal() -> None:
    assert new_violations(overcast_graph(), "portal_imported_below") == []


def test_the_dashboard_reaches_the_cloud_only_through_its_apis() -> None:
    assert new_violations(overcast_graph(), "dashboard_reaching_past_the_apis") == []


def module_constants(module: Module) -> dict[str, object]:
    return {
        target.id: node.value.value
        for node in module.tree.body if isinstance(node, ast.Assign) and isinstance(node.value, ast.Constant)
        for target in node.targets if isinstance(target, ast.Name)
    }  # fmt: skip


def test_topic_and_binary_names_are_spelled_only_by_their_client() -> None:
    """Each service's TOPIC and BINARY are constants of its rpcapi.py; its binary is spelled nowhere else."""
    graph = overcast_graph()
    packages = {name.rpartition(".")[0] for name, module in graph.items() if module.leaf == "manager"}
    services = packages - {"overcast"}
    binaries = set()
    for package in services:
        constants = module_constants(graph[f"{package}.rpcapi"])
        assert isinstance(constants.get("TOPIC"), str) and isinstance(constants.get("BINARY"), str), package
        binaries.add(constants["BINARY"])
    spelled_elsewhere = [
        f"{name}:{node.lineno} {node.value!r}"
        for name, module in graph.items() if module.leaf != "rpcapi"
        for node in ast.walk(module.tree) if isinstance(node, ast.Constant) and node.value in binaries
    ]  # fmt: skip
    assert spelled_elsewhere == []


def test_allow_lists_name_only_live_violations() -> None:
    """A violation that is gone leaves its allow-list, so it cannot come back unnoticed."""
    graph = overcast_graph()
    cycles = strongly_connected(graph)
    stale = [sorted(known) for known in KNOWN_CYCLES if not any(set(cycle) <= known for cycle in cycles)]
    for rule, allowed in KNOWN_VIOLATIONS.items():
        found = RULES[rule](graph)
        stale += [[rule, *entry] for entry in allowed if not any(known_as(entry, i) for i in found)]
    assert stale == [], "delete these allow-list entries: the violations are gone"


# --- the rules catch what they should -------------------------------------------------------------------
def test_each_rule_catches_a_forbidden_import() -> None:
    forbidden = {
        "clients_reaching_a_manager": ("overcast.volume.rpcapi", "from overcast.conductor import manager\n"),
        "rpc_clients_outside_rpcapi": ("overcast.volume.api", "from overcast.bus import RPCClient\n"),
        "virt_reaching_up": ("overcast.virt.broken", "def f():\n    from overcast.db import engine\n"),
        "dashboard_reaching_past_the_apis": ("overcast.dashboard.broken", "from overcast.db import engine\n"),
        "mail_reaching_up": ("overcast.mail.broken", "from overcast.db import engine\n"),
        "portal_imported_below": ("overcast.billing.broken", "from overcast.portal import service\n"),
        "volume_sides_reaching_each_other": ("overcast.volume.api.broken", "import overcast.volume.manager"),
        "volume_drivers_reaching_up": ("overcast.volume.drivers.broken", "import overcast.volume.api\n"),
        "scheduler_reaching_into_compute": ("overcast.scheduler.broken", "import overcast.compute.api\n"),
        "compute_sides_reaching_each_other": (
            "overcast.compute.api.broken", "def f():\n    from overcast.compute.manager import host\n"
        ),
        "routers_touching_the_database": (
            "overcast.api.openstack.broken", "def route(req):\n    with req.db.reader():\n        ...\n"
        ),
        "private_names_of_other_modules": (
            "overcast.volume.broken",
            "from overcast.compute.api.flavors import FlavorAPI\nFlavorAPI._hidden()\n",
        ),
    }  # fmt: skip
    reached = import_graph(
        {
            "overcast.volume.broken": "def f(driver):\n    driver.firewall._port_chains()\n",
            "overcast.volume.owner": "class Firewall:\n    def _port_chains(self): ...\n",
        }
    )
    found = new_violations(reached, "private_names_of_other_modules")
    assert any("overcast.volume.broken" in violation for violation in found)
    for rule, (name, source) in forbidden.items():
        graph = import_graph({name: source})
        assert any(name in found for found in new_violations(graph, rule)), rule
    sides = {
        "overcast.compute.manager.broken": "from overcast.compute.api.servers import ServerAPI\n",
        "overcast.compute.broken": "from overcast.compute.manager.host import ComputeHost\n",
        "overcast.conductor.broken": "import overcast.compute.api.lookup\n",
    }
    for name, source in sides.items():
        found = new_violations(import_graph({name: source}), "compute_sides_reaching_each_other")
        assert any(name in violation for violation in found), name
    # The session store's exception is its own table only: another model, or another module, is refused.
    for name, source in {
        DASHBOARD_SESSION_STORE: "from overcast.db.models.compute import Instance\n",
        "overcast.dashboard.pages.broken": "from overcast.db.models.dashboard_sessions import Row\n",
    }.items():
        found = new_violations(import_graph({name: source}), "dashboard_reaching_past_the_apis")
        assert any(name in violation for violation in found), name
    cyclic = import_graph({"overcast.volume.one": "import overcast.volume.two\n",
                           "overcast.volume.two": "import overcast.volume.one\n"})  # fmt: skip
    assert ["overcast.volume.one", "overcast.volume.two"] in unexpected_cycles(cyclic)
