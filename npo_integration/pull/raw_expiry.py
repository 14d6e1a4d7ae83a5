"""Raw records expired unread: how big a gap is, and which NPO streams it may hold (the agent
that acts on it: ``agents/raw_expiry.py``)."""

from __future__ import annotations

from collections.abc import Iterable

from npo_integration.faust_patches import OutOfRange
from npo_integration.models.npo_config import NpoIntegrationConfig
from npo_integration.partitioning import partition_for


def expired(found: OutOfRange) -> int:
    """How many offsets expired unread (0: the reset was no gap, a fetch past the end, say)."""
    return max(0, found.log_start - found.position)


def streams_on_partition(
    configs: Iterable[NpoIntegrationConfig], partition: int, partitions: int
) -> list[tuple[str, str]]:
    """(npo_id, stream) of every enabled stream of every active NPO whose records land on
    ``partition`` of the raw-records topic (``partitions`` of them), in a stable order."""
    found = []
    for config in configs:
        if not config.active or partition_for(config.npo_id, partitions) != partition:
            continue
        found += [(config.npo_id, key) for key, _, s in config.all_streams() if s.enabled]
    return sorted(found)
