"""The whole NPO transform plug-in contract.

A plug-in turns one NPO's records into platform models, and platform enrolments
into the NPO's requests. Every method is synchronous, pure and gets one record at
a time; the service runs it in a worker thread under a time limit (see
:mod:`npo_integration.transforms.invoke`), so a plug-in never does I/O.
"""

from __future__ import annotations

import inspect
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from functools import lru_cache
from types import MappingProxyType, NoneType, UnionType
from typing import Any, Protocol, get_args, get_type_hints

from pydantic import BaseModel, ConfigDict, Field, JsonValue

from npo_integration.errors import ConfigError, SkippableError
from npo_integration.models.events import CandidateAssignmentEvent, Offering, Progress

CONTRACT_VERSION = 1
SUPPORTED_CONTRACT_VERSIONS = frozenset({1})


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


@dataclass(frozen=True, slots=True)
class MethodContract:
    """One ``TransformPlugin`` method: how many positional arguments it takes, what it returns."""

    name: str
    arity: int
    output: type[Any]
    optional: bool  # may return None


def _method_contract(name: str, fn: Callable[..., Any]) -> MethodContract:
    arity = len(inspect.signature(fn).parameters) - 1  # without self
    returns = get_type_hints(fn)["return"]
    types = get_args(returns) if isinstance(returns, UnionType) else (returns,)
    [output] = [kind for kind in types if kind is not NoneType]
    return MethodContract(name, arity, output, NoneType in types)


METHODS: Mapping[str, MethodContract] = MappingProxyType(
    {
        name: _method_contract(name, fn)
        for name, fn in vars(TransformPlugin).items()
        if not name.startswith("_") and inspect.isfunction(fn)
    }
)
"""Every method of the contract, read from ``TransformPlugin`` itself."""


def check_plugin(plugin: object, origin: str) -> TransformPlugin:
    """``plugin`` if it implements ``TransformPlugin``, else
    ``PluginLoadError`` listing every problem."""
    problems: list[str] = []
    name = getattr(plugin, "name", None)
    if not isinstance(name, str) or not name:
        problems.append("attribute 'name' (non-empty str) is missing")
    version = getattr(plugin, "contract_version", None)
    if version not in SUPPORTED_CONTRACT_VERSIONS:
        supported = ", ".join(map(str, sorted(SUPPORTED_CONTRACT_VERSIONS)))
        problems.append(f"contract_version {version!r} is not supported (supported: {supported})")
    for method in METHODS.values():
        fn = getattr(plugin, method.name, None)
        if fn is None:
            problems.append(f"method {method.name}() is missing")
        elif not callable(fn):
            problems.append(f"{method.name} is not callable")
        else:
            bound = hasattr(fn, "__func__")
            problem = _arity_problem(getattr(fn, "__func__", fn), method.arity, bound=bound)
            if problem:
                problems.append(f"{method.name}{problem}")
    if problems:
        raise PluginLoadError(f"transform plug-in {origin} is malformed: {'; '.join(problems)}")
    return plugin  # type: ignore[return-value]  # an object, its members checked one by one above


@lru_cache(maxsize=1024)
def _arity_problem(fn: Callable[..., Any], arity: int, *, bound: bool) -> str | None:
    """What is wrong with ``fn``'s signature for ``arity`` positional arguments (``None``: nothing).

    Cached per function: every config registered checks its plug-in, and ``inspect`` is slow.
    """
    try:
        signature = inspect.signature(fn)
    except (TypeError, ValueError):  # builtins without a signature: trust them
        return None
    try:
        signature.bind(*([None] * (arity + bound)))
    except TypeError:
        params = list(signature.parameters)[bound:]
        return f"({', '.join(params)}) does not take {arity} positional argument(s)"
    return None
