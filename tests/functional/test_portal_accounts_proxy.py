"""The portal's per-client limit behind a reverse proxy, through real HTTP from distinct loopback
addresses: a request from a proxy in OVERCAST_PORTAL_TRUSTED_PROXIES counts against the right-most
address of X-Forwarded-For that is not a proxy; the same header from any other peer changes nothing."""

from __future__ import annotations

from collections.abc import Iterator

import httpx
import pytest

from tests.support.api_apps import roomy_login_limits
from tests.support.cloud import InProcessCloud

PROXY, UNTRUSTED = "127.0.0.3", "127.0.0.2"  # neither is uvicorn's own trusted 127.0.0.1


@pytest.fixture(scope="module")
def cloud(tmp_path_factory: pytest.TempPathFactory) -> Iterator[InProcessCloud]:
    with pytest.MonkeyPatch.context() as patch:
        patch.setenv("OVERCAST_PORTAL_TRUSTED_PROXIES", f"{PROXY}, 192.0.2.0/28")
        patch.setenv("OVERCAST_PORTAL_ATTEMPTS_PER_CLIENT", "2")
        patch.setenv("OVERCAST_PORTAL_ATTEMPTS_PER_ADDRESS", "100")
        with roomy_login_limits():
            running = InProcessCloud(tmp_path_factory.mktemp("portal-proxy"))
    yield running
    running.stop()


def reset(cloud: InProcessCloud, source: str, forwarded_for: str | None, email: str) -> int:
    """A password-reset request (the same 202 for any address, counted per client) from `source`."""
    headers = {"X-Forwarded-For": forwarded_for} if forwarded_for else {}
    with httpx.Client(transport=httpx.HTTPTransport(local_address=source), timeout=60) as http:
        response = http.post(
            f"{cloud.base_url}/portal/v1/password-resets", json={"email": email}, headers=headers
        )
    assert response.status_code in (202, 429), response.text
    return response.status_code


def test_a_spoofed_header_from_an_untrusted_peer_is_ignored(cloud: InProcessCloud) -> None:
    assert reset(cloud, UNTRUSTED, "198.51.100.1", "a@example.com") == 202
    assert reset(cloud, UNTRUSTED, "198.51.100.2", "b@example.com") == 202
    # A third "client" is still the same peer, at its limit.
    assert reset(cloud, UNTRUSTED, "198.51.100.3", "c@example.com") == 429
    assert reset(cloud, UNTRUSTED, None, "d@example.com") == 429


def test_behind_a_trusted_proxy_each_client_has_its_own_limit(cloud: InProcessCloud) -> None:
    assert reset(cloud, PROXY, "203.0.113.7", "e@example.com") == 202
    assert reset(cloud, PROXY, "203.0.113.7", "f@example.com") == 202
    assert reset(cloud, PROXY, "203.0.113.7", "g@example.com") == 429
    # Another client behind the same proxy (and a second proxy hop) is counted on its own.
    assert reset(cloud, PROXY, "203.0.113.8, 192.0.2.4", "h@example.com") == 202
    # What the client writes left of its real address is never read: it cannot pose as a fresh client.
    assert reset(cloud, PROXY, "10.9.9.9, 203.0.113.8", "i@example.com") == 202
    assert reset(cloud, PROXY, "10.9.9.10, 203.0.113.8", "j@example.com") == 429
    # The proxy itself, with no header, is one more client.
    assert reset(cloud, PROXY, None, "k@example.com") == 202
