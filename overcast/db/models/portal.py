"""The customer portal (#20): plans, its settings, invitation codes, sign-ups, the single-use tokens its
e-mails carry, the portal's view of each customer account (status, plan, what a suspension disabled),
the outbox of mails not handed over yet, and the attempts its rate limits count.

Tokens and invitation codes are stored only as SHA-256 digests: a copy of the database gives no working
link. A pending sign-up keeps the password only as the identity service's hash."""

from __future__ import annotations

from datetime import datetime
from typing import Any

from sqlalchemy import JSON, Boolean, ForeignKey, Index, Integer, String, Text
from sqlalchemy.orm import Mapped, mapped_column

from overcast.db.base import Base, TimestampMixin
from overcast.db.types import UTCDateTime

AMOUNT = 40  # characters of a decimal string, as billing's
DIGEST = 64  # a SHA-256 hex digest


class PortalPlan(Base, TimestampMixin):
    """What a sign-up gets: quotas, the billing terms (price list, mode, credit limit, trial credit)."""

    __tablename__ = "portal_plans"

    name: Mapped[str] = mapped_column(String(64), primary_key=True)
    description: Mapped[str] = mapped_column(Text, nullable=False, default="")
    # {"instances": 10, "cores": 20, ...}: compute, volume and network quota names.
    quotas: Mapped[dict[str, int]] = mapped_column(JSON, nullable=False, default=dict)
    price_list: Mapped[str] = mapped_column(String(255), nullable=False)
    currency: Mapped[str] = mapped_column(String(3), nullable=False)
    mode: Mapped[str] = mapped_column(String(16), nullable=False)
    credit_limit: Mapped[str | None] = mapped_column(String(AMOUNT), nullable=True)
    trial_credit: Mapped[str | None] = mapped_column(String(AMOUNT), nullable=True)
    is_default: Mapped[bool] = mapped_column(Boolean, nullable=False, default=False)


class PortalSetting(Base, TimestampMixin):
    """One named group of settings an operator changes at run time ("signup": {enabled, invitation_only})."""

    __tablename__ = "portal_settings"

    name: Mapped[str] = mapped_column(String(64), primary_key=True)
    value: Mapped[dict[str, Any]] = mapped_column(JSON, nullable=False)


class PortalInvitationCode(Base, TimestampMixin):
    __tablename__ = "portal_invitation_codes"

    code_digest: Mapped[str] = mapped_column(String(DIGEST), primary_key=True)
    plan: Mapped[str | None] = mapped_column(String(64), nullable=True)
    # Set by the sign-up that used it (compare-and-swap from None): single use.
    used_at: Mapped[datetime | None] = mapped_column(UTCDateTime(), nullable=True)
    used_by: Mapped[str | None] = mapped_column(String(255), nullable=True)


class PortalSignup(Base, TimestampMixin):
    """A sign-up waiting for its address to be verified; `verified` once its account exists."""

    __tablename__ = "portal_signups"

    id: Mapped[str] = mapped_column(String(36), primary_key=True)
    email: Mapped[str] = mapped_column(String(255), nullable=False, index=True)
    name: Mapped[str] = mapped_column(String(255), nullable=False)
    password_hash: Mapped[str | None] = mapped_column(String(255), nullable=True)
    plan: Mapped[str] = mapped_column(String(64), nullable=False)
    status: Mapped[str] = mapped_column(String(16), nullable=False)  # pending | verified
    client_ip: Mapped[str] = mapped_column(String(64), nullable=False, default="")
    account_id: Mapped[str | None] = mapped_column(String(36), nullable=True)


class PortalToken(Base, TimestampMixin):
    """A single-use link's token: a sign-up's verification, a password reset or an invitation."""

    __tablename__ = "portal_tokens"

    digest: Mapped[str] = mapped_column(String(DIGEST), primary_key=True)
    kind: Mapped[str] = mapped_column(String(16), nullable=False)  # signup | reset | invitation
    email: Mapped[str] = mapped_column(String(255), nullable=False, index=True)
    # What the token acts on: the sign-up's id, the user's id, or the invitation's project.
    subject_id: Mapped[str] = mapped_column(String(64), nullable=False)
    data: Mapped[dict[str, Any]] = mapped_column(JSON, nullable=False, default=dict)
    expires_at: Mapped[datetime] = mapped_column(UTCDateTime(), nullable=False)
    # Set once, by compare-and-swap from None, by the request that uses the token.
    used_at: Mapped[datetime | None] = mapped_column(UTCDateTime(), nullable=True)


class PortalAccount(Base, TimestampMixin):
    """The portal's side of a billing account: its plan, owner and status (active | suspended)."""

    __tablename__ = "portal_accounts"

    account_id: Mapped[str] = mapped_column(
        ForeignKey("billing_accounts.id", ondelete="CASCADE"), primary_key=True
    )
    plan: Mapped[str | None] = mapped_column(String(64), nullable=True)
    email: Mapped[str | None] = mapped_column(String(255), nullable=True)
    owner_user_id: Mapped[str | None] = mapped_column(String(64), nullable=True)
    status: Mapped[str] = mapped_column(String(16), nullable=False, default="active")
    suspended_at: Mapped[datetime | None] = mapped_column(UTCDateTime(), nullable=True)
    suspend_reason: Mapped[str] = mapped_column(Text, nullable=False, default="")
    # What the suspension changed, so resume undoes only that: users it disabled, servers it stopped.
    disabled_user_ids: Mapped[list[str]] = mapped_column(JSON, nullable=False, default=list)
    stopped_server_ids: Mapped[list[str]] = mapped_column(JSON, nullable=False, default=list)


class PortalOutboxMail(Base, TimestampMixin):
    """A mail written in the same transaction as what it tells of, sent after the commit and retried
    until the mailer takes it (`sent_at`)."""

    __tablename__ = "portal_outbox"

    id: Mapped[str] = mapped_column(String(36), primary_key=True)
    # {"to": [...], "subject", "body", "reply_to", "headers"}
    mail: Mapped[dict[str, Any]] = mapped_column(JSON, nullable=False)
    attempts: Mapped[int] = mapped_column(Integer, nullable=False, default=0)
    next_attempt_at: Mapped[datetime] = mapped_column(UTCDateTime(), nullable=False, index=True)
    last_error: Mapped[str] = mapped_column(Text, nullable=False, default="")
    sent_at: Mapped[datetime | None] = mapped_column(UTCDateTime(), nullable=True)


class PortalAttempt(Base):
    """One counted attempt (a sign-up, a re-send, a reset) by address or client IP, for the rate limits."""

    __tablename__ = "portal_attempts"
    __table_args__ = (Index("ix_portal_attempts_action_key_at", "action", "key", "at"),)

    id: Mapped[int] = mapped_column(Integer, primary_key=True, autoincrement=True)
    action: Mapped[str] = mapped_column(String(32), nullable=False)
    key: Mapped[str] = mapped_column(String(255), nullable=False)
    at: Mapped[datetime] = mapped_column(UTCDateTime(), nullable=False)
