"""EC2 volume modifications on PostgreSQL (migration 0042): ModifyVolume's record begun from many threads at
once for one volume is written once, and many readers bringing one record up to its volume's outcome
write it once, the others showing what the first wrote."""

from __future__ import annotations

import itertools
import threading
from collections.abc import Callable, Iterator
from datetime import UTC, datetime, timedelta

import pytest

from overcast.db import Database
from overcast.db.models.ec2 import Ec2VolumeModification
from overcast.ec2.errors import Ec2Error
from overcast.ec2.volume_modifications import COMPLETED, Asked, VolumeSeen, begin, refresh, settle

pytestmark = pytest.mark.postgresql

START = datetime(2031, 3, 1, tzinfo=UTC)
THREADS = 8
VOLUME = {"id": "v-uuid", "size": 1, "volume_type": "standard", "multiattach": False}


@pytest.fixture
def database(postgres_db_url: str) -> Iterator[Database]:
    db = Database(postgres_db_url)
    db.upgrade()
    yield db
    db.dispose()


def _ticking() -> Callable[[], datetime]:
    """A clock whose every reading is a second later, so each writer's time is its own."""
    ticks = itertools.count()
    lock = threading.Lock()

    def now() -> datetime:
        with lock:
            return START + timedelta(seconds=next(ticks))

    return now


def _together(work: Callable[[int], object]) -> list[object]:
    barrier = threading.Barrier(THREADS)
    results: list[object] = [None] * THREADS

    def run(index: int) -> None:
        barrier.wait()
        try:
            results[index] = work(index)
        except Exception as error:  # the test counts what each thread met
            results[index] = error

    threads = [threading.Thread(target=run, args=(index,)) for index in range(THREADS)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(timeout=60)
    return results


def test_one_volume_takes_one_of_many_concurrent_modifications(database: Database) -> None:
    clock = _ticking()
    results = _together(
        lambda size: begin(database, clock, "p1", "vol-0123456789abcdef0", VOLUME, Asked(size + 2, None))
    )
    begun = [result for result in results if isinstance(result, Ec2VolumeModification)]
    refused = [result for result in results if isinstance(result, Ec2Error)]
    assert len(begun) == 1 and len(refused) == THREADS - 1, results
    assert {error.code for error in refused} == {"IncorrectModificationState"}
    with database.reader() as session:
        assert session.query(Ec2VolumeModification).count() == 1


def test_many_readers_write_one_outcome_once(database: Database) -> None:
    clock = _ticking()
    row = begin(database, clock, "p1", "vol-0123456789abcdef1", VOLUME, Asked(3, None))
    settle(database, clock, row, VolumeSeen("extending", 1, "standard"))

    def read(_: int) -> Ec2VolumeModification:
        with database.reader() as session:
            mine = session.get(Ec2VolumeModification, row.id)
            assert mine is not None
            session.expunge(mine)
        refresh(database, clock, [mine], lambda _: VolumeSeen("available", 3, "standard"))
        return mine

    seen = _together(read)
    with database.reader() as session:
        stored = session.get(Ec2VolumeModification, row.id)
        assert stored is not None and stored.state == COMPLETED and stored.end_time is not None
        ended = stored.end_time
    assert all(isinstance(mine, Ec2VolumeModification) for mine in seen), seen
    assert {(mine.state, mine.end_time) for mine in seen if isinstance(mine, Ec2VolumeModification)} == {
        (COMPLETED, ended)
    }
