"""Signed tokens: round trip, tampering, expiry under an injected clock, key rotation."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest

from overcast.config import load_settings
from overcast.identity.tokens import (
    InvalidToken,
    KeyRepository,
    TokenPayload,
    TokenSigner,
    new_audit_id,
    rotate_keys,
)
from tests.support.clock import FakeClock

START = datetime(2030, 1, 1, tzinfo=UTC)


def payload(ttl: timedelta = timedelta(hours=1), **changes: object) -> TokenPayload:
    fields: dict[str, object] = {
        "user_id": "u1",
        "user_domain_id": "default",
        "methods": ("password",),
        "issued_at": START,
        "expires_at": START + ttl,
        "audit_ids": (new_audit_id(),),
        "project_id": "p1",
        "roles": ("member", "reader"),
        "user_name": "alice",
        "project_name": "demo",
    }
    fields.update(changes)
    return TokenPayload(**fields)  # type: ignore[arg-type]


@pytest.fixture
def keys(tmp_path: Path) -> KeyRepository:
    return KeyRepository(tmp_path / "keys.json", max_active_keys=3)


def test_round_trip_keeps_every_field(keys: KeyRepository) -> None:
    signer = TokenSigner(keys, FakeClock(START))
    original = payload(domain_id=None, application_credential_id="ac1")
    assert signer.decode(signer.encode(original)) == original


def test_tampered_payload_or_mac_is_rejected(keys: KeyRepository) -> None:
    signer = TokenSigner(keys, FakeClock(START))
    token = signer.encode(payload())
    prefix, body, mac = token.split(".")
    forged = signer.encode(payload(roles=("admin",))).split(".")[1]
    for bad in (f"{prefix}.{forged}.{mac}", f"{prefix}.{body}.{mac[:-2]}AA", "oc1.garbage", "", "x.y.z"):
        with pytest.raises(InvalidToken):
            signer.decode(bad)


def test_token_signed_by_another_repository_is_rejected(tmp_path: Path, keys: KeyRepository) -> None:
    other = TokenSigner(KeyRepository(tmp_path / "other.json"), FakeClock(START))
    with pytest.raises(InvalidToken):
        TokenSigner(keys, FakeClock(START)).decode(other.encode(payload()))


def test_expired_token_is_rejected(keys: KeyRepository) -> None:
    clock = FakeClock(START)
    signer = TokenSigner(keys, clock)
    token = signer.encode(payload(ttl=timedelta(minutes=5)))
    clock.now = START + timedelta(minutes=4, seconds=59)
    assert signer.decode(token).user_id == "u1"
    clock.now = START + timedelta(minutes=5)
    with pytest.raises(InvalidToken, match="expired"):
        signer.decode(token)


def test_rotation_keeps_recent_keys_and_forgets_old_ones(keys: KeyRepository) -> None:
    signer = TokenSigner(keys, FakeClock(START))
    first = signer.encode(payload())
    keys.rotate()
    second = signer.encode(payload())
    assert first.split(".")[1] != second.split(".")[1]
    assert signer.decode(first).user_id == "u1"
    keys.rotate()
    assert signer.decode(first).user_id == "u1"
    keys.rotate()  # three keys are kept: the one that signed `first` is gone now
    with pytest.raises(InvalidToken):
        signer.decode(first)
    assert signer.decode(second).user_id == "u1"


def test_rotate_keys_entry_point_changes_the_primary_key(tmp_path: Path) -> None:
    settings = load_settings(data_dir=tmp_path)
    repository = KeyRepository.for_settings(settings)
    before = repository.load()[0].key_id
    new_id = rotate_keys(settings)
    assert new_id != before
    assert [key.key_id for key in repository.load()][:2] == [new_id, before]
    assert (repository.path.stat().st_mode & 0o777) == 0o600


def test_a_remembered_token_stops_working_once_another_process_rotates_its_key_out(tmp_path: Path) -> None:
    path = tmp_path / "keys.json"
    signer = TokenSigner(KeyRepository(path, max_active_keys=2), FakeClock(START), key_recheck_seconds=0)
    token = signer.encode(payload())
    assert signer.decode(token).user_id == "u1"
    assert signer.decode(token).user_id == "u1"  # from the map of verified tokens
    other_process = KeyRepository(path, max_active_keys=2)
    other_process.rotate()
    other_process.rotate()
    with pytest.raises(InvalidToken):
        signer.decode(token)
