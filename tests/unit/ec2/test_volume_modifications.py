"""What a ModifyVolume's record reads from the volume service's view of the volume (`derive`)."""

from __future__ import annotations

from datetime import UTC, datetime

import pytest

from overcast.db.models.ec2 import Ec2VolumeModification
from overcast.ec2.volume_modifications import COMPLETED, FAILED, MODIFYING, Outcome, VolumeSeen, derive


def _grow(state: str = MODIFYING, *, accepted: bool = True) -> Ec2VolumeModification:
    """A modification from 1 GiB to 3 GiB that also changes the type from `standard` to `fast`."""
    return Ec2VolumeModification(
        id="m-1", project_id="p", volume_uuid="v", volume_ec2_id="vol-0123456789abcdef0", state=state,
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
