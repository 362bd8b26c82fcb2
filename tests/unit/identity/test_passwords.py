"""argon2id hashing and the failed-login throttle."""

from __future__ import annotations

import pytest

from overcast.identity.login_limits import LoginThrottle
from overcast.identity.passwords import LoginThrottled, PasswordHasher, generate_password


def test_hash_verifies_only_the_right_password() -> None:
    hasher = PasswordHasher(time_cost=1, memory_cost_kib=1024)
    hashed = hasher.hash("correct horse")
    assert hashed.startswith("$argon2id$")
    assert "correct horse" not in hashed
    assert hasher.verify(hashed, "correct horse")
    assert not hasher.verify(hashed, "correct horsE")
    assert not hasher.verify(None, "correct horse")
    assert not hasher.verify("not-a-hash", "correct horse")


def test_default_cost_is_the_recommended_one() -> None:
    hashed = PasswordHasher().hash("x")
    assert "m=65536,t=3" in hashed


def test_generated_passwords_are_long_and_different() -> None:
    passwords = {generate_password() for _ in range(20)}
    assert len(passwords) == 20
    assert all(len(p) >= 20 for p in passwords)


class Ticker:
    def __init__(self) -> None:
        self.now = 1000.0

    def __call__(self) -> float:
        return self.now


def test_throttle_locks_a_name_after_repeated_failures_then_releases_it() -> None:
    clock = Ticker()
    throttle = LoginThrottle(max_failures=3, window_seconds=60, lockout_seconds=30, clock=clock)
    for _ in range(2):
        throttle.check("alice")
        throttle.record_failure("alice")
    throttle.check("alice")
    throttle.record_failure("alice")
    with pytest.raises(LoginThrottled):
        throttle.check("alice")
    throttle.check("bob")  # other names are not affected
    clock.now += 30
    throttle.check("alice")


def test_failures_outside_the_window_do_not_add_up() -> None:
    clock = Ticker()
    throttle = LoginThrottle(max_failures=2, window_seconds=10, lockout_seconds=30, clock=clock)
    throttle.record_failure("alice")
    clock.now += 11
    throttle.record_failure("alice")
    throttle.check("alice")
