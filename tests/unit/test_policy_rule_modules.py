"""The policy engine's one dependency the import graph cannot see.

`overcast.policy` loads each service's rules by module name (`SERVICE_RULE_MODULES`), so that the engine
imports no service. `tests/unit/test_layering.py` reads `import` statements and cannot follow a name in a
string; these tests hold the two facts that keep the hidden edge harmless: the list names every
`policies.py` (and a service's `*_policies.py`) in the tree (a new service's rules cannot be
forgotten), and a rule module imports nothing of
Overcast but the engine and its request context (loading rules never drags a service in, so no cycle can
hide behind the string).
"""

from __future__ import annotations

import ast
from pathlib import Path

import overcast
from overcast import policy

SOURCE_ROOT = Path(overcast.__file__).parent


def _module_name(path: Path) -> str:
    return ".".join(("overcast", *path.relative_to(SOURCE_ROOT).with_suffix("").parts))


def _overcast_imports(path: Path) -> set[str]:
    imported: set[str] = set()
    for node in ast.walk(ast.parse(path.read_text(), str(path))):
        if isinstance(node, ast.ImportFrom) and node.module and node.level == 0:
            imported.add(node.module)
        elif isinstance(node, ast.ImportFrom) and node.level:
            imported.add("." * node.level + (node.module or ""))
        elif isinstance(node, ast.Import):
            imported.update(alias.name for alias in node.names)
    return {name for name in imported if name.startswith(("overcast", "."))}


def test_the_engine_loads_every_policies_module_in_the_tree() -> None:
    # A service's rules are its policies.py; a part of one may keep its own (portal/tickets_policies.py).
    # The API's routers (api/, e.g. routes_policies.py serving /v3/policies) are not rule modules.
    in_tree = {
        _module_name(path) for path in SOURCE_ROOT.rglob("*policies.py")
        if path.name == "policies.py" or path.relative_to(SOURCE_ROOT).parts[0] != "api"
    }  # fmt: skip
    assert set(policy.SERVICE_RULE_MODULES) == in_tree


def test_rule_modules_import_nothing_of_overcast_but_the_engine() -> None:
    for name in policy.SERVICE_RULE_MODULES:
        path = SOURCE_ROOT.joinpath(*name.split(".")[1:]).with_suffix(".py")
        # The request context is the engine's own argument type (a leaf module): a rule class checking a
        # token's scope takes it too.
        allowed = {"overcast.policy", "overcast.context"}
        assert _overcast_imports(path) <= allowed, f"{name} imports more than the policy engine"
