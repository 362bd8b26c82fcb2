"""Snapshots, backups and transfers on PostgreSQL: the unit tests' flows (compare-and-swaps, quota
counted, moved and given back in the resources' transactions) each on a fresh database of a real server."""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path
from typing import Any

import pytest

from overcast.db import Database
from overcast.volume.api.service import VolumeAPI
from tests.unit.volume.api import test_backups as backups
from tests.unit.volume.api import test_snapshots as snapshots
from tests.unit.volume.api import test_transfers as transfers
from tests.unit.volume.data_support import InProcessHost, in_process_cloud

pytestmark = pytest.mark.postgresql

FLOWS: list[Callable[..., Any]] = [
    snapshots.test_snapshot_holds_the_bytes_of_its_moment_and_a_volume_made_from_it_reads_them,
    snapshots.test_revert_to_the_latest_snapshot_only,
    snapshots.test_delete_removes_storage_row_and_quota_and_refuses_a_volume_with_snapshots,
    snapshots.test_cascading_volume_delete_takes_its_snapshots,
    snapshots.test_snapshot_quota_is_413_and_makes_nothing,
    backups.test_full_then_incremental_each_restores_its_own_bytes,
    backups.test_delete_refuses_a_parent_and_gives_back_data_and_quota,
    backups.test_backup_quota_is_413,
    backups.test_bad_input_is_a_clear_400_and_makes_nothing,
    transfers.test_accept_moves_volume_snapshots_and_quota,
    transfers.test_accept_over_the_receivers_quota_is_413_and_moves_nothing,
]


@pytest.fixture
def db_url(postgres_db_url: str) -> str:
    return postgres_db_url


@pytest.mark.parametrize("flow", FLOWS, ids=lambda flow: flow.__name__)
def test_flow_on_postgresql(flow: Callable[..., Any], db: Database, tmp_path: Path) -> None:
    cloud: tuple[VolumeAPI, InProcessHost] = in_process_cloud(db, tmp_path)
    arguments = {"cloud": cloud, "tmp_path": tmp_path}
    flow(**{name: arguments[name] for name in flow.__code__.co_varnames[: flow.__code__.co_argcount]})
