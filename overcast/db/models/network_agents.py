"""The network agents' own rows: one per host, saying where the other hosts' VXLAN tunnels reach it."""

from __future__ import annotations

from sqlalchemy import String
from sqlalchemy.orm import Mapped, mapped_column

from overcast.db.base import Base, TimestampMixin


class NetworkAgent(Base, TimestampMixin):
    """Written by a host's network agent when it starts and whenever its underlay address changes; read
    by every agent for the remote VTEPs of its VXLAN networks."""

    __tablename__ = "network_agents"

    host: Mapped[str] = mapped_column(String(255), primary_key=True)
    underlay_ip: Mapped[str] = mapped_column(String(64), nullable=False)
