"""Identity-only settings, read from OVERCAST_IDENTITY_* variables (the shared Settings stays small)."""

from __future__ import annotations

from pydantic_settings import BaseSettings, SettingsConfigDict


class IdentitySettings(BaseSettings):
    model_config = SettingsConfigDict(env_prefix="OVERCAST_IDENTITY_", extra="ignore")

    # Keystone's default token lifetime.
    token_ttl_seconds: int = 3600
    # Rotation keeps this many keys so tokens signed before a rotation stay valid until they expire.
    max_active_keys: int = 3
    # Failed logins per user name before further attempts are refused for lockout_seconds.
    max_failed_logins: int = 5
    failure_window_seconds: float = 300.0
    lockout_seconds: float = 60.0
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
