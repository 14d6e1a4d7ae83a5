"""Conformance kit for plug-in authors: run a plug-in over recorded NPO records and check it.

    from npo_integration.transforms.testing import assert_plugin_conforms, load_recorded

    def test_my_plugin_conforms():
        assert_plugin_conforms(MyPlugin({}), **load_recorded("tests/recorded/my_npo.json"))

Checks: the plug-in implements the contract; every offering/progress record gives a
valid platform model and every filtered record gives ``None`` (not an exception);
failures are ``TransformError``; calls are deterministic and leave their input
unchanged; enrolment requests are JSON-safe and fit the config's endpoints (path
variables, flat form bodies); the enrol response yields an enrolment ref.
Every problem is reported at once.
"""

from __future__ import annotations

import copy
import json
from collections.abc import Callable, Iterable, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from pydantic import BaseModel, ValidationError

from npo_integration.models.events import (
    Candidate,
    CandidateAssignmentEvent,
    Offering,
    OfferingRef,
    Progress,
)
from npo_integration.models.npo_config import (
    EnrolmentEndpoint,
    NpoIntegrationConfig,
    NpoSource,
    SourceOrConfig,
    one_source,
)
from npo_integration.transforms.contract import (
    EnrolmentRequest,
    PluginLoadError,
    TransformError,
    TransformPlugin,
    check_plugin,
)
from npo_integration.transforms.registry import PluginRegistry, endpoint_problems
from npo_integration.validation_errors import describe_validation_error

RECORDED_KEYS = frozenset(
    {
        "offerings",
        "filtered_offerings",
        "progress",
        "filtered_progress",
        "assignment",
        "enrol_response",
        "npo_enrolment_ref",
    }
)


class _NotGiven:
    __slots__ = ()

    def __repr__(self) -> str:
        return "NOT_GIVEN"


NOT_GIVEN: Any = _NotGiven()


class ConformanceError(AssertionError):
    """The plug-in does not conform; the message lists every problem found."""

    def __init__(self, plugin: str, problems: list[str]) -> None:
        super().__init__(f"plug-in {plugin!r} does not conform:\n  - " + "\n  - ".join(problems))
        self.problems = problems


@dataclass
class ConformanceReport:
    """What the plug-in produced, for further assertions in the author's own tests."""

    plugin: TransformPlugin
    offerings: list[Offering] = field(default_factory=list)
    progress: list[Progress] = field(default_factory=list)
    enrolment: EnrolmentRequest | None = None
    unenrol: EnrolmentRequest | None = None
    enrolment_ref: str | None = None


def sample_assignment(
    *,
    npo_id: str = "demo",
    npo_offering_ref: str = "101",
    npo_user_ref: str | None = "42",
    email: str | None = "ada@example.org",
) -> CandidateAssignmentEvent:
    """A realistic ``candidate_assignment.created`` event to exercise enrolment requests."""
    candidate = Candidate(
        candidate_id="cand-0001",
        email=email,
        first_name="Ada",
        last_name="Lovelace",
        npo_user_ref=npo_user_ref,
    )
    offering = OfferingRef(offering_id="off-0001", npo_id=npo_id, npo_offering_ref=npo_offering_ref)
    return CandidateAssignmentEvent(
        event_type="candidate_assignment.created",
        assignment_id="asg-0001",
        candidate=candidate,
        offering=offering,
    )


def load_recorded(path: str | Path) -> dict[str, Any]:
    """Keyword arguments for ``assert_plugin_conforms`` from a JSON file of recorded records.

    Keys: offerings, filtered_offerings, progress, filtered_progress (lists of records),
    enrol_response, npo_enrolment_ref, and assignment (a CandidateAssignmentEvent as JSON).
    """
    data: dict[str, Any] = json.loads(Path(path).read_text())
    unknown = set(data) - RECORDED_KEYS
    if unknown:
        expected = sorted(RECORDED_KEYS)
        raise ValueError(f"{path}: unknown keys {sorted(unknown)}; expected {expected}")
    if "assignment" in data:
        data["assignment"] = CandidateAssignmentEvent.model_validate(data["assignment"])
    return data


def assert_plugin_conforms(
    plugin: TransformPlugin | NpoIntegrationConfig | NpoSource,
    *,
    offerings: Sequence[Any] = (),
    filtered_offerings: Sequence[Any] = (),
    progress: Sequence[Any] = (),
    filtered_progress: Sequence[Any] = (),
    assignment: CandidateAssignmentEvent | None = None,
    enrol_response: Any = NOT_GIVEN,
    npo_enrolment_ref: str = "npo-enrolment-1",
    config: SourceOrConfig | None = None,
) -> ConformanceReport:
    """Raise ``ConformanceError`` listing every problem, or return what the plug-in produced.

    ``enrol_response`` is the NPO's answer to the enrol request (``None`` is a valid
    answer: Moodle's); leave it out to skip the enrolment_ref check. ``plugin`` may be
    an NPO config of one source, or one source of a config (``config.source(name)``): its
    plug-in is then loaded through ``PluginRegistry`` (declarative or code) and the source is
    used for the endpoint checks.
    """
    if isinstance(plugin, NpoIntegrationConfig | NpoSource):
        config = plugin
        try:
            plugin = PluginRegistry().for_config(config)
        except PluginLoadError as exc:
            raise ConformanceError(config.npo_id, [str(exc)]) from None
    source = one_source(config) if config is not None else None
    check = _Checker(plugin)
    try:
        check_plugin(plugin, repr(check.name))
    except PluginLoadError as exc:
        raise ConformanceError(check.name, [str(exc)]) from None
    report = ConformanceReport(plugin)
    report.offerings = check.records(plugin.offering, offerings, filtered_offerings, Offering)
    report.progress = check.records(plugin.progress, progress, filtered_progress, Progress)
    if assignment is not None:
        enrol = source.enrolment.enrol if source else None
        unenrol = source.enrolment.unenrol if source else None
        report.enrolment = check.request(plugin.enrolment_request, (assignment,), enrol)
        if source is None or unenrol is not None:
            args = (assignment, npo_enrolment_ref)
            report.unenrol = check.request(plugin.unenrol_request, args, unenrol)
        if enrol_response is not NOT_GIVEN:
            report.enrolment_ref = check.enrolment_ref(plugin, enrol_response, assignment)
    elif enrol_response is not NOT_GIVEN:
        check.problems.append("enrol_response given without an assignment")
    if check.problems:
        raise ConformanceError(check.name, check.problems)
    return report


class _Checker:
    def __init__(self, plugin: TransformPlugin) -> None:
        self.name = str(getattr(plugin, "name", type(plugin).__name__))
        self.problems: list[str] = []

    def call(self, where: str, fn: Callable[..., Any], args: tuple[Any, ...]) -> tuple[bool, Any]:
        """Call twice: nothing but TransformError may escape, input unchanged, same result."""
        before = copy.deepcopy(args)
        results = []
        for _ in range(2):
            try:
                results.append(fn(*args))
            except TransformError as exc:
                self.problems.append(f"{where}: raised TransformError: {exc}")
                return False, None
            except Exception as exc:
                self.problems.append(
                    f"{where}: raised {type(exc).__name__}: {exc} "
                    "(plug-ins must raise TransformError)"
                )
                return False, None
        if args != before:
            self.problems.append(f"{where}: modified its input")
        if results[0] != results[1]:
            self.problems.append(f"{where}: gave different results for the same input")
        return True, results[0]

    def records(
        self,
        fn: Callable[[Any], Any],
        records: Iterable[Any],
        filtered: Iterable[Any],
        model: type[BaseModel],
    ) -> list[Any]:
        produced: list[Any] = []
        method = fn.__name__
        for i, record in enumerate(records):
            where = f"{method}(records[{i}])"
            ok, result = self.call(where, fn, (record,))
            if not ok:
                continue
            if result is None:
                self.problems.append(f"{where}: returned None; list filtered records separately")
            elif self.valid(where, result, model):
                produced.append(result)
        for i, record in enumerate(filtered):
            where = f"{method}(filtered[{i}])"
            ok, result = self.call(where, fn, (record,))
            if ok and result is not None:
                self.problems.append(f"{where}: expected None (filtered out), got {result!r}")
        return produced

    def valid(self, where: str, result: Any, model: type[BaseModel]) -> bool:
        if not isinstance(result, model):
            kind = type(result).__name__
            self.problems.append(f"{where}: returned {kind}, expected {model.__name__}")
            return False
        try:  # catches model_construct() and other unvalidated instances
            model.model_validate(result.model_dump())
        except ValidationError as exc:
            self.problems.append(
                f"{where}: returned an invalid {model.__name__}: {describe_validation_error(exc)}"
            )
            return False
        return True

    def request(
        self,
        fn: Callable[..., Any],
        args: tuple[Any, ...],
        endpoint: EnrolmentEndpoint | None,
    ) -> EnrolmentRequest | None:
        method = fn.__name__
        ok, result = self.call(method, fn, args)
        if not ok or not self.valid(method, result, EnrolmentRequest):
            return None
        assert isinstance(result, EnrolmentRequest)  # what valid() just checked
        try:
            json.dumps(result.body)
        except (TypeError, ValueError) as exc:
            self.problems.append(f"{method}: body is not JSON-serialisable: {exc}")
        if endpoint is not None:
            self.problems += endpoint_problems(
                method, endpoint, result.path_vars, result.body, source="plug-in"
            )
        return result

    def enrolment_ref(
        self, plugin: TransformPlugin, response: Any, assignment: CandidateAssignmentEvent
    ) -> str | None:
        ok, ref = self.call("enrolment_ref", plugin.enrolment_ref, (response, assignment))
        if ok and (not isinstance(ref, str) or not ref):
            self.problems.append(
                f"enrolment_ref: expected a non-empty str from the enrol response, got {ref!r}"
            )
            return None
        return ref if ok else None
