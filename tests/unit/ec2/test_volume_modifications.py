"""What a ModifyVolume's record reads from the volume service's view of the volume (`derive`), and its
records' writes on a real database: one modification of a volume at a time, state changes by
compare-and-swap."""

from __future__ import annotations

from datetime import UTC, datetime

import pytest

from overcast.db.engine import Database
from overcast.db.models.ec2 import Ec2VolumeModification
from overcast.ec2.errors import Ec2Error
from overcast.ec2.volume_modifications import (
    COMPLETED,
    FAILED,
    MODIFYING,
    Asked,
    Outcome,
    VolumeSeen,
    begin,
    derive,
    refresh,
    settle,
)

NOW = datetime(2026, 1, 1, 12, tzinfo=UTC)
VOLUME = {"id": "v-uuid", "size": 1, "volume_type": "standard", "multiattach": False}


def _grow(state: str = MODIFYING, *, accepted: bool = True) -> Ec2VolumeModification:
    """A modification from 1 GiB to 3 GiB that also changes the type from `standard` to `fast`."""
    return Ec2VolumeModification(
        id=1, project_id="p", volume_uuid="v", volume_ec2_id="vol-0123456789abcdef0", state=state,
        accepted=accepted, original_size=1, target_size=3, original_volume_type="standard",
        target_volume_type="fast", original_multi_attach=False, target_multi_attach=False, progress=0,
        start_time=datetime(2026, 1, 1, tzinfo=UTC),
    )  # fmt: skip


@pytest.mark.parametrize("status", ["extending", "retyping"])
def test_it_stays_modifying_while_the_volume_service_works(status: str) -> None:
    assert derive(_grow(), VolumeSeen(status, 1, "fast")) is None


def test_it_completes_when_the_volume_has_the_target_size_and_type() -> None:
    assert derive(_grow(), VolumeSeen("available", 3, "fast")) == Outcome(COMPLETED, 100)
    assert derive(_grow(), VolumeSeen("in-use", 3, "fast")) == Outcome(COMPLETED, 100)


def test_a_failed_extend_fails_it_with_the_volume_service_s_reason() -> None:
    outcome = derive(_grow(), VolumeSeen("error_extending", 1, "fast", "disk full"))
    assert outcome == Outcome(FAILED, 0, "disk full")
    assert outcome.finished
    assert derive(_grow(), VolumeSeen("error_extending", 1, "fast")) == Outcome(
        FAILED, 0, "The volume service could not extend the volume."
    )


def test_a_deleted_volume_fails_it() -> None:
    outcome = derive(_grow(), None)
    assert outcome is not None and outcome.state == FAILED and "deleted" in (outcome.message or "")


def test_a_volume_settled_short_of_the_target_fails_it_once_the_volume_service_took_it() -> None:
    short = VolumeSeen("available", 1, "fast")
    outcome = derive(_grow(), short)
    assert outcome is not None and outcome.state == FAILED
    assert "1 GiB of type fast" in (outcome.message or "")
    # Before the volume service took the request, the old size only means it has not begun.
    assert derive(_grow(accepted=False), short) is None
    assert derive(_grow(), VolumeSeen("available", 3, "standard")) is not None


@pytest.mark.parametrize("state", [COMPLETED, FAILED])
def test_a_finished_modification_never_changes(state: str) -> None:
    assert derive(_grow(state), None) is None
    assert derive(_grow(state), VolumeSeen("error_extending", 1, "standard", "late")) is None


def _clock() -> datetime:
    return NOW


def _stored(db: Database, row_id: int) -> Ec2VolumeModification:
    with db.reader() as session:
        row = session.get(Ec2VolumeModification, row_id)
        assert row is not None
        session.expunge(row)
        return row


def test_a_volume_takes_one_modification_at_a_time(db: Database) -> None:
    row = begin(db, _clock, "p1", "vol-0123456789abcdef0", VOLUME, Asked(3, None))
    stored = _stored(db, row.id)
    assert (stored.state, stored.accepted, stored.original_size, stored.target_size) == (
        MODIFYING,
        False,
        1,
        3,
    )
    assert (row.state, row.target_volume_type, row.start_time) == (MODIFYING, "standard", NOW)
    with pytest.raises(Ec2Error) as busy:
        begin(db, _clock, "p1", "vol-0123456789abcdef0", VOLUME, Asked(4, None))
    assert busy.value.code == "IncorrectModificationState"
    # Another project's record of the same volume id is no obstacle (nor shown to it).
    begin(db, _clock, "p2", "vol-0123456789abcdef0", VOLUME, Asked(4, None))
    # The volume service took it and is still growing the volume.
    settle(db, _clock, row, VolumeSeen("extending", 1, "standard"))
    assert (_stored(db, row.id).accepted, _stored(db, row.id).state) == (True, MODIFYING)
    refresh(db, _clock, [_stored(db, row.id)], lambda _: VolumeSeen("available", 3, "standard"))
    assert _stored(db, row.id).state == COMPLETED
    begin(db, _clock, "p1", "vol-0123456789abcdef0", VOLUME, Asked(5, None))


def test_settling_records_the_volume_service_s_answer_and_its_outcome_at_once(db: Database) -> None:
    row = begin(db, _clock, "p1", "vol-0123456789abcdef2", VOLUME, Asked(3, None))
    settle(db, _clock, row, VolumeSeen("available", 1, "standard"), "Quota exceeded for gigabytes.")
    stored = _stored(db, row.id)
    assert (stored.state, stored.accepted, stored.end_time) == (FAILED, True, NOW)
    assert "instead of 3 GiB" in (stored.status_message or "")
    assert (row.state, row.status_message) == (stored.state, stored.status_message)


def test_two_readers_of_one_outcome_write_it_once_and_the_later_shows_the_first(db: Database) -> None:
    row = begin(db, _clock, "p1", "vol-0123456789abcdef1", VOLUME, Asked(3, None))
    settle(db, _clock, row, VolumeSeen("extending", 1, "standard"))
    first, second = _stored(db, row.id), _stored(db, row.id)
    refresh(db, _clock, [first], lambda _: VolumeSeen("error_extending", 1, "standard", "disk full"))
    # The second reader saw the record still modifying, and now sees the volume back at its old size: its
    # compare-and-swap loses, and it shows what the first wrote rather than its own conclusion.
    refresh(db, _clock, [second], lambda _: VolumeSeen("available", 1, "standard"))
    stored = _stored(db, row.id)
    assert (stored.state, stored.status_message, stored.end_time) == (FAILED, "disk full", NOW)
    assert (second.state, second.status_message) == (FAILED, "disk full")
