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
    GetJsonSchemaHandler,
    PrivateAttr,
    SerializerFunctionWrapHandler,
    field_validator,
    model_serializer,
    model_validator,
)
from pydantic.json_schema import JsonSchemaValue
from pydantic_core import CoreSchema

from npo_integration.expressions import (
    PathOrRootText,
    PathText,
    QuoteKind,
    TemplateText,
    check_quoted_template,
    parse_template,
)
from npo_integration.models.codec import Versioned
from npo_integration.models.events import Candidate, CandidateAssignmentEvent, NpoId, OfferingRef
from npo_integration.models.http_fields import HeaderName, HeaderValue
from npo_integration.models.secret import Secret
from npo_integration.transforms.declarative.spec import DeclarativeMapping

StreamKind = Literal["offerings", "progress"]
"""The platform record a stream's records become: offerings, or candidates' progress."""
StreamName = str
"""A stream's key in every table, topic, metric and view (``stream_key``): unique in its NPO."""
Identifier = Annotated[str, Field(pattern=r"^[a-z][a-z0-9_-]{0,39}$")]
"""A source's or stream's name: lower case, digits, ``_`` and ``-``; no ``/`` or ``:``, which
separate it from what follows in keys and references."""

LEGACY_SOURCE = "main"
"""The source a config written before sources (one system) is read as. Its streams keep the keys
they had (``offerings``, ``assignments``) and its offering references stay unprefixed, so no
stored key changes and no record is published twice."""
LEGACY_STREAM_KINDS: dict[str, StreamKind] = {"offerings": "offerings", "assignments": "progress"}
"""The streams a config had before sources, and the kind each is read as."""
LEGACY_SOURCE_FIELDS = (
    "base_url",
    "auth",
    "headers",
    "streams",
    "enrolment",
    "transform",
    "error_in_body",
    "timeout_seconds",
    "rate_limit",
    "retry",
    "circuit_breaker",
)
"""The top-level fields of a config written before sources: one source's fields today."""


def stream_key(source: str, stream: str) -> StreamName:
    """The stream's key: ``source/stream``, and for the legacy source the stream's name alone
    (the key it had before sources)."""
    return stream if source == LEGACY_SOURCE else f"{source}/{stream}"


def offering_ref_prefix(source: str) -> str:
    """What a source's offering references start with on the platform (``crm:``), so that one NPO's
    references stay unique across its sources; nothing for the legacy source."""
    return "" if source == LEGACY_SOURCE else f"{source}:"


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


class OAuth2AuthorizationCodeAuth(_Strict):
    """Authorization code with rotating refresh tokens (Blackbaud SKY API). The grant itself is
    not configuration: an operator consents once (``npo-integration npos authorize ID``) and the
    refresh tokens live sealed in the ``npo-oauth-grants`` table (docs/security.md)."""

    kind: Literal["oauth2_authorization_code"]
    authorize_url: str = Field(description="the NPO's consent page, absolute")
    token_url: str = Field(description="absolute, or relative to base_url")
    redirect_uri: str = Field(description="registered with the NPO; the code arrives there")
    client_id: str
    client_secret: Secret
    scope: str | None = None
    subscription_key_header: HeaderName | None = Field(
        None, description="a second credential sent on every API call (Bb-Api-Subscription-Key)"
    )
    subscription_key: Secret | None = None
    refresh_margin_seconds: float = Field(60.0, ge=0, le=3600)

    @model_validator(mode="after")
    def _subscription_key_pair(self) -> OAuth2AuthorizationCodeAuth:
        if (self.subscription_key_header is None) != (self.subscription_key is None):
            raise ValueError("subscription_key_header and subscription_key go together")
        return self


AuthConfig = Annotated[
    NoAuth
    | BearerAuth
    | ApiKeyHeaderAuth
    | ApiKeyQueryAuth
    | BasicAuth
    | OAuth2ClientCredentialsAuth
    | OAuth2AuthorizationCodeAuth,
    Field(discriminator="kind"),
]
SECRET_FIELDS: dict[str, tuple[str, ...]] = {
    "none": (),
    "bearer": ("token",),
    "api_key_header": ("key",),
    "api_key_query": ("key",),
    "basic": ("password",),
    "oauth2_client_credentials": ("client_secret",),
    "oauth2_authorization_code": ("client_secret", "subscription_key"),
}
"""Secret fields per kind; an optional one (None) is skipped by whoever walks them."""


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


PAGE_VALUES: dict[str, tuple[str, ...]] = {
    "offset": ("offset", "limit"),
    "page_number": ("number", "size"),
}
"""The ``{page.NAME}`` values each pagination style gives a stream's params (whole numbers)."""


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
    name: Identifier = Field(description="unique in its source")
    kind: StreamKind = Field(description="the platform record its records become")
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
    parent_stream: Identifier | None = Field(
        None,
        description=(
            "a stream of the same source: fetch this stream once per record of it"
            " (Canvas enrolments per course)"
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
        """``{cursor}`` needs ``incremental``, ``{parent.FIELD}`` needs ``parent_stream``,
        ``{page.NAME}`` a pagination style that counts (:data:`PAGE_VALUES`)."""
        templates = [("path", self.path)]
        templates += [(f"params.{name}", text) for name, text in self.params.items()]
        paging = PAGE_VALUES.get(self.pagination.style, ())
        for where, text in templates:
            for placeholder in parse_template(text).placeholders:
                if placeholder.text == "cursor":
                    if self.incremental is None:
                        raise ValueError(f"{where}: {{cursor}} needs incremental")
                elif placeholder.steps[0] == "page" and len(placeholder.steps) == 2:
                    if where == "path" or placeholder.steps[1] not in paging:
                        names = ", ".join(f"{{page.{n}}}" for n in paging) or "none"
                        raise ValueError(
                            f"{where}: {{{placeholder.text}}} is not a page value of pagination "
                            f"style {self.pagination.style!r} in params (it has: {names})"
                        )
                elif placeholder.steps[0] == "parent" and len(placeholder.steps) > 1:
                    if self.parent_stream is None:
                        raise ValueError(f"{where}: {{{placeholder.text}}} needs parent_stream")
                else:
                    raise ValueError(
                        f"{where}: unknown value {{{placeholder.text}}}; "
                        "use {cursor}, {parent.FIELD} or {page.NAME} "
                        "(write {{ and }} for literal braces)"
                    )
        return self

    @property
    def pages_in_params(self) -> bool:
        """The params write the page values themselves (``{page.offset}``...), so the paginator's
        own query params are not sent: APIv4's ``limit``/``offset`` live inside one JSON param."""
        return any(
            p.steps[0] == "page"
            for t in self.params.values()
            for p in parse_template(t).placeholders
        )


# --- enrolment -----------------------------------------------------------------


class EnrolmentEndpoint(_Strict):
    """One enrol or unenrol call. ``PATCH`` is for an upsert keyed in the path (Salesforce's
    ``PATCH /sobjects/{Object}/{ExternalIdField}/{value}``): the same assignment sent twice
    updates the record it made, so a redelivery cannot make a second one."""

    method: Literal["POST", "PUT", "PATCH", "DELETE", "GET"] = "POST"
    path: TemplateText = Field(
        description=(
            "relative to base_url; {name} placeholders are filled from the plug-in's path_vars"
        )
    )
    body_format: Literal["json", "form", "none"] = "json"
    response_id_path: PathText | None = "id"

    @model_validator(mode="after")
    def _patch_has_a_body_and_a_key(self) -> EnrolmentEndpoint:
        if self.method == "PATCH":
            if self.body_format == "none":
                raise ValueError("method PATCH sends the record's fields: body_format is not none")
            if not parse_template(self.path).placeholders:
                raise ValueError(
                    "method PATCH upserts the record the path names: the path needs a {name} "
                    "for the key (e.g. /sobjects/Engagement__c/Ext_Id__c/{assignment_key})"
                )
        return self


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


class SourceConfig(_Strict):
    """One system of an NPO (an LMS, a CRM): its API, credentials, limits, streams, transform and
    enrolment endpoint. Everything measured per call (rate limit, circuit breaker) is per source."""

    name: Identifier
    base_url: str
    auth: AuthConfig = Field(default_factory=NoAuth)
    headers: dict[HeaderName, HeaderValue] = Field(
        default_factory=dict, description="static, non-secret headers"
    )
    streams: list[StreamConfig] = Field(default_factory=list)
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

    @model_validator(mode="after")
    def _streams_fit(self) -> SourceConfig:
        names = [stream.name for stream in self.streams]
        for name in names:
            if names.count(name) > 1:
                raise ValueError(f"streams: two streams named {name!r}")
        by_name = {stream.name: stream for stream in self.streams}
        for stream in self.streams:
            if self.name == LEGACY_SOURCE and LEGACY_STREAM_KINDS.get(stream.name, stream.kind) != (
                stream.kind
            ):
                raise ValueError(
                    f"streams.{stream.name}: in source {LEGACY_SOURCE!r} a stream named "
                    f"{stream.name!r} is of kind {LEGACY_STREAM_KINDS[stream.name]!r} "
                    "(its stored records are); give the stream another name"
                )
            parent = stream.parent_stream
            if parent is None:
                continue
            if parent == stream.name or parent not in by_name:
                raise ValueError(
                    f"streams.{stream.name}.parent_stream: no other stream {parent!r} in source "
                    f"{self.name!r}"
                )
            if by_name[parent].parent_stream is not None:
                raise ValueError(
                    f"streams.{stream.name}.parent_stream: {parent!r} has a parent itself "
                    "(one level of parents only)"
                )
        return self

    def stream(self, name: str) -> StreamConfig | None:
        return next((stream for stream in self.streams if stream.name == name), None)


class NpoSource(SourceConfig):
    """A source with its NPO's id: what the HTTP client, the pull and the enrolment act on.

    Made by ``NpoIntegrationConfig.source`` (not validated again), one per source and config."""

    npo_id: NpoId
    reserved_prefixes: tuple[str, ...] = Field(
        (), description="the other sources' offering reference prefixes (for the main source)"
    )

    @property
    def state_key(self) -> str:
        """The key of this source's client state (rate limit, circuit breaker, plug-in): the
        npo_id for the legacy source, as before sources."""
        return self.npo_id if self.name == LEGACY_SOURCE else f"{self.npo_id}/{self.name}"

    def key_of(self, stream: str) -> StreamName:
        return stream_key(self.name, stream)

    @property
    def ref_prefix(self) -> str:
        return offering_ref_prefix(self.name)

    def where(self, field: str) -> str:
        """A field of this source as an error names it: as before sources for ``main``."""
        return field if self.name == LEGACY_SOURCE else f"sources.{self.name}.{field}"


class TemplateProvenance(_Strict):
    """The catalogue template a config was resolved from (``npo_integration.catalogue``)."""

    name: str = Field(min_length=1)
    version: int = Field(ge=1)


class NpoIntegrationConfig(_Strict):
    """One NPO's integration: its sources (systems), each with its own API, streams, transform
    and enrolment endpoint.

    A config of one system (top-level ``base_url``, ``auth``, ``streams.offerings``, ...; stored
    before sources, and still what platforms send) is accepted too, as one source named ``main``:
    ``registry.config_input`` makes it canonical where configs arrive, so this model reads the
    sources shape only and stored configs decode on pydantic's fast JSON path."""

    npo_id: NpoId
    display_name: str = Field(min_length=1, max_length=200)
    active: bool = True
    sources: list[SourceConfig] = Field(min_length=1, max_length=20)
    template: TemplateProvenance | None = Field(
        None, description="the catalogue template and version this config was resolved from"
    )

    @classmethod
    def __get_pydantic_json_schema__(
        cls, core_schema: CoreSchema, handler: GetJsonSchemaHandler
    ) -> JsonSchemaValue:
        """The schema of both shapes a config is accepted in: with ``sources``, or one system
        written at the top level (``registry.config_input``), so the published contract
        (docs/schemas) does not refuse what the service reads."""
        reference = handler(core_schema)
        with_sources = handler.resolve_ref_schema(reference)
        source = handler.resolve_ref_schema(with_sources["properties"]["sources"]["items"])
        stream = handler.resolve_ref_schema(source["properties"]["streams"]["items"])
        keyed_stream = {
            **stream,
            "properties": {
                k: v for k, v in stream["properties"].items() if k not in ("name", "kind")
            },
            "required": [k for k in stream.get("required", []) if k not in ("name", "kind")],
        }
        one_system_fields = {k: v for k, v in source["properties"].items() if k != "name"}
        one_system_fields["streams"] = {
            "type": "object",
            "additionalProperties": False,
            "properties": {name: keyed_stream for name in LEGACY_STREAM_KINDS},
        }
        one_system = {
            "type": "object",
            "title": "NpoIntegrationConfig (one system)",
            "additionalProperties": False,
            "properties": {
                **{k: v for k, v in with_sources["properties"].items() if k != "sources"},
                **one_system_fields,
            },
            "required": [
                *(k for k in with_sources.get("required", []) if k != "sources"),
                *(k for k in source.get("required", []) if k != "name"),
            ],
        }
        shapes = dict(with_sources)
        with_sources.clear()
        with_sources.update(
            {"title": shapes.get("title", cls.__name__), "anyOf": [shapes, one_system]}
        )
        if "description" in shapes:
            with_sources["description"] = shapes.pop("description")
        return reference

    @model_validator(mode="after")
    def _unique_sources(self) -> NpoIntegrationConfig:
        names = [source.name for source in self.sources]
        for name in names:
            if names.count(name) > 1:
                raise ValueError(f"sources: two sources named {name!r}")
        return self

    _bound_cache: tuple[list[SourceConfig], str, dict[str, NpoSource]] | None = PrivateAttr(None)

    def __eq__(self, other: object) -> bool:
        """Equal fields, equal configs (the private cache of ``_bound`` aside)."""
        if not isinstance(other, NpoIntegrationConfig):
            return NotImplemented
        return type(self) is type(other) and self.__dict__ == other.__dict__

    __hash__ = _Strict.__hash__

    @property
    def _bound(self) -> dict[str, NpoSource]:
        """Each source with the npo_id, made once per config; a copy with other sources or another
        npo_id (``model_copy(update=...)`` copies this cache too) makes its own."""
        # the private attribute read and written through its dict: pydantic's attribute access
        # to a private attribute costs a raised AttributeError per call (bench/registry.py)
        private = self.__pydantic_private__
        if private is None:
            private = {}
            object.__setattr__(self, "__pydantic_private__", private)
        cached = private.get("_bound_cache")
        if cached is not None and cached[0] is self.sources and cached[1] == self.npo_id:
            return cached[2]  # type: ignore[no-any-return]
        prefixes = tuple(p for p in (offering_ref_prefix(s.name) for s in self.sources) if p)
        bound = {
            # not validated again: a source's validators (its URLs, streams, templates) took
            # about 30 µs a source, three times this, and it was validated as part of the config
            source.name: NpoSource.model_construct(
                **source.__dict__,
                npo_id=self.npo_id,
                reserved_prefixes=prefixes if source.name == LEGACY_SOURCE else (),
            )
            for source in self.sources
        }
        private["_bound_cache"] = (self.sources, self.npo_id, bound)
        return bound

    def source(self, name: str) -> NpoSource | None:
        return self._bound.get(name)

    def all_sources(self) -> list[NpoSource]:
        return list(self._bound.values())

    def all_streams(self) -> list[tuple[StreamName, NpoSource, StreamConfig]]:
        """Every stream of every source, with its key."""
        return [
            (source.key_of(stream.name), source, stream)
            for source in self._bound.values()
            for stream in source.streams
        ]

    def stream(self, key: StreamName) -> tuple[NpoSource, StreamConfig] | None:
        """The source and stream a stream key names (``None``: not configured)."""
        source_name, _, name = key.rpartition("/")
        source = self._bound.get(source_name or LEGACY_SOURCE)
        stream = source.stream(name) if source is not None else None
        return None if source is None or stream is None else (source, stream)

    def source_of_offering(self, npo_offering_ref: str) -> NpoSource | None:
        """The source an offering came from: the one whose prefix (``crm:``) its reference starts
        with, else the ``main`` source (whose references are unprefixed; ``None`` if it has none).
        """
        prefix, colon, _ = npo_offering_ref.partition(":")
        source = self._bound.get(prefix) if colon and prefix != LEGACY_SOURCE else None
        return source if source is not None else self._bound.get(LEGACY_SOURCE)


SourceOrConfig = NpoSource | NpoIntegrationConfig
"""What the HTTP client and the plug-in registry take: a source, or a config of one source."""


def one_source(config: SourceOrConfig) -> NpoSource:
    """A source as given, or the only source of a config (a one-system config is its source)."""
    if isinstance(config, NpoSource):
        return config
    sources = config.all_sources()
    if len(sources) != 1:
        names = ", ".join(source.name for source in sources)
        raise ValueError(f"{config.npo_id} has sources {names}: name one (config.source(name))")
    return sources[0]


ConfigSource = Literal["npo-assessed", "admin-api", "cli", "file"]
ConfigChange = Literal["upsert", "deactivate", "reseal", "pause", "resume", "erase"]
"""What made a version: a whole config (``upsert``), a state change of the stored one (``pause``
and ``deactivate`` set ``active`` false, ``resume`` sets it true), new ciphertext (``reseal``) or
the NPO leaving the platform (``erase``: inactive, every secret dropped, its state purged at once;
only an upsert brings it back)."""


class NpoConfigVersion(_Strict, Versioned):
    """One stored version of an NPO's config; the registry keeps every version."""

    npo_id: NpoId
    version: int = Field(ge=1)
    updated_at: datetime
    source: ConfigSource
    change: ConfigChange
    config: NpoIntegrationConfig
