"""Identity-only settings, read from OVERCAST_IDENTITY_* variables (the shared Settings stays small)."""

from __future__ import annotations

from pydantic_settings import BaseSettings, SettingsConfigDict


class IdentitySettings(BaseSettings):
    model_config = SettingsConfigDict(env_prefix="OVERCAST_IDENTITY_", extra="ignore")

    # Keystone's default token lifetime.
    token_ttl_seconds: int = 3600
    # Rotation keeps this many keys so tokens signed before a rotation stay valid until they expire.
    max_active_keys: int = 3
    # Failed logins of one user (by id, shared by every API process through the database) within
    # failure_window_seconds before further attempts are refused for lockout_seconds.
    max_failed_logins: int = 5
    failure_window_seconds: float = 300.0
    lockout_seconds: float = 60.0
    # Each login costs one argon2id hash (64 MiB and a core for a tenth of a second or more): at most
    # password_hash_slots at once (0: one per core), password_hash_queue more waiting (-1: twice the
    # slots) for at most password_hash_wait_seconds; other logins are refused with 503 and Retry-After.
    password_hash_slots: int = 0
    password_hash_queue: int = -1
    password_hash_wait_seconds: float = 2.0
    # Login attempts (right or wrong) per client address and per user name typed: a burst, then a rate.
    # A name's limit is the looser: one service user's scripts may log in from many hosts, and wrong
    # passwords for a real user are held by the lockout above long before the rate matters.
    login_burst_per_address: int = 30
    logins_per_second_per_address: float = 3.0
    login_burst_per_user: int = 20
    logins_per_second_per_user: float = 2.0
    # Keystone's [security_compliance]: every new password must match password_regex (empty: any does);
    # a refused one is told password_regex_description.
    password_regex: str = ""
    password_regex_description: str = ""
    # How stale the in-memory revocation list may get when another API process revokes a token.
    revocation_refresh_seconds: float = 2.0

    # Optional read-only LDAP backend serving the users of one domain.
    ldap_url: str = ""
    ldap_domain: str = "ldap"
    ldap_bind_dn: str = ""
    ldap_bind_password: str = ""
    ldap_user_tree_dn: str = ""
    ldap_user_objectclass: str = "inetOrgPerson"
    ldap_user_id_attribute: str = "uid"
    ldap_user_name_attribute: str = "uid"
    ldap_user_mail_attribute: str = "mail"
