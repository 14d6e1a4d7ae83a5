"""What a config may declare but an operator should know about: stored, yet worth a warning.

Shown in the admin API's answer to a create or replace and beside each version in
the history, so whoever stores such a config sees what it implies.
"""

from __future__ import annotations

from npo_integration.http.npo_state import CallCaps
from npo_integration.models.npo_config import NpoIntegrationConfig

NO_UNKNOWN_OUTCOME_POLICY = (
    "enrolment: neither idempotency_key: honoured nor a lookup is declared, so an enrolment "
    "whose outcome is unknown (a timeout, a connection reset, a 5xx answer) is not sent again: "
    "it becomes 'unknown' until an operator confirms or retries it "
    "(npo-integration enrolments confirm|retry)"
)


def config_warnings(config: NpoIntegrationConfig, caps: CallCaps | None = None) -> list[str]:
    """The warnings of ``config``, in a fixed order; empty when there is nothing to say.
    With the worker's ``caps``, also each value the worker will clamp (timeout, retries...)."""
    warnings: list[str] = []
    for source in config.all_sources():
        enrolment = source.enrolment
        enrolling = enrolment.enabled and enrolment.enrol is not None
        if enrolling and not enrolment.resolves_unknown_outcomes:
            warnings.append(source.where(NO_UNKNOWN_OUTCOME_POLICY))
        if caps is not None:
            warnings += [source.where(line) for line in caps.exceeded(source)]
    return warnings
