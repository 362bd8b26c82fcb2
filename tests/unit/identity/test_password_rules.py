"""Keystone's password rules (password_regex) on every way a password is set: create, admin update, the
user's own change; a refusal is a 400 naming the rule's description."""

from __future__ import annotations

from pathlib import Path

import pytest

from overcast.config import load_settings
from overcast.db import Database
from overcast.identity.bootstrap import bootstrap
from overcast.identity.core import DEFAULT_DOMAIN_ID
from overcast.identity.password_rules import PasswordRequirementsError, check_password
from overcast.identity.passwords import PasswordHasher
from overcast.identity.service import IdentityService
from overcast.identity.settings import IdentitySettings

HASHER = PasswordHasher(time_cost=1, memory_cost_kib=1024)
RULES = IdentitySettings(
    password_regex=r"^(?=.*\d)(?=.*[a-zA-Z]).{8,}$",
    password_regex_description="at least 8 characters, with a letter and a digit",
)


def test_no_rule_takes_any_password() -> None:
    check_password(IdentitySettings(), "x")


def test_the_rule_must_match_the_whole_password() -> None:
    check_password(RULES, "correct1horse")
    with pytest.raises(PasswordRequirementsError) as refused:
        check_password(RULES, "short1")
    assert refused.value.status == 400
    assert refused.value.message == (
        "Password validation error: The password does not meet the requirements: "
        "at least 8 characters, with a letter and a digit."
    )


def test_every_way_of_setting_a_password_checks_the_rule(tmp_path: Path, db: Database) -> None:
    settings = load_settings(data_dir=tmp_path / "data", listen="127.0.0.1:9999")
    bootstrap(settings, db, hasher=HASHER)
    identity = IdentityService(settings, db, RULES, hasher=HASHER)
    with pytest.raises(PasswordRequirementsError):
        identity.api.create_user({"name": "ada", "domain_id": DEFAULT_DOMAIN_ID}, "weak")
    user = identity.api.create_user({"name": "ada", "domain_id": DEFAULT_DOMAIN_ID}, "correct1horse")
    with pytest.raises(PasswordRequirementsError):
        identity.api.update_user(user["id"], {"password": "weak"})
    with pytest.raises(PasswordRequirementsError):
        identity.api.change_password(user["id"], "correct1horse", "weak")
    identity.api.change_password(user["id"], "correct1horse", "battery2staple")


def test_a_user_made_later_from_a_checked_hash_logs_in_with_the_password(
    tmp_path: Path, db: Database
) -> None:
    settings = load_settings(data_dir=tmp_path / "data", listen="127.0.0.1:9999")
    bootstrap(settings, db, hasher=HASHER)
    identity = IdentityService(settings, db, RULES, hasher=HASHER)
    with pytest.raises(PasswordRequirementsError):
        identity.api.hash_new_password("weak")
    password_hash = identity.api.hash_new_password("correct1horse")
    assert "correct1horse" not in password_hash
    user = identity.api.create_user_with_hash(
        {"name": "ada@example.com", "domain_id": DEFAULT_DOMAIN_ID, "email": "ada@example.com"}, password_hash
    )
    assert user["email"] == "ada@example.com"
    with db.reader() as session:
        assert identity.core.sql_backend.check_password(session, user["id"], "correct1horse")
        assert not identity.core.sql_backend.check_password(session, user["id"], "correct1horsf")
