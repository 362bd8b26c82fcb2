"""The portal's rate limits on a real database: per key within a sliding window, the refusal's
Retry-After, and a refused attempt not counted."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

import pytest
from pydantic import ValidationError

from overcast.db import Database
from overcast.portal.limits import AttemptLimits, TooManyAttempts, client_address, trusted_networks
from overcast.portal.settings import PortalSettings
from tests.support.clock import FakeClock

T0 = datetime(2031, 1, 1, tzinfo=UTC)


def test_each_key_has_its_own_limit_and_the_window_slides(db: Database) -> None:
    clock = FakeClock(T0)
    limits = AttemptLimits(clock, window_seconds=3600)

    def take(address: str, client: str) -> None:
        db.write(lambda session: limits.take(session, "signup", {address: 2, client: 3}))

    take("address:a", "client:1")
    clock.now = T0 + timedelta(minutes=10)
    take("address:a", "client:1")
    with pytest.raises(TooManyAttempts) as refused:
        take("address:a", "client:2")  # the address is at its limit, from any client
    assert refused.value.status == 429
    assert refused.value.details["retry_after"] == 3000  # when the first attempt leaves the window
    assert refused.value.message == "Too many attempts; try again in 50 minutes."
    take("address:b", "client:1")
    with pytest.raises(TooManyAttempts):
        take("address:c", "client:1")  # the client is at its limit, for any address
    take("address:c", "client:2")  # the refused attempts were not counted
    clock.now = T0 + timedelta(minutes=60, seconds=1)
    take("address:a", "client:3")  # the first attempt left the window
    with pytest.raises(TooManyAttempts) as again:
        take("address:a", "client:3")
    assert again.value.details["retry_after"] == 599


def test_actions_count_apart(db: Database) -> None:
    limits = AttemptLimits(FakeClock(T0), window_seconds=60)
    db.write(lambda session: limits.take(session, "signup", {"address:a": 1}))
    db.write(lambda session: limits.take(session, "password-reset", {"address:a": 1}))
    with pytest.raises(TooManyAttempts, match="try again in 60 seconds"):
        db.write(lambda session: limits.take(session, "signup", {"address:a": 1}))


PROXIES = trusted_networks("10.0.0.5, 192.0.2.0/28,2001:db8::/64")


def test_only_a_trusted_proxy_may_name_the_client() -> None:
    # Straight from a client (even one that writes the header itself): its own address.
    assert client_address("198.51.100.7", ["203.0.113.9"], PROXIES) == "198.51.100.7"
    assert client_address("198.51.100.7", [], ()) == "198.51.100.7"
    # From a trusted proxy: the address that proxy heard from.
    assert client_address("10.0.0.5", ["198.51.100.7"], PROXIES) == "198.51.100.7"
    assert client_address("10.0.0.5", [], PROXIES) == "10.0.0.5"


def test_the_right_most_untrusted_hop_is_the_client_whatever_the_client_wrote() -> None:
    # The client put 203.0.113.9 in front; the proxies appended what they saw, right-most last.
    chain = ["203.0.113.9, 198.51.100.7", "192.0.2.3"]
    assert client_address("10.0.0.5", chain, PROXIES) == "198.51.100.7"
    assert client_address("2001:db8::1", ["2001:db8::2, 2001:db8:1::9"], PROXIES) == "2001:db8:1::9"
    # Every hop a trusted proxy: the left-most; a non-address where a proxy's record should be: not used.
    assert client_address("10.0.0.5", ["192.0.2.1, 192.0.2.2"], PROXIES) == "192.0.2.1"
    assert client_address("10.0.0.5", ["evil, 192.0.2.2"], PROXIES) == "192.0.2.2"
    assert client_address("10.0.0.5", ["unknown"], PROXIES) == "10.0.0.5"


def test_a_bad_trusted_proxy_setting_stops_the_service() -> None:
    assert trusted_networks(" ") == ()
    with pytest.raises(ValueError, match="Not an address or network"):
        trusted_networks("10.0.0.5, proxy.example")
    with pytest.raises(ValidationError):
        PortalSettings(trusted_proxies="10.0.0.0/33")
    assert PortalSettings(trusted_proxies="10.0.0.0/8").trusted_proxies == "10.0.0.0/8"
