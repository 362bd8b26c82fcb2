"""Signed, non-persistent tokens (the idea of Keystone's Fernet tokens, with a plain HMAC).

A token is ``oc1.<payload>.<mac>``: the payload names the user, scope, roles, expiry and audit id and
is signed with HMAC-SHA256 under the primary key of a small key repository. Validation needs no
database: verify the MAC with the key the payload names, check the expiry; revocation is checked by
the caller against an in-memory list.
"""

from __future__ import annotations

import base64
import hashlib
import hmac
import json
import os
import secrets
import threading
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import UTC, datetime
from pathlib import Path
from typing import Any, ClassVar

from overcast.config import Settings
from overcast.errors import Unauthorized

TOKEN_PREFIX = "oc1"
KEY_FILE_NAME = "token-keys.json"

Clock = Callable[[], datetime]


def utc_now() -> datetime:
    return datetime.now(UTC)


def _b64encode(data: bytes) -> str:
    return base64.urlsafe_b64encode(data).rstrip(b"=").decode("ascii")


def _b64decode(text: str) -> bytes:
    return base64.urlsafe_b64decode(text + "=" * (-len(text) % 4))


def new_audit_id() -> str:
    return _b64encode(secrets.token_bytes(16))


@dataclass(frozen=True)
class SigningKey:
    key_id: str
    secret: bytes


class KeyRepository:
    """Signing keys in one JSON file, primary first; rotation prepends a key and drops the oldest."""

    def __init__(self, path: Path, max_active_keys: int = 3) -> None:
        self.path = path
        self.max_active_keys = max(2, max_active_keys)
        self._lock = threading.Lock()
        self._keys: list[SigningKey] = []
        self._mtime: float | None = None
        # Changes whenever the keys in use may have changed, so that caches of verified tokens know.
        self.generation = 0

    @classmethod
    def for_settings(cls, settings: Settings, max_active_keys: int = 3) -> KeyRepository:
        return cls(settings.data_dir / KEY_FILE_NAME, max_active_keys)

    def _read_file(self) -> list[SigningKey]:
        data = json.loads(self.path.read_text())
        return [SigningKey(item["id"], base64.b64decode(item["secret"])) for item in data["keys"]]

    def _write_file(self, keys: list[SigningKey]) -> None:
        self.path.parent.mkdir(parents=True, exist_ok=True)
        body = {"keys": [{"id": k.key_id, "secret": base64.b64encode(k.secret).decode()} for k in keys]}
        temporary = self.path.with_suffix(".tmp")
        # The keys are as good as every user's password: only the owner may read them.
        fd = os.open(temporary, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600)
        with os.fdopen(fd, "w") as handle:
            json.dump(body, handle)
        os.replace(temporary, self.path)

    def load(self) -> list[SigningKey]:
        """Current keys, re-read when another process (``overcast manage keys rotate``) changed the file."""
        with self._lock:
            if not self.path.exists():
                self._write_file([SigningKey(secrets.token_hex(8), secrets.token_bytes(32))])
            mtime = self.path.stat().st_mtime
            if mtime != self._mtime:
                self._keys = self._read_file()
                self._mtime = mtime
                self.generation += 1
            return list(self._keys)

    def rotate(self) -> SigningKey:
        with self._lock:
            keys = self._read_file() if self.path.exists() else []
            primary = SigningKey(secrets.token_hex(8), secrets.token_bytes(32))
            self._write_file([primary, *keys][: self.max_active_keys])
            self._mtime = None
            self.generation += 1
        return primary


def rotate_keys(settings: Settings) -> str:
    """Entry point of ``overcast manage keys rotate``: returns the new primary key id."""
    from overcast.identity.settings import IdentitySettings

    repository = KeyRepository.for_settings(settings, IdentitySettings().max_active_keys)
    return repository.rotate().key_id


@dataclass(frozen=True)
class TokenPayload:
    user_id: str
    user_domain_id: str
    methods: tuple[str, ...]
    issued_at: datetime
    expires_at: datetime
    audit_ids: tuple[str, ...]
    project_id: str | None = None
    domain_id: str | None = None
    # Scoped to the whole system (Keystone's {"system": {"all": true}}).
    system: bool = False
    roles: tuple[str, ...] = ()
    user_name: str | None = None
    project_name: str | None = None
    application_credential_id: str | None = None
    # The trust (OS-TRUST) a trust-scoped token was made from.
    trust_id: str | None = None
    # (service, method, path pattern) triples a token from a credential with access rules may call;
    # None means no such limit (every other token, and credentials without rules).
    access_rules: tuple[tuple[str, str, str], ...] | None = None
    extra: dict[str, Any] = field(default_factory=dict)

    @property
    def audit_id(self) -> str:
        return self.audit_ids[0]

    @property
    def scope(self) -> str:
        if self.project_id:
            return "project"
        if self.domain_id:
            return "domain"
        if self.system:
            return "system"
        return "unscoped"

    def to_wire(self) -> dict[str, Any]:
        wire: dict[str, Any] = {
            "u": self.user_id,
            "ud": self.user_domain_id,
            "m": list(self.methods),
            "i": self.issued_at.timestamp(),
            "e": self.expires_at.timestamp(),
            "a": list(self.audit_ids),
            "r": list(self.roles),
        }
        optional = {
            "p": self.project_id,
            "d": self.domain_id,
            "un": self.user_name,
            "pn": self.project_name,
            "ac": self.application_credential_id,
            "t": self.trust_id,
        }
        wire.update({key: value for key, value in optional.items() if value is not None})
        if self.system:
            wire["s"] = 1
        if self.access_rules is not None:
            wire["ar"] = [list(rule) for rule in self.access_rules]
        return wire

    @classmethod
    def from_wire(cls, wire: dict[str, Any]) -> TokenPayload:
        return cls(
            user_id=wire["u"],
            user_domain_id=wire["ud"],
            methods=tuple(wire["m"]),
            issued_at=datetime.fromtimestamp(wire["i"], UTC),
            expires_at=datetime.fromtimestamp(wire["e"], UTC),
            audit_ids=tuple(wire["a"]),
            project_id=wire.get("p"),
            domain_id=wire.get("d"),
            system=bool(wire.get("s")),
            roles=tuple(wire.get("r", ())),
            user_name=wire.get("un"),
            project_name=wire.get("pn"),
            application_credential_id=wire.get("ac"),
            trust_id=wire.get("t"),
            access_rules=_access_rules_from_wire(wire.get("ar")),
        )


def _access_rules_from_wire(rules: Any) -> tuple[tuple[str, str, str], ...] | None:
    if rules is None:
        return None
    return tuple((str(service), str(method), str(path)) for service, method, path in rules)


class InvalidToken(Unauthorized):
    default_message = "The request you have made requires authentication."


class TokenSigner:
    """Turns payloads into token strings and back; knows nothing about users or revocation.

    Tokens it has verified are remembered (a bounded map from the token string to its payload), so a
    token used again, as every client does, costs a dictionary lookup instead of base64, JSON, an HMAC
    and two stat() calls; its expiry is still checked every time, and its revocation by the caller. The
    map is emptied when the keys change: at once for a rotation in this process, within
    `key_recheck_seconds` for one in another process (as revocations reach other processes).
    """

    cache_size: ClassVar[int] = 4096

    def __init__(self, keys: KeyRepository, clock: Clock = utc_now, key_recheck_seconds: float = 1.0) -> None:
        self.keys = keys
        self.clock = clock
        self.key_recheck_seconds = key_recheck_seconds
        self._verified: dict[str, TokenPayload] = {}
        self._verified_generation = -1
        self._keys_checked_at = 0.0
        self._cache_lock = threading.Lock()

    def encode(self, payload: TokenPayload) -> str:
        primary = self.keys.load()[0]
        wire = payload.to_wire()
        wire["k"] = primary.key_id
        body = _b64encode(json.dumps(wire, separators=(",", ":")).encode())
        mac = hmac.new(primary.secret, f"{TOKEN_PREFIX}.{body}".encode(), hashlib.sha256).digest()
        return f"{TOKEN_PREFIX}.{body}.{_b64encode(mac)}"

    def decode(self, token: str) -> TokenPayload:
        """Verify the signature and the expiry; raise InvalidToken otherwise."""
        payload = self._verified.get(token)
        if payload is None or not self._keys_unchanged():
            payload = self._verify_signature(token)
            self._remember(token, payload)
        if payload.expires_at <= self.clock():
            raise InvalidToken("The token has expired.")
        return payload

    def _keys_unchanged(self) -> bool:
        now = time.monotonic()
        if now - self._keys_checked_at >= self.key_recheck_seconds:
            self.keys.load()  # re-reads the file (a new generation) if another process rotated the keys
            self._keys_checked_at = now
        return self.keys.generation == self._verified_generation

    def _remember(self, token: str, payload: TokenPayload) -> None:
        with self._cache_lock:
            if self.keys.generation != self._verified_generation:
                self._verified.clear()
                self._verified_generation = self.keys.generation
            if len(self._verified) >= self.cache_size:
                del self._verified[next(iter(self._verified))]
            self._verified[token] = payload

    def _verify_signature(self, token: str) -> TokenPayload:
        prefix, _, rest = token.partition(".")
        body, _, mac_text = rest.partition(".")
        if prefix != TOKEN_PREFIX or not body or not mac_text:
            raise InvalidToken()
        try:
            wire = json.loads(_b64decode(body))
            key_id = wire["k"]
            mac = _b64decode(mac_text)
        except (ValueError, KeyError, TypeError) as exc:
            raise InvalidToken() from exc
        key = self._find_key(key_id)
        expected = hmac.new(key.secret, f"{TOKEN_PREFIX}.{body}".encode(), hashlib.sha256).digest()
        if not hmac.compare_digest(mac, expected):
            raise InvalidToken()
        try:
            payload = TokenPayload.from_wire(wire)
        # A time no datetime can hold (a corrupted or forged expiry) overflows rather than failing to parse.
        except (KeyError, TypeError, ValueError, OverflowError, OSError) as exc:
            raise InvalidToken() from exc
        return payload

    def _find_key(self, key_id: str) -> SigningKey:
        for key in self.keys.load():
            if key.key_id == key_id:
                return key
        raise InvalidToken()
