"""Dashboard settings, read from OVERCAST_DASHBOARD_* variables."""

from __future__ import annotations

from pydantic_settings import BaseSettings, SettingsConfigDict


class DashboardSettings(BaseSettings):
    model_config = SettingsConfigDict(env_prefix="OVERCAST_DASHBOARD_", extra="ignore")

    # A session ends after this long without a request (and always when its token expires).
    session_idle_seconds: float = 1800.0
    # `overcast service dashboard`: where it listens, and where the cloud's Identity API is (empty: the
    # API's base_url + /identity); every other service's URL comes from the token's catalog.
    listen: str = "127.0.0.1:8780"
    auth_url: str = ""
