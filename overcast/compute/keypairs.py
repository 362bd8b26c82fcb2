"""SSH key pairs (logic behind /compute/v2.1/os-keypairs): generated with cryptography or imported."""

from __future__ import annotations

import base64
import binascii
import hashlib
from dataclasses import dataclass

from cryptography.hazmat.primitives import serialization
from cryptography.hazmat.primitives.asymmetric import rsa
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


def fingerprint(public_key: str) -> str:
    """The MD5 fingerprint ssh-keygen -l -E md5 prints (aa:bb:...), as Nova shows it."""
    invalid = errors.BadRequest("Keypair data is invalid: failed to generate fingerprint")
    parts = public_key.strip().split()
    if len(parts) < 2:
        raise invalid
    try:
        serialization.load_ssh_public_key(f"{parts[0]} {parts[1]}".encode())
        blob = base64.b64decode(parts[1], validate=True)
    except (ValueError, binascii.Error, TypeError, errors.OvercastError):
        raise invalid from None
    digest = hashlib.md5(blob, usedforsecurity=False).hexdigest()
    return ":".join(digest[i : i + 2] for i in range(0, len(digest), 2))


def validate_name(name: str) -> None:
    if not name or not name.strip() or len(name) > 255 or not name.isprintable():
        raise errors.BadRequest("Keypair name must be 1-255 printable characters and not blank.")


class KeyPairAPI:
    def __init__(self, db: Database, quotas: QuotaEngine) -> None:
        self.db = db
        self.quotas = quotas

    def list(self, ctxt: RequestContext, user_id: str | None = None) -> list[KeyPair]:
        owner = self._owner(ctxt, user_id)
        with self.db.reader() as session:
            query = select(KeyPair).where(KeyPair.user_id == owner).order_by(KeyPair.name)
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
            generated = generate_key()
            public_key, private_key = generated.public_key, generated.private_key
        fingerprint_text = fingerprint(public_key)

        def write(session: Session) -> KeyPair:
            if ctxt.project_id is not None:
                limit = self.quotas.get_limits(session, ctxt.project_id)["key_pairs"]
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
