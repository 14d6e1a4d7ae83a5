"""The JSON form of one NPO's integration: where its API is, how to
sign, what to pull, how to enrol.

Every model forbids unknown keys, so a typo in a config is an error naming the
field rather than a silently ignored setting. Every path and template is parsed
here too (:mod:`npo_integration.expressions`), so a malformed one is refused
before the config is stored, not found at run time.
"""

from __future__ import annotations

from datetime import datetime
from typing import Annotated, Any, Literal

from pydantic import (
    BaseModel,
    ConfigDict,
    Field,
    SerializerFunctionWrapHandler,
    field_validator,
    model_serializer,
    model_validator,
)

from npo_integration.expressions import (
    PathOrRootText,
    PathText,
    QuoteKind,
    TemplateText,
    check_quoted_template,
    parse_template,
)
from npo_integration.models.events import Candidate, CandidateAssignmentEvent, NpoId, OfferingRef
from npo_integration.models.http_fields import HeaderName, HeaderValue
from npo_integration.models.secret import Secret
from npo_integration.transforms.declarative.spec import DeclarativeMapping

StreamName = Literal["offerings", "assignments"]


class _Strict(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True)


# --- auth: one model per scheme -------------------------------------------------


class NoAuth(_Strict):
    kind: Literal["none"] = "none"


class BearerAuth(_Strict):
    kind: Literal["bearer"]
    token: Secret


class ApiKeyHeaderAuth(_Strict):
    kind: Literal["api_key_header"]
    header: HeaderName = "X-API-Key"
    key: Secret


class ApiKeyQueryAuth(_Strict):
    """Moodle-style ``?wstoken=...``."""

    kind: Literal["api_key_query"]
    param: str = "wstoken"
    key: Secret


class BasicAuth(_Strict):
    kind: Literal["basic"]
    username: str
    password: Secret


class OAuth2ClientCredentialsAuth(_Strict):
    kind: Literal["oauth2_client_credentials"]
    token_url: str = Field(description="absolute, or relative to base_url")
    client_id: str
    client_secret: Secret
    scope: str | None = None
    refresh_margin_seconds: float = Field(30.0, ge=0, le=3600)


AuthConfig = Annotated[
    NoAuth
    | BearerAuth
    | ApiKeyHeaderAuth
    | ApiKeyQueryAuth
    | BasicAuth
    | OAuth2ClientCredentialsAuth,
    Field(discriminator="kind"),
]
SECRET_FIELDS: dict[str, tuple[str, ...]] = {
    "none": (),
    "bearer": ("token",),
    "api_key_header": ("key",),
    "api_key_query": ("key",),
    "basic": ("password",),
    "oauth2_client_credentials": ("client_secret",),
}


# --- pagination: one model per style -------------------------------------------


class NoPagination(_Strict):
    style: Literal["none"] = "none"


class PageNumberPagination(_Strict):
    style: Literal["page_number"]
    page_param: str = "page"
    size_param: str | None = "per_page"
    page_size: int = Field(100, ge=1, le=10_000)
    start_page: int = Field(1, ge=0)


class OffsetPagination(_Strict):
    style: Literal["offset"]
    offset_param: str = "offset"
    limit_param: str = "limit"
    limit: int = Field(100, ge=1, le=10_000)


class BodyCursorPagination(_Strict):
    style: Literal["body_cursor"]
    cursor_path: PathText = Field(description="path of the next cursor in the response body")
    cursor_param: str = "cursor"


class NextUrlPagination(_Strict):
    style: Literal["next_url"]
    next_url_path: PathText = Field(
        description="path of the next page's URL in the body (absolute or relative)"
    )


class LinkHeaderPagination(_Strict):
    """RFC 8288 ``Link: <...>; rel="next"`` (Canvas LMS)."""

    style: Literal["link_header"]


PaginationConfig = Annotated[
    NoPagination
    | PageNumberPagination
    | OffsetPagination
    | BodyCursorPagination
    | NextUrlPagination
    | LinkHeaderPagination,
    Field(discriminator="style"),
]


# --- streams -------------------------------------------------------------------


class IncrementalConfig(_Strict):
    """Pull only what changed since the last committed cursor.

    The cursor is the largest ``cursor_field`` seen in a committed page. It is
    sent as ``param`` and/or substituted for ``{cursor}`` in the stream's path
    and params (e.g. a SOQL ``WHERE LastModifiedDate > {cursor}``).
    """

    cursor_field: PathText
    param: str | None = None
    initial: str | None = None


class ErrorInBodyConfig(_Strict):
    """APIs that answer errors with HTTP 200 (Moodle): a body holding ``path`` is an error."""

    path: PathText = "exception"
    message_path: PathText | None = "message"
    code_path: PathText | None = "errorcode"


class StreamConfig(_Strict):
    enabled: bool = True
    method: Literal["GET", "POST"] = "GET"
    path: TemplateText = Field(
        description="relative to base_url; may hold {cursor} and, for child streams, {parent.FIELD}"
    )
    params: dict[str, TemplateText] = Field(default_factory=dict)
    records_path: PathOrRootText = Field(
        "", description="path of the record list; empty: the body is the list"
    )
    record_id_path: PathText = "id"
    pagination: PaginationConfig = Field(default_factory=NoPagination)
    incremental: IncrementalConfig | None = None
    parent_stream: StreamName | None = Field(
        None,
        description=(
            "fetch this stream once per record of the parent stream (Canvas enrolments per course)"
        ),
    )
    schedule_seconds: int = Field(300, ge=1, le=86_400)
    full_sweep_every: int | None = Field(
        None,
        ge=1,
        le=10_000,
        description=(
            "incremental streams: every Nth run starts from incremental.initial (a full sweep),"
            " so records deleted at the NPO are noticed (removal by absence)"
        ),
    )

    @model_validator(mode="after")
    def _full_sweeps_are_of_incremental_streams(self) -> StreamConfig:
        if self.full_sweep_every is not None and self.incremental is None:
            raise ValueError("full_sweep_every needs incremental (every run of the stream is full)")
        return self

    @model_validator(mode="after")
    def _known_placeholders(self) -> StreamConfig:
        """``{cursor}`` needs ``incremental``, ``{parent.FIELD}`` needs ``parent_stream``."""
        templates = [("path", self.path)]
        templates += [(f"params.{name}", text) for name, text in self.params.items()]
        for where, text in templates:
            for placeholder in parse_template(text).placeholders:
                if placeholder.text == "cursor":
                    if self.incremental is None:
                        raise ValueError(f"{where}: {{cursor}} needs incremental")
                elif placeholder.steps[0] == "parent" and len(placeholder.steps) > 1:
                    if self.parent_stream is None:
                        raise ValueError(f"{where}: {{{placeholder.text}}} needs parent_stream")
                else:
                    raise ValueError(
                        f"{where}: unknown value {{{placeholder.text}}}; "
                        "use {cursor} or {parent.FIELD} (write {{ and }} for literal braces)"
                    )
        return self


class StreamsConfig(_Strict):
    offerings: StreamConfig | None = None
    assignments: StreamConfig | None = None

    def items(self) -> list[tuple[StreamName, StreamConfig]]:
        found: list[tuple[StreamName, StreamConfig]] = []
        if self.offerings is not None:
            found.append(("offerings", self.offerings))
        if self.assignments is not None:
            found.append(("assignments", self.assignments))
        return found


# --- enrolment -----------------------------------------------------------------


class EnrolmentEndpoint(_Strict):
    method: Literal["POST", "PUT", "DELETE", "GET"] = "POST"
    path: TemplateText = Field(
        description=(
            "relative to base_url; {name} placeholders are filled from the plug-in's path_vars"
        )
    )
    body_format: Literal["json", "form", "none"] = "json"
    response_id_path: PathText | None = "id"


_LOOKUP_RECORDS: dict[str, type[BaseModel]] = {"candidate": Candidate, "offering": OfferingRef}
"""The assignment's objects a lookup template may name a field of (``{candidate.email}``)."""
_LOOKUP_VALUES = frozenset(CandidateAssignmentEvent.model_fields) - set(_LOOKUP_RECORDS)


def _lookup_placeholders(where: str, text: str) -> None:
    """A lookup template names the assignment's fields, or ``request.*`` (the plug-in's output,
    whose shape only the plug-in knows): a typo is a config error, not an empty search."""
    for placeholder in parse_template(text).placeholders:
        root, rest = placeholder.steps[0], placeholder.steps[1:]
        record = _LOOKUP_RECORDS.get(root) if isinstance(root, str) else None
        if root == "request" and rest:
            continue
        if record is not None and len(rest) == 1 and rest[0] in record.model_fields:
            continue
        if root in _LOOKUP_VALUES and not rest:
            continue
        fields = ", ".join(
            [
                f"{{{name}.{field}}}"
                for name, model in _LOOKUP_RECORDS.items()
                for field in model.model_fields
            ]
        )
        raise ValueError(
            f"{where}: unknown value {{{placeholder.text}}}; use {{assignment_id}}, {fields} "
            "or {request.PATH} (the enrol request as built)"
        )


class LookupParam(_Strict):
    """One query parameter of a lookup; a plain string in a config is ``{"template": ...}``."""

    template: TemplateText
    quote: QuoteKind | None = Field(
        None,
        description=(
            "write each value as a literal of this query language (soql: 'O\\'Brien'); "
            "the template then has no quotes around its placeholders"
        ),
    )

    @model_validator(mode="before")
    @classmethod
    def _from_text(cls, data: Any) -> Any:
        if not isinstance(data, str):
            return data
        parse_template(data)  # a malformed one is refused at params.NAME, as written
        return {"template": data}

    @model_serializer(mode="wrap")
    def _as_written(self, handler: SerializerFunctionWrapHandler) -> Any:
        """Stored and shown compactly: an unquoted param is its template."""
        return self.template if self.quote is None else handler(self)

    @model_validator(mode="after")
    def _quotable(self) -> LookupParam:
        if self.quote is not None:
            check_quoted_template(parse_template(self.template), self.quote)
        return self


class EnrolmentLookup(_Strict):
    """How to ask the NPO whether an enrolment already exists (resolving an unknown outcome).

    ``match`` says which found record is this assignment's: NPO record path ->
    template over the assignment; a record counts only if every value equals.
    Without it the NPO's own filter is trusted for one record at most.
    """

    path: TemplateText
    params: dict[str, LookupParam] = Field(default_factory=dict)
    records_path: PathOrRootText = ""
    id_path: PathText = "id"
    match: dict[PathText, TemplateText] = Field(default_factory=dict)

    @model_validator(mode="after")
    def _known_placeholders(self) -> EnrolmentLookup:
        _lookup_placeholders("path", self.path)
        for name, param in self.params.items():
            _lookup_placeholders(f"params.{name}", param.template)
        for path, text in self.match.items():
            _lookup_placeholders(f"match.{path}", text)
        if self.match and not any(parse_template(t).placeholders for t in self.match.values()):
            raise ValueError(
                "match: no value comes from the assignment (no {placeholder}), "
                "so it cannot tell this assignment's enrolment from another's"
            )
        return self


class AlreadyEnrolledConfig(_Strict):
    """How the NPO says "this candidate is already enrolled": an answer that means success.

    An error answer is "already enrolled" when its status is one of ``statuses``, or
    when its body (or error code) contains one of ``body_contains`` (Salesforce answers
    a duplicate with HTTP 400 ``[{"errorCode": "DUPLICATE_VALUE", ...}]``).
    """

    statuses: list[Annotated[int, Field(ge=400, le=499)]] = Field(
        default_factory=lambda: [409], description="4xx statuses that mean already enrolled"
    )
    body_contains: list[Annotated[str, Field(min_length=1)]] = Field(
        default_factory=list,
        description="texts (error codes or messages) whose presence in an error answer means it",
    )


class EnrolmentConfig(_Strict):
    enabled: bool = False
    enrol: EnrolmentEndpoint | None = None
    unenrol: EnrolmentEndpoint | None = None
    lookup: EnrolmentLookup | None = None
    idempotency_key: Literal["honoured", "ignored"] | None = Field(
        None,
        description=(
            "whether the NPO answers a repeated Idempotency-Key with its first answer; "
            "with neither this nor a lookup, an unknown outcome waits for an operator"
        ),
    )
    already_enrolled: AlreadyEnrolledConfig = Field(default_factory=AlreadyEnrolledConfig)
    max_attempts: int = Field(5, ge=1, le=50)

    @property
    def resolves_unknown_outcomes(self) -> bool:
        """An unknown outcome can be settled without an operator: re-sent safely or looked up."""
        return self.idempotency_key == "honoured" or self.lookup is not None


# --- transform -----------------------------------------------------------------


class PluginTransform(_Strict):
    """A code plug-in: a module of this package or an installed entry point."""

    kind: Literal["plugin"]
    name: str
    options: dict[str, Any] = Field(default_factory=dict)


class DeclarativeTransform(_Strict):
    kind: Literal["declarative"]
    mapping: DeclarativeMapping


TransformConfig = Annotated[PluginTransform | DeclarativeTransform, Field(discriminator="kind")]


# --- limits --------------------------------------------------------------------


class RateLimitConfig(_Strict):
    requests_per_second: float = Field(10.0, gt=0, le=10_000)
    burst: int = Field(10, ge=1, le=10_000)


class CircuitBreakerConfig(_Strict):
    failure_threshold: int = Field(5, ge=1, le=1_000)
    reset_after_seconds: float = Field(30.0, gt=0, le=86_400)


class RetryConfig(_Strict):
    max_attempts: int = Field(4, ge=1, le=20)
    backoff_base_seconds: float = Field(0.5, gt=0, le=60)
    backoff_max_seconds: float = Field(30.0, gt=0, le=3600)


# --- the integration -----------------------------------------------------------


class NpoIntegrationConfig(_Strict):
    npo_id: NpoId
    display_name: str = Field(min_length=1, max_length=200)
    active: bool = True
    base_url: str
    auth: AuthConfig = Field(default_factory=NoAuth)
    headers: dict[HeaderName, HeaderValue] = Field(
        default_factory=dict, description="static, non-secret headers"
    )
    streams: StreamsConfig = Field(default_factory=StreamsConfig)
    enrolment: EnrolmentConfig = Field(default_factory=EnrolmentConfig)
    transform: TransformConfig
    error_in_body: ErrorInBodyConfig | None = None
    timeout_seconds: float = Field(10.0, gt=0, le=300)
    rate_limit: RateLimitConfig = Field(default_factory=RateLimitConfig)
    retry: RetryConfig = Field(default_factory=RetryConfig)
    circuit_breaker: CircuitBreakerConfig = Field(default_factory=CircuitBreakerConfig)

    @field_validator("base_url")
    @classmethod
    def _http_url(cls, value: str) -> str:
        from npo_integration.url_policy import parse_http_url

        return parse_http_url(value)


ConfigSource = Literal["npo-assessed", "admin-api", "cli", "file"]


class NpoConfigVersion(_Strict):
    """One stored version of an NPO's config; the registry keeps every version."""

    npo_id: NpoId
    version: int = Field(ge=1)
    updated_at: datetime
    source: ConfigSource
    change: Literal["upsert", "deactivate", "reseal"]
    config: NpoIntegrationConfig
