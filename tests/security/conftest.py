"""Security regression tests share the functional tests' module-scoped cloud and its two users.

`admin_token` and `demo_token` are project-scoped tokens on that cloud; a test that changes what the
others would see (a fuzzer, say) takes `fresh_cloud`, a cloud of its own.
"""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import pytest

from tests.functional.conftest import admin, cloud, demo
from tests.support.cloud import InProcessCloud, project_token

__all__ = ["admin", "admin_token", "cloud", "demo", "demo_token", "fresh_cloud"]


@pytest.fixture(scope="module")
def admin_token(cloud: InProcessCloud) -> str:
    return project_token(cloud, "admin")


@pytest.fixture(scope="module")
def demo_token(cloud: InProcessCloud) -> str:
    return project_token(cloud, "demo")


@pytest.fixture
def fresh_cloud(tmp_path: Path) -> Iterator[InProcessCloud]:
    running = InProcessCloud(tmp_path / "cloud")
    yield running
    running.stop()
