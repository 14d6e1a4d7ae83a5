"""The whole NPO transform plug-in contract.

A plug-in turns one NPO's records into platform models, and platform enrolments
into the NPO's requests. Every method is synchronous, pure and gets one record at
a time; the service runs it in a worker thread under a time limit (see
:mod:`npo_integration.transforms.invoke`), so a plug-in never does I/O.
"""

from __future__ import annotations

from typing import Any, Protocol

from pydantic import BaseModel, ConfigDict, Field, JsonValue

from npo_integration.errors import ConfigError, SkippableError
from npo_integration.models.events import CandidateAssignmentEvent, Offering, Progress

CONTRACT_VERSION = 1
SUPPORTED_CONTRACT_VERSIONS = frozenset({1})
REQUIRED_METHODS = {  # name -> positional arguments
    "offering": 1,
    "progress": 1,
    "enrolment_request": 1,
    "unenrol_request": 2,
    "enrolment_ref": 2,
}


class EnrolmentRequest(BaseModel):
    """What to send to the NPO's enrol/unenrol endpoint; the endpoint itself is in the config."""

    model_config = ConfigDict(extra="forbid", frozen=True)

    path_vars: dict[str, str] = Field(default_factory=dict, description="fills {name} in the path")
    body: dict[str, JsonValue] | None = Field(
        None, description="a JSON object, or flat form fields: {'enrolments[0][userid]': '42'}"
    )
    query: dict[str, str] = Field(default_factory=dict)


class TransformPlugin(Protocol):
    """One NPO's transforms. ``None`` from offering/progress: "not one of those, skip it"."""

    name: str
    contract_version: int  # CONTRACT_VERSION

    def offering(self, record: Any) -> Offering | None: ...

    def progress(self, record: Any) -> Progress | None: ...

    def enrolment_request(self, assignment: CandidateAssignmentEvent) -> EnrolmentRequest: ...

    def unenrol_request(
        self, assignment: CandidateAssignmentEvent, npo_enrolment_ref: str
    ) -> EnrolmentRequest: ...

    def enrolment_ref(
        self, response_body: Any, assignment: CandidateAssignmentEvent
    ) -> str | None: ...


class TransformError(SkippableError):
    """One record or assignment cannot be transformed: dead-letter it and keep going."""

    def __init__(self, reason: str, *, field: str | None = None, path: str | None = None) -> None:
        where = " ".join(
            part
            for part in (
                f"field {field!r}" if field else "",
                f"(NPO path {path!r})" if path else "",
            )
            if part
        )
        super().__init__(f"{where}: {reason}" if where else reason)
        self.reason = reason
        self.field = field
        self.path = path


class PluginLoadError(ConfigError):
    """A plug-in is unknown, fails to import or does not implement the contract."""
