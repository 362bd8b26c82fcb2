"""The trust between a metadata proxy and the API: HMAC-SHA256 of the instance id under a shared secret.

Nova's and Neutron's scheme, header for header: the proxy sends `X-Instance-ID`, `X-Tenant-ID` and
`X-Instance-ID-Signature` (the hex HMAC of the instance id); the API recomputes it. Only the instance id is
signed, as there: the API then checks that the instance belongs to the tenant the proxy named.
"""

from __future__ import annotations

import hashlib
import hmac
import os
import secrets
from pathlib import Path

from overcast.config import Settings

SECRET_FILE_NAME = "metadata-proxy-secret"
INSTANCE_ID_HEADER = "X-Instance-ID"
TENANT_ID_HEADER = "X-Tenant-ID"
SIGNATURE_HEADER = "X-Instance-ID-Signature"


def sign(secret: str, instance_id: str) -> str:
    return hmac.new(secret.encode(), instance_id.encode(), hashlib.sha256).hexdigest()


def signature_matches(secret: str, instance_id: str, signature: str) -> bool:
    # Constant time, so a forger learns nothing from how long a wrong guess took to refuse.
    return hmac.compare_digest(sign(secret, instance_id).encode(), signature.encode("utf-8", "replace"))


def signed_headers(secret: str, instance_id: str, tenant_id: str) -> dict[str, str]:
    signature = sign(secret, instance_id)
    return {INSTANCE_ID_HEADER: instance_id, TENANT_ID_HEADER: tenant_id, SIGNATURE_HEADER: signature}


def shared_secret(settings: Settings) -> str:
    """The configured secret, or the data directory's, made on first use (0600, as the token keys are)."""
    if settings.metadata_proxy_shared_secret:
        return settings.metadata_proxy_shared_secret
    return _secret_file(settings.data_dir / SECRET_FILE_NAME)


def _secret_file(path: Path) -> str:
    try:
        return path.read_text().strip()
    except FileNotFoundError:
        pass
    path.parent.mkdir(mode=0o700, parents=True, exist_ok=True)
    candidate = path.with_name(f".{path.name}.{os.getpid()}")
    fd = os.open(candidate, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600)
    with os.fdopen(fd, "w") as handle:
        handle.write(secrets.token_hex(32))
    try:
        # Of two processes starting at once, the first link wins and both read its secret.
        os.link(candidate, path)
    except FileExistsError:
        pass
    finally:
        candidate.unlink()
    return path.read_text().strip()
