"""The proxy's signature of an instance id, and the shared secret both sides read."""

from __future__ import annotations

import stat
from pathlib import Path

from overcast.config import load_settings
from overcast.metadata import signing

INSTANCE = "6b1f4b9e-0c8a-4f5e-9d53-8f0e2f6c1a77"
# `printf %s INSTANCE | openssl dgst -sha256 -hmac s3cret`: the value Nova's and Neutron's code compute.
OPENSSL_SIGNATURE = "6ecff84f176aa6a18f7ae577e908f4f5093cb945dbb43e7460591f1eaffb1af8"


def test_signature_is_the_hex_hmac_sha256_of_the_instance_id() -> None:
    assert signing.sign("s3cret", INSTANCE) == OPENSSL_SIGNATURE


def test_only_the_right_signature_matches() -> None:
    assert signing.signature_matches("s3cret", INSTANCE, OPENSSL_SIGNATURE)
    assert not signing.signature_matches("other", INSTANCE, OPENSSL_SIGNATURE)
    assert not signing.signature_matches("s3cret", INSTANCE.replace("6b", "7b"), OPENSSL_SIGNATURE)
    assert not signing.signature_matches("s3cret", INSTANCE, OPENSSL_SIGNATURE.upper())
    assert not signing.signature_matches("s3cret", INSTANCE, OPENSSL_SIGNATURE[:-1])
    assert not signing.signature_matches("s3cret", INSTANCE, "é" * 64)


def test_signed_headers_carry_instance_tenant_and_signature() -> None:
    headers = signing.signed_headers("s3cret", INSTANCE, "project-a")
    assert headers == {"X-Instance-ID": INSTANCE, "X-Tenant-ID": "project-a",
                       "X-Instance-ID-Signature": OPENSSL_SIGNATURE}  # fmt: skip


def test_a_configured_secret_wins(tmp_path: Path) -> None:
    settings = load_settings(data_dir=tmp_path, metadata_proxy_shared_secret="configured")
    assert signing.shared_secret(settings) == "configured"
    assert not (tmp_path / signing.SECRET_FILE_NAME).exists()


def test_without_one_a_private_secret_is_made_once_in_the_data_dir(tmp_path: Path) -> None:
    first = signing.shared_secret(load_settings(data_dir=tmp_path))
    again = signing.shared_secret(load_settings(data_dir=tmp_path))
    path = tmp_path / signing.SECRET_FILE_NAME
    assert first == again == path.read_text().strip()
    assert len(first) == 64
    assert stat.S_IMODE(path.stat().st_mode) == 0o600
    assert [entry.name for entry in tmp_path.iterdir()] == [signing.SECRET_FILE_NAME]
    assert signing.shared_secret(load_settings(data_dir=tmp_path / "elsewhere")) != first
