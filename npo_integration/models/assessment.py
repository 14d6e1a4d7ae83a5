"""The platform's assessment of an NPO (``spotlight.npo-assessed``): the one
event that carries a config."""

from __future__ import annotations

from typing import Annotated, Any, Literal

from pydantic import BeforeValidator, Field

from npo_integration.catalogue import resolve_config_input
from npo_integration.errors import ConfigError
from npo_integration.models.events import Event, NpoId
from npo_integration.models.npo_config import NpoIntegrationConfig


def _resolved(document: Any) -> Any:
    """A catalogue template input (``"template": "moodle@1"``) as its full config; a template that
    does not resolve is this event's validation error (one line), not a crash of the agent."""
    try:
        return resolve_config_input(document)
    except ConfigError as exc:
        raise ValueError(str(exc)) from None


class NpoAssessed(Event):
    """``spotlight.npo-assessed``, key npo_id: the assessment carries the NPO's API details."""

    event_type: Literal["npo.assessed"] = "npo.assessed"
    npo_id: NpoId
    integration: Annotated[NpoIntegrationConfig | None, BeforeValidator(_resolved)] = Field(
        None, description="absent when the NPO has no API to integrate"
    )
