"""Key pairs: generation with cryptography, import, fingerprints as ssh-keygen computes them."""

from __future__ import annotations

import shutil
import subprocess
from pathlib import Path

import pytest

from overcast import errors
from overcast.compute.api.keypairs import KeyPairAPI, fingerprint, generate_key
from overcast.context import RequestContext
from overcast.db import Database
from overcast.quota import QuotaEngine

ALICE = RequestContext(user_id="alice", project_id="p1", roles=("member",))
BOB = RequestContext(user_id="bob", project_id="p1", roles=("member",))


@pytest.mark.skipif(shutil.which("ssh-keygen") is None, reason="needs ssh-keygen")
def test_fingerprint_matches_ssh_keygen(tmp_path: Path) -> None:
    key = generate_key()
    path = tmp_path / "key.pub"
    path.write_text(key.public_key + "\n")
    out = subprocess.run(["ssh-keygen", "-l", "-E", "md5", "-f", str(path)], capture_output=True, text=True,
                         check=True).stdout  # fmt: skip
    assert out.split()[1] == "MD5:" + fingerprint(key.public_key)


@pytest.mark.skipif(shutil.which("ssh-keygen") is None, reason="needs ssh-keygen")
def test_generated_private_key_is_usable_by_openssh(tmp_path: Path) -> None:
    key = generate_key()
    path = tmp_path / "id_rsa"
    path.write_text(key.private_key)
    path.chmod(0o600)
    derived = subprocess.run(["ssh-keygen", "-y", "-f", str(path)], capture_output=True, text=True,
                             check=True).stdout.split()  # fmt: skip
    assert derived[:2] == key.public_key.split()[:2]


@pytest.mark.parametrize("bad", ["", "ssh-rsa", "ssh-rsa not-base64!", "ssh-rsa AAAAB3NzaC1yc2E= x"])
def test_invalid_public_keys_are_bad_requests(bad: str) -> None:
    with pytest.raises(errors.BadRequest):
        fingerprint(bad)


def test_keypairs_belong_to_their_user(db: Database) -> None:
    api = KeyPairAPI(db, QuotaEngine())
    created, private_key = api.create(ALICE, "mine")
    assert private_key is not None and created.user_id == "alice"
    with pytest.raises(errors.Conflict):
        api.create(ALICE, "mine", created.public_key)
    assert [k.name for k in api.list(BOB)] == []
    with pytest.raises(errors.NotFound):
        api.get(BOB, "mine")
    with pytest.raises(errors.Forbidden):
        api.list(BOB, user_id="alice")
    imported, no_private = api.create(BOB, "mine", created.public_key)
    assert no_private is None and imported.fingerprint == created.fingerprint
    api.delete(ALICE, "mine")
    with pytest.raises(errors.NotFound):
        api.delete(ALICE, "mine")
    assert [k.user_id for k in api.list(RequestContext.admin(), user_id="bob")] == ["bob"]


def test_keypair_quota_counts_the_users_keys(db: Database) -> None:
    quotas = QuotaEngine()
    with db.writer() as session:
        quotas.set_limits(session, "p1", {"key_pairs": 1})
    api = KeyPairAPI(db, quotas)
    key = generate_key().public_key
    api.create(ALICE, "one", key)
    with pytest.raises(errors.QuotaExceeded):
        api.create(ALICE, "two", key)
