"""The network service's tests of tests/unit/network/ again on a real PostgreSQL server.

Every test function of the service's modules is collected here too, with `db_url` overridden so each test
gets a fresh PostgreSQL database: concurrent port creates never share an address and a wanted address has
one winner, concurrent first lists make one default security group, concurrent subnets from one pool get
distinct CIDRs, and everything else holds as on SQLite.
"""

from __future__ import annotations

from types import ModuleType

import pytest

from tests.unit.network import test_ports, test_routers, test_security_groups, test_subnet_pools

pytestmark = pytest.mark.postgresql

_SHARED_MODULES: tuple[ModuleType, ...] = (test_ports, test_security_groups, test_routers, test_subnet_pools)


def _share_tests(namespace: dict[str, object]) -> None:
    for module in _SHARED_MODULES:
        for name, value in vars(module).items():
            if name.startswith("test_") and callable(value):
                assert name not in namespace, f"two shared network tests are called {name}"
                namespace[name] = value
    # Module-level fixtures those tests use.
    namespace["api"] = test_ports.api
    namespace["public"] = test_routers.public


_share_tests(globals())


@pytest.fixture
def db_url(postgres_db_url: str) -> str:
    return postgres_db_url
