"""CreateKeyPair, ImportKeyPair, DescribeKeyPairs, DeleteKeyPair: the compute service's key pairs of the
caller, with the fingerprints AWS shows (which are not the MD5 of the OpenSSH blob Nova shows):

- a key AWS generated: RSA, the SHA-1 of the private key in PKCS#8 DER; ED25519, the SHA-256 (base64);
- an imported key: RSA, the MD5 of the public key in DER (SubjectPublicKeyInfo); ED25519, the SHA-256.

A generated key's fingerprint needs its private key, which exists only at creation: it is kept beside
the key pair (`ec2_key_fingerprints`)."""

from __future__ import annotations

import base64
import binascii
import hashlib
from typing import Any

from cryptography.exceptions import UnsupportedAlgorithm
from cryptography.hazmat.primitives import serialization
from cryptography.hazmat.primitives.asymmetric import ed25519, rsa
from sqlalchemy import select

from overcast import errors
from overcast.compute import policies as compute_policies
from overcast.db.models.compute import KeyPair
from overcast.db.models.ec2 import Ec2KeyFingerprint
from overcast.ec2 import ids
from overcast.ec2.actions import Action
from overcast.ec2.backends import Backends, Ec2Request, Response
from overcast.ec2.errors import Ec2Error, invalid_value, missing_parameter
from overcast.ec2.filtering import FilterTable
from overcast.ec2.params import filters_of
from overcast.ec2.tags import set_tags, tag_set, tag_specifications, tags_of

NOT_FOUND = "InvalidKeyPair.NotFound"
KEY_TYPES = ("rsa", "ed25519")


def _colons(digest: bytes) -> str:
    return ":".join(f"{byte:02x}" for byte in digest)


def generated_fingerprint(private_key: rsa.RSAPrivateKey | ed25519.Ed25519PrivateKey) -> str:
    if isinstance(private_key, ed25519.Ed25519PrivateKey):
        return imported_fingerprint(private_key.public_key())
    der = private_key.private_bytes(
        serialization.Encoding.DER, serialization.PrivateFormat.PKCS8, serialization.NoEncryption()
    )
    # SHA-1 because it is the fingerprint AWS shows, not for security.
    return _colons(hashlib.sha1(der, usedforsecurity=False).digest())


def imported_fingerprint(public_key: Any) -> str:
    if isinstance(public_key, ed25519.Ed25519PublicKey):
        blob = public_key.public_bytes(serialization.Encoding.OpenSSH, serialization.PublicFormat.OpenSSH)
        raw = base64.b64decode(blob.split()[1])
        return base64.b64encode(hashlib.sha256(raw).digest()).decode()
    der = public_key.public_bytes(serialization.Encoding.DER, serialization.PublicFormat.SubjectPublicKeyInfo)
    return _colons(hashlib.md5(der, usedforsecurity=False).digest())


def _key_type(public_key: str) -> str:
    return "ed25519" if public_key.startswith("ssh-ed25519") else "rsa"


def _fingerprint_of_stored(public_key: str) -> str:
    try:
        return imported_fingerprint(
            serialization.load_ssh_public_key(" ".join(public_key.split()[:2]).encode())
        )
    except (ValueError, UnsupportedAlgorithm, IndexError):
        return ""


def _view(backends: Backends, keypair: KeyPair, fingerprint: str, tags: dict[str, str], key_id: str,
          *, with_public_key: bool = False) -> dict[str, Any]:  # fmt: skip
    return {
        "keyPairId": key_id, "keyType": _key_type(keypair.public_key), "tagSet": tag_set(tags),
        "publicKey": keypair.public_key if with_public_key else None, "keyName": keypair.name,
        "keyFingerprint": fingerprint, "createTime": keypair.created_at,
    }  # fmt: skip


def _check_name(name: str) -> None:
    if len(name) > 255:
        raise invalid_value("KeyName", name, "Key names are at most 255 characters.")


def _remember(backends: Backends, keypair: KeyPair, fingerprint: str) -> None:
    backends.db.write(lambda session: session.merge(Ec2KeyFingerprint(key_pair_id=keypair.id,
                                                                      fingerprint=fingerprint)))  # fmt: skip


def _create(backends: Backends, request: Ec2Request, name: str, public_key: str) -> KeyPair:
    try:
        keypair, _ = backends.compute.keypairs.create(request.context, name, public_key=public_key)
    except errors.Conflict:
        raise Ec2Error("InvalidKeyPair.Duplicate", f"The keypair '{name}' already exists.") from None
    except errors.QuotaExceeded as error:
        raise Ec2Error("ResourceLimitExceeded", error.message) from None
    return keypair


def create_key_pair(backends: Backends, request: Ec2Request) -> Response:
    name = request.params.required("KeyName")
    _check_name(name)
    key_type = request.params.get("KeyType") or "rsa"
    if key_type not in KEY_TYPES:
        raise invalid_value("KeyType", key_type, "It must be rsa or ed25519.")
    if (request.params.get("KeyFormat") or "pem") != "pem":
        raise Ec2Error("UnsupportedOperation", "Only the pem key format is supported.")
    private: rsa.RSAPrivateKey | ed25519.Ed25519PrivateKey = (
        ed25519.Ed25519PrivateKey.generate() if key_type == "ed25519"
        else rsa.generate_private_key(public_exponent=65537, key_size=2048)
    )  # fmt: skip
    private_format = (
        serialization.PrivateFormat.OpenSSH
        if key_type == "ed25519"
        else serialization.PrivateFormat.TraditionalOpenSSL
    )
    material = private.private_bytes(serialization.Encoding.PEM, private_format, serialization.NoEncryption())
    public = private.public_key().public_bytes(
        serialization.Encoding.OpenSSH, serialization.PublicFormat.OpenSSH
    )
    keypair = _create(backends, request, name, f"{public.decode()} {name}")
    fingerprint = generated_fingerprint(private)
    _remember(backends, keypair, fingerprint)
    key_id = backends.ids.id_of(ids.KEY_PAIR, str(keypair.id), request.project_id)
    tags = tag_specifications(request.params, "key-pair")
    set_tags(backends, request.project_id, [key_id], tags)
    return {
        "keyPairId": key_id, "tagSet": tag_set(tags) or None, "keyName": name, "keyFingerprint": fingerprint,
        "keyMaterial": material.decode(),
    }  # fmt: skip


def import_key_pair(backends: Backends, request: Ec2Request) -> Response:
    name = request.params.required("KeyName")
    _check_name(name)
    encoded = request.params.required("PublicKeyMaterial")
    try:
        line = base64.b64decode(encoded, validate=True).decode().strip()
        public = serialization.load_ssh_public_key(" ".join(line.split()[:2]).encode())
    except (binascii.Error, ValueError, UnicodeDecodeError, UnsupportedAlgorithm, IndexError):
        raise Ec2Error("InvalidKey.Format", "Key is not in valid OpenSSH public key format") from None
    if not isinstance(public, rsa.RSAPublicKey | ed25519.Ed25519PublicKey):
        raise Ec2Error("InvalidKey.Format", "Only RSA and ED25519 keys are supported.")
    keypair = _create(backends, request, name, line)
    fingerprint = imported_fingerprint(public)
    _remember(backends, keypair, fingerprint)
    key_id = backends.ids.id_of(ids.KEY_PAIR, str(keypair.id), request.project_id)
    tags = tag_specifications(request.params, "key-pair")
    set_tags(backends, request.project_id, [key_id], tags)
    return {
        "keyFingerprint": fingerprint,
        "keyName": name,
        "keyPairId": key_id,
        "tagSet": tag_set(tags),
    }


KEY_FILTERS: FilterTable[dict[str, Any]] = FilterTable({
    "key-pair-id": lambda k: k["keyPairId"],
    "key-name": lambda k: k["keyName"],
    "fingerprint": lambda k: k["keyFingerprint"],
    "key-type": lambda k: k["keyType"],
}, tags=lambda k: {tag["key"]: tag["value"] for tag in k["tagSet"]})  # fmt: skip


def describe_key_pairs(backends: Backends, request: Ec2Request) -> Response:
    keypairs = backends.compute.keypairs.list(request.context)
    key_ids = backends.ids.ids_of(ids.KEY_PAIR, {str(k.id): request.project_id for k in keypairs})
    with backends.db.reader() as session:
        kept = select(Ec2KeyFingerprint.key_pair_id, Ec2KeyFingerprint.fingerprint).where(
            Ec2KeyFingerprint.key_pair_id.in_([k.id for k in keypairs])
        )
        stored = dict(session.execute(kept).all())
        tags = tags_of(session, list(key_ids.values()))
    with_public = request.params.boolean("IncludePublicKey")
    views = [
        _view(backends, k, stored.get(k.id) or _fingerprint_of_stored(k.public_key), tags[key_ids[str(k.id)]],
              key_ids[str(k.id)], with_public_key=with_public)
        for k in keypairs
    ]  # fmt: skip
    names = request.params.strings("KeyName")
    wanted_ids = request.params.strings("KeyPairId")
    for name in names:
        if name not in {view["keyName"] for view in views}:
            raise Ec2Error(NOT_FOUND, f"The key pair '{name}' does not exist")
    for key_id in wanted_ids:
        if key_id not in {view["keyPairId"] for view in views}:
            raise Ec2Error(NOT_FOUND, f"The key pair ID '{key_id}' does not exist")
    if names or wanted_ids:
        views = [v for v in views if v["keyName"] in names or v["keyPairId"] in wanted_ids]
    return {"keySet": KEY_FILTERS.apply(views, filters_of(request.params))}


def delete_key_pair(backends: Backends, request: Ec2Request) -> Response:
    name = request.params.get("KeyName")
    key_id = request.params.get("KeyPairId")
    if not name and not key_id:
        raise missing_parameter("KeyName")
    keypairs = backends.compute.keypairs.list(request.context)
    key_ids = backends.ids.ids_of(ids.KEY_PAIR, {str(k.id): request.project_id for k in keypairs})
    for keypair in keypairs:
        if keypair.name == name or key_ids[str(keypair.id)] == key_id:
            backends.compute.keypairs.delete(request.context, keypair.name)
            return {"return": True, "keyPairId": key_ids[str(keypair.id)]}
    # AWS answers true for a key pair that does not exist.
    return {"return": True}


ACTIONS = (
    Action("CreateKeyPair", create_key_pair, rule=compute_policies.KEYPAIRS, not_found=NOT_FOUND),
    Action("ImportKeyPair", import_key_pair, rule=compute_policies.KEYPAIRS, not_found=NOT_FOUND),
    Action("DescribeKeyPairs", describe_key_pairs, rule=compute_policies.KEYPAIRS, not_found=NOT_FOUND),
    Action("DeleteKeyPair", delete_key_pair, rule=compute_policies.KEYPAIRS, not_found=NOT_FOUND),
)
