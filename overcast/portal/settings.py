"""Portal-only settings, read from OVERCAST_PORTAL_* variables (the shared Settings stays small)."""

from __future__ import annotations

from pydantic import field_validator
from pydantic_settings import BaseSettings, SettingsConfigDict

from overcast.portal.limits import trusted_networks


class PortalSettings(BaseSettings):
    model_config = SettingsConfigDict(env_prefix="OVERCAST_PORTAL_", extra="ignore")

    # Where the e-mails' links point; empty: <the cloud's base URL>/dashboard.
    dashboard_url: str = ""
    # Lifetimes of the single-use links, in seconds: verification, password reset, invitation.
    signup_token_ttl: int = 24 * 3600
    # The link that confirms a profile's new e-mail address.
    email_token_ttl: int = 24 * 3600
    reset_token_ttl: int = 3600
    invitation_token_ttl: int = 7 * 24 * 3600
    # Rate limits: at most this many sign-ups, re-sends and resets per address, and per client address,
    # within the window (seconds); past them, 429 with Retry-After.
    attempts_per_address: int = 3
    attempts_per_client: int = 10
    attempt_window: int = 3600
    # Invitations a user may send within the window (each mails an address of their choosing).
    invitations_per_user: int = 20
    # The reverse proxies in front of the API (comma-separated addresses or CIDR networks): only a request
    # that comes from one of them is counted against the client its X-Forwarded-For names (the right-most
    # address that is not one of them); empty, the connection's own address is the client. The API server
    # runs uvicorn without its own header parsing, so this list is the only place a proxy is trusted.
    trusted_proxies: str = ""
    # A mail the mailer refused is tried again after retry_seconds x its attempts, at most this often.
    mail_max_attempts: int = 10
    mail_retry_seconds: int = 60

    @field_validator("trusted_proxies")
    @classmethod
    def _proxies_are_addresses(cls, value: str) -> str:
        trusted_networks(value)  # a bad entry stops the service at start, not a request later
        return value
