"""What this service makes without validating it again equals what validation makes: a config's
sources with its npo_id, and the states ``trusted_json`` writes."""

from __future__ import annotations

import json
from datetime import UTC, datetime
from pathlib import Path

from npo_integration.models.codec import encode, trusted_json
from npo_integration.models.npo_config import NpoSource, SourceConfig
from npo_integration.models.state import (
    DeliveryIntent,
    IntentValues,
    PendingBatch,
    PendingDelivery,
    RecordState,
    intent_of,
)
from npo_integration.registry.config_input import read_config

ROOT = Path(__file__).resolve().parents[3]

NOW = datetime(2026, 11, 30, 12, 0, tzinfo=UTC)
INTENT = dict(
    event_id="e-1",
    event_type="npo_offering.created",
    content_hash="h",
    topic="t",
    partition=2,
    offset=7,
    at=NOW,
    change=3,
)

STATE = dict(
    record_key="acme/offerings/1",
    npo_id="acme",
    stream="offerings",
    content_hash="h",
    processed=True,
    processed_hash="h",
    attempts=0,
    last_error=None,
    first_seen_at=NOW,
    updated_at=NOW,
    fetched_at=NOW,
    intent=None,
    changes=3,
    published_key="acme/1",
    removed_at=None,
    re_emitted=None,
)
PENDING_ITEM = dict(
    record_key="acme/offerings/1", npo_id="acme", stream="offerings", fetched_at=NOW
)


def test_a_configs_sources_with_its_npo_id_equal_validated_ones() -> None:
    """``NpoIntegrationConfig.source`` builds each ``NpoSource`` with ``model_construct``."""
    document = json.loads((ROOT / "examples" / "sources" / "two-systems.json").read_text())
    config = read_config(document)
    prefixes = tuple(f"{s.name}:" for s in config.sources if s.name != "main")
    for source in config.sources:
        bound = config.source(source.name)
        checked = NpoSource(
            **{name: getattr(source, name) for name in SourceConfig.model_fields},
            npo_id=config.npo_id,
            reserved_prefixes=prefixes if source.name == "main" else (),
        )
        assert bound == checked and bound is not None
        redacted = {"redact": True}
        assert bound.model_dump(mode="json", context=redacted) == checked.model_dump(
            mode="json", context=redacted
        )
        assert bound.model_fields_set == checked.model_fields_set


def test_trusted_json_writes_what_encoding_the_validated_model_writes() -> None:
    with_intent = {**STATE, "processed": False, "intent": DeliveryIntent(**INTENT)}
    removed = {**STATE, "removed_at": NOW, "re_emitted": "trace"}
    versioned = {"v": 1, **STATE}  # ``v`` given: written as it is
    for values in (STATE, with_intent, removed, versioned):
        written = trusted_json(RecordState, values)
        assert written == encode(RecordState(**values))
        assert RecordState.model_validate_json(written) == RecordState(**values)


def test_trusted_json_of_fields_out_of_order_or_missing_falls_back_to_the_model() -> None:
    shuffled = dict(reversed(STATE.items()))
    assert trusted_json(RecordState, shuffled) == encode(RecordState(**STATE))
    partial = {k: STATE[k] for k in ("record_key", "npo_id", "stream", "content_hash")}
    assert trusted_json(RecordState, partial) == encode(RecordState(**partial))  # type: ignore[arg-type]


def test_trusted_json_of_a_pending_batch_with_items_as_dicts_writes_the_models_json() -> None:
    """The ingestion writes its pending batches this way (``Ingestor._publish``)."""
    intent = DeliveryIntent(**INTENT)
    written = trusted_json(
        PendingBatch,
        {"batch_id": "b", "source_partition": 1, "items": [{**PENDING_ITEM, "intent": intent}]},
    )
    validated = PendingDelivery(**PENDING_ITEM, intent=DeliveryIntent(**INTENT))
    checked = PendingBatch(batch_id="b", source_partition=1, items=[validated])
    assert written == encode(checked)


def test_intent_values_are_a_delivery_intents_fields_in_its_order() -> None:
    """Written as they are inside a pending batch: the JSON of the validated intent, field for
    field (``delivery.once`` makes them, ``Ingestor._publish`` writes them)."""
    assert tuple(IntentValues.__annotations__) == tuple(DeliveryIntent.model_fields)
    values = IntentValues(**{**INTENT, "change": 1, "re_emit": "trace"})
    assert tuple(values) == tuple(DeliveryIntent.model_fields)
    written = trusted_json(
        PendingBatch,
        {"batch_id": "b", "source_partition": 1, "items": [{**PENDING_ITEM, "intent": values}]},
    )
    checked = PendingBatch(
        batch_id="b",
        source_partition=1,
        items=[PendingDelivery(**PENDING_ITEM, intent=intent_of(values))],
    )
    assert written == encode(checked)
    assert PendingBatch.model_validate_json(written) == checked
    # a model that is not versioned: its fields in order are written as they are
    assert trusted_json(DeliveryIntent, dict(values)) == encode(intent_of(values))


def test_encode_writes_what_model_dump_json_writes() -> None:
    """``encode`` takes pydantic-core's bytes without the string ``model_dump_json`` makes."""
    intent = DeliveryIntent(**INTENT)
    state = RecordState(**{**STATE, "processed": False, "intent": intent, "removed_at": NOW})
    batch = PendingBatch(
        batch_id="b", source_partition=1, items=[PendingDelivery(**PENDING_ITEM, intent=intent)]
    )
    for model in (intent, state, batch, RecordState(**STATE)):
        assert encode(model) == model.model_dump_json().encode()
