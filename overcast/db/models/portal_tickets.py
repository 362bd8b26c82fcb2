"""Support tickets (#20): a billing account's tickets, their messages (staff's internal notes among them) and
the small files attached to messages.

A ticket belongs to the billing account of the project it was opened from: every user holding a role on a
project billed to that account may read it, and support staff (admin or support role) read them all. A
status change is a compare-and-swap on `status` (overcast.portal.tickets_states has the table).
Attachments are small (a size limit in the portal's settings) and kept in the database.
"""

from __future__ import annotations

from datetime import datetime

from sqlalchemy import Boolean, ForeignKey, Index, Integer, LargeBinary, String, Text, UniqueConstraint
from sqlalchemy.orm import Mapped, mapped_column

from overcast.db.base import Base, TimestampMixin
from overcast.db.types import UTCDateTime


class Ticket(Base, TimestampMixin):
    __tablename__ = "portal_tickets"
    # Lists are newest first: a page of the queue reads the index, not a sort of every ticket.
    __table_args__ = (
        Index("ix_portal_tickets_created_at", "created_at"),
        Index("ix_portal_tickets_status_created_at", "status", "created_at"),
    )

    id: Mapped[str] = mapped_column(String(36), primary_key=True)
    account_id: Mapped[str] = mapped_column(
        ForeignKey("billing_accounts.id", ondelete="CASCADE"), nullable=False, index=True
    )
    # The project the ticket was opened from (one of the account's), and who opened it.
    project_id: Mapped[str] = mapped_column(String(64), nullable=False)
    opener_user_id: Mapped[str] = mapped_column(String(64), nullable=False)
    opener_name: Mapped[str] = mapped_column(String(255), nullable=False)
    subject: Mapped[str] = mapped_column(String(255), nullable=False)
    category: Mapped[str] = mapped_column(String(32), nullable=False, index=True)
    # What the ticket is about, if anything: a server, volume or invoice of the account.
    reference_type: Mapped[str | None] = mapped_column(String(16), nullable=True)
    reference_id: Mapped[str | None] = mapped_column(String(64), nullable=True)
    status: Mapped[str] = mapped_column(String(32), nullable=False)
    assignee_user_id: Mapped[str | None] = mapped_column(String(64), nullable=True, index=True)
    assignee_name: Mapped[str | None] = mapped_column(String(255), nullable=True)
    # When the last message (internal notes included) was written: the queue's "last activity".
    last_message_at: Mapped[datetime] = mapped_column(UTCDateTime(), nullable=False)
    closed_at: Mapped[datetime | None] = mapped_column(UTCDateTime(), nullable=True)


class TicketMessage(Base):
    __tablename__ = "portal_ticket_messages"
    __table_args__ = (UniqueConstraint("ticket_id", "position"),)

    id: Mapped[str] = mapped_column(String(36), primary_key=True)
    ticket_id: Mapped[str] = mapped_column(
        ForeignKey("portal_tickets.id", ondelete="CASCADE"), nullable=False, index=True
    )
    author_user_id: Mapped[str] = mapped_column(String(64), nullable=False)
    author_name: Mapped[str] = mapped_column(String(255), nullable=False)
    # Written by support staff (the customer sees "Support" replies), and, for staff only, a note the
    # customer never sees.
    staff: Mapped[bool] = mapped_column(Boolean, nullable=False)
    internal: Mapped[bool] = mapped_column(Boolean, nullable=False, default=False)
    body: Mapped[str] = mapped_column(Text, nullable=False)
    created_at: Mapped[datetime] = mapped_column(UTCDateTime(), nullable=False)
    # 1, 2, 3, ... within the ticket, in the order the messages were written: two messages of one clock
    # tick share created_at, and the thread must still read in order.
    position: Mapped[int] = mapped_column(Integer, nullable=False)


class TicketAttachment(Base):
    __tablename__ = "portal_ticket_attachments"

    id: Mapped[str] = mapped_column(String(36), primary_key=True)
    message_id: Mapped[str] = mapped_column(
        ForeignKey("portal_ticket_messages.id", ondelete="CASCADE"), nullable=False, index=True
    )
    ticket_id: Mapped[str] = mapped_column(
        ForeignKey("portal_tickets.id", ondelete="CASCADE"), nullable=False, index=True
    )
    filename: Mapped[str] = mapped_column(String(255), nullable=False)
    content_type: Mapped[str] = mapped_column(String(127), nullable=False)
    size: Mapped[int] = mapped_column(Integer, nullable=False)
    sha256: Mapped[str] = mapped_column(String(64), nullable=False)
    data: Mapped[bytes] = mapped_column(LargeBinary, nullable=False)
    created_at: Mapped[datetime] = mapped_column(UTCDateTime(), nullable=False)
