"""Billing-only settings, read from OVERCAST_BILLING_* variables (the shared Settings stays small)."""

from __future__ import annotations

from pydantic_settings import BaseSettings, SettingsConfigDict


class BillingSettings(BaseSettings):
    model_config = SettingsConfigDict(env_prefix="OVERCAST_BILLING_", extra="ignore")

    # The invoice period: calendar months (UTC), ISO weeks or days.
    period: str = "month"
    # Issue each account's invoice as soon as its period closes (else an operator issues the drafts).
    auto_issue: bool = False
    # How many issued periods back a late event is still looked for (and billed as an adjustment).
    adjustment_periods: int = 3
    # Running servers of an account past its credit limit for this long are stopped (never deleted);
    # None: they keep running.
    stop_servers_after: float | None = None
    # The shared secret of the payment webhook's HMAC-SHA256 signature; empty: the webhook is off.
    webhook_secret: str = ""
    # A webhook call signed longer ago than this (seconds) is refused, so a captured one cannot be replayed.
    webhook_tolerance: int = 300
