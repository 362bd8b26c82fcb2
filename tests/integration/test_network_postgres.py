"""Concurrent port creates on PostgreSQL: never one address for two ports, one winner for a wanted one."""

from __future__ import annotations

from pathlib import Path

import pytest

from overcast.db import Database
from tests.unit.network.test_ports import check_parallel_ports_get_distinct_addresses, network_api
from tests.unit.network.test_security_groups import check_first_lists_make_one_default_group

pytestmark = pytest.mark.postgresql


@pytest.fixture
def db_url(postgres_db_url: str) -> str:
    return postgres_db_url


def test_parallel_port_creates_never_share_an_address_on_postgresql(db: Database, tmp_path: Path) -> None:
    check_parallel_ports_get_distinct_addresses(network_api(db, tmp_path))


def test_concurrent_first_lists_make_one_default_group_on_postgresql(db: Database, tmp_path: Path) -> None:
    check_first_lists_make_one_default_group(network_api(db, tmp_path))
