"""How long wiring a server's port may take: shared by the compute host (which waits for the network
agent) and the API (which waits for the host on os-interface's attach)."""

from __future__ import annotations

from pydantic import Field
from pydantic_settings import BaseSettings, SettingsConfigDict


class VifSettings(BaseSettings):
    """Read from OVERCAST_VIF_* variables (the shared Settings stays small)."""

    model_config = SettingsConfigDict(env_prefix="OVERCAST_VIF_", extra="ignore")

    # Nova's vif_plugging_timeout: how long a build waits for the agent to wire one port.
    plugging_timeout: float = Field(default=60.0, gt=0)
