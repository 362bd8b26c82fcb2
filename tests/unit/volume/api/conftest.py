"""The api tests' cloud: VolumeAPI with an in-process volume host on the fake driver."""

from __future__ import annotations

from pathlib import Path

import pytest

from overcast.db import Database
from overcast.volume.api.service import VolumeAPI
from tests.unit.volume.data_support import InProcessHost, in_process_cloud


@pytest.fixture
def cloud(db: Database, tmp_path: Path) -> tuple[VolumeAPI, InProcessHost]:
    return in_process_cloud(db, tmp_path)
