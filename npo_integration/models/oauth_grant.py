"""An NPO's OAuth2 grant (authorization code with rotating refresh tokens), as stored.

Every token is sealed (``sealing.py``); the clear values exist only in memory while a token
request or an API call is made. One value per NPO, holding each source's grant.
"""

from __future__ import annotations

from typing import Literal

from pydantic import BaseModel, ConfigDict, Field

GrantStatus = Literal["active", "revoked"]


class StoredGrant(BaseModel):
    """One source's grant. ``previous_refresh_token`` is the token the current one replaced: kept
    until the current one has worked once (a refresh with it succeeded), as the way back should
    the NPO not have taken the new one."""

    model_config = ConfigDict(frozen=True, extra="forbid")

    status: GrantStatus = "active"
    refresh_token: str | None = Field(None, description="sealed")
    previous_refresh_token: str | None = Field(None, description="sealed")
    generation: int = Field(0, ge=0, description="refreshes since the consent")
    access_token: str | None = Field(None, description="sealed")
    access_expires_at: float | None = Field(None, description="epoch seconds")
    refreshed_at: float | None = None
    revoked_reason: str | None = None
    revoked_at: float | None = None


class NpoGrants(BaseModel):
    """The value of the ``npo-oauth-grants`` table, keyed by npo_id."""

    model_config = ConfigDict(frozen=True, extra="forbid")

    npo_id: str
    sources: dict[str, StoredGrant] = Field(default_factory=dict)
