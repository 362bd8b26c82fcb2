"""SSH key pairs (logic behind /compute/v2.1/os-keypairs): generated with cryptography or imported."""

from __future__ import annotations

import base64
import binascii
import datetime
import hashlib
import string
from dataclasses import dataclass

from cryptography import x509
from cryptography.exceptions import UnsupportedAlgorithm
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import rsa
from cryptography.x509.oid import NameOID
from sqlalchemy import delete, func, select
from sqlalchemy.exc import IntegrityError
from sqlalchemy.orm import Session

from overcast import errors
from overcast.context import RequestContext
from overcast.db.engine import Database
from overcast.db.models.compute import KeyPair
from overcast.quota import QuotaEngine

# Nova generates 2048-bit RSA keys.
GENERATED_KEY_BITS = 2048
KEY_COMMENT = "Generated-by-Overcast"


@dataclass(frozen=True)
class GeneratedKey:
    public_key: str
    private_key: str


def generate_key() -> GeneratedKey:
    key = rsa.generate_private_key(public_exponent=65537, key_size=GENERATED_KEY_BITS)
    private = key.private_bytes(
        serialization.Encoding.PEM, serialization.PrivateFormat.TraditionalOpenSSL,
        serialization.NoEncryption(),
    ).decode()  # fmt: skip
    public = key.public_key().public_bytes(serialization.Encoding.OpenSSH, serialization.PublicFormat.OpenSSH)
    return GeneratedKey(public_key=f"{public.decode()} {KEY_COMMENT}", private_key=private)


def generate_x509(user_id: str) -> GeneratedKey:
    """Nova's x509 key pair: a self-signed certificate for CN=user_id (10 years) and its PKCS#8 key."""
    key = rsa.generate_private_key(public_exponent=65537, key_size=GENERATED_KEY_BITS)
    name = x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, user_id)])
    now = datetime.datetime.now(datetime.UTC)
    certificate = (
        x509.CertificateBuilder().subject_name(name).issuer_name(name).public_key(key.public_key())
        .serial_number(x509.random_serial_number()).not_valid_before(now)
        .not_valid_after(now + datetime.timedelta(days=3650)).sign(key, hashes.SHA256())
    )  # fmt: skip
    private = key.private_bytes(
        serialization.Encoding.PEM, serialization.PrivateFormat.PKCS8, serialization.NoEncryption()
    ).decode()
    return GeneratedKey(certificate.public_bytes(serialization.Encoding.PEM).decode(), private)


def x509_fingerprint(pem: str) -> str:
    """Nova's x509 fingerprint: the certificate's SHA-1, colon-separated hex."""
    try:
        certificate = x509.load_pem_x509_certificate(pem.encode())
        # SHA-1 because that is the fingerprint Nova shows, not for security.
        digest = certificate.fingerprint(hashes.SHA1()).hex()
    except (ValueError, UnsupportedAlgorithm):
        raise errors.BadRequest("Keypair data is invalid: failed to generate fingerprint") from None
    return ":".join(digest[i : i + 2] for i in range(0, len(digest), 2))


def fingerprint(public_key: str) -> str:
    """The MD5 fingerprint ssh-keygen -l -E md5 prints (aa:bb:...), as Nova shows it."""
    invalid = errors.BadRequest("Keypair data is invalid: failed to generate fingerprint")
    parts = public_key.strip().split()
    if len(parts) < 2:
        raise invalid
    try:
        serialization.load_ssh_public_key(f"{parts[0]} {parts[1]}".encode())
        blob = base64.b64decode(parts[1], validate=True)
    except (ValueError, binascii.Error, TypeError, UnsupportedAlgorithm, errors.OvercastError):
        # UnsupportedAlgorithm: a well-formed line naming a key type cryptography does not know.
        raise invalid from None
    digest = hashlib.md5(blob, usedforsecurity=False).hexdigest()
    return ":".join(digest[i : i + 2] for i in range(0, len(digest), 2))


SAFE_NAME_CHARACTERS = frozenset("_- " + string.digits + string.ascii_letters)


def validate_name(name: str) -> None:
    """Nova's rule before microversion 2.92: letters, digits, '_', '-' and spaces, 1-255 of them."""
    if any(ch not in SAFE_NAME_CHARACTERS for ch in name):
        raise errors.BadRequest("Keypair data is invalid: Keypair name contains unsafe characters")
    if not 1 <= len(name) <= 255:
        raise errors.BadRequest(
            "Keypair data is invalid: Keypair name must be string and between 1 and 255 characters long"
        )


class KeyPairAPI:
    def __init__(self, db: Database, quotas: QuotaEngine) -> None:
        self.db = db
        self.quotas = quotas

    def list(
        self, ctxt: RequestContext, user_id: str | None = None, *, marker: str | None = None,
        limit: int | None = None,
    ) -> list[KeyPair]:  # fmt: skip
        """The user's key pairs by name; a page after `marker` (a name) of at most `limit`."""
        owner = self._owner(ctxt, user_id)
        with self.db.reader() as session:
            query = select(KeyPair).where(KeyPair.user_id == owner).order_by(KeyPair.name)
            if marker is not None:
                if session.scalars(query.where(KeyPair.name == marker)).first() is None:
                    raise errors.BadRequest(f"Marker {marker} could not be found.")
                query = query.where(KeyPair.name > marker)
            if limit is not None:
                query = query.limit(limit)
            return list(session.scalars(query))

    def get(self, ctxt: RequestContext, name: str, user_id: str | None = None) -> KeyPair:
        owner = self._owner(ctxt, user_id)
        with self.db.reader() as session:
            return self.find(session, owner, name)

    @staticmethod
    def find(session: Session, user_id: str, name: str) -> KeyPair:
        keypair = session.scalars(
            select(KeyPair).where(KeyPair.user_id == user_id, KeyPair.name == name)
        ).first()
        if keypair is None:
            raise errors.NotFound(f"Keypair {name} not found for user {user_id}")
        return keypair

    def create(
        self,
        ctxt: RequestContext,
        name: str,
        public_key: str | None = None,
        key_type: str = "ssh",
        user_id: str | None = None,
    ) -> tuple[KeyPair, str | None]:
        """(the key pair, its private key when we generated it: the only time anyone sees it)."""
        owner = self._owner(ctxt, user_id)
        validate_name(name)
        private_key = None
        if public_key is None:
            generated = generate_x509(owner) if key_type == "x509" else generate_key()
            public_key, private_key = generated.public_key, generated.private_key
        fingerprint_text = x509_fingerprint(public_key) if key_type == "x509" else fingerprint(public_key)

        def write(session: Session) -> KeyPair:
            if ctxt.project_id is not None:
                # Key pairs are a user's own: their own limit inside the project's, if they have one.
                limit = self.quotas.get_user_limits(session, ctxt.project_id, owner)["key_pairs"]
                owned = session.scalar(select(func.count(KeyPair.id)).where(KeyPair.user_id == owner)) or 0
                if limit >= 0 and owned + 1 > limit:
                    raise errors.QuotaExceeded("Quota exceeded, too many key pairs.")
            if (
                session.scalars(
                    select(KeyPair.id).where(KeyPair.user_id == owner, KeyPair.name == name)
                ).first()
                is not None
            ):
                raise errors.Conflict(f"Key pair '{name}' already exists.")
            keypair = KeyPair(
                name=name, user_id=owner, fingerprint=fingerprint_text, public_key=public_key, type=key_type
            )
            session.add(keypair)
            session.flush()
            return keypair

        try:
            return self.db.write(write), private_key
        except IntegrityError:
            raise errors.Conflict(f"Key pair '{name}' already exists.") from None

    def delete(self, ctxt: RequestContext, name: str, user_id: str | None = None) -> None:
        owner = self._owner(ctxt, user_id)

        def write(session: Session) -> None:
            result = session.execute(delete(KeyPair).where(KeyPair.user_id == owner, KeyPair.name == name))
            if getattr(result, "rowcount", 0) == 0:
                raise errors.NotFound(f"Keypair {name} not found for user {owner}")

        self.db.write(write)

    @staticmethod
    def _owner(ctxt: RequestContext, user_id: str | None) -> str:
        if user_id is not None and user_id != ctxt.user_id:
            if not ctxt.is_admin:
                raise errors.Forbidden("Policy doesn't allow os_compute_api:os-keypairs to be performed.")
            return user_id
        if ctxt.user_id is None:
            raise errors.Forbidden("A key pair belongs to a user; this request has none.")
        return ctxt.user_id
