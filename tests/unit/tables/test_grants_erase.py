"""An erased NPO's OAuth2 grants go: a tombstone on the changelog, acknowledged, then the store."""

from __future__ import annotations

import asyncio
from typing import Any

from npo_integration.app import app  # noqa: F401  (wires the tables first)
from npo_integration.delivery.once import Addressed
from npo_integration.models.oauth_grant import NpoGrants, StoredGrant
from npo_integration.tables import oauth_grants


class Producer:
    def __init__(self) -> None:
        self.sent: list[Addressed] = []

    async def send_all_or_raise(self, messages: list[Addressed]) -> None:
        self.sent += messages


def test_an_erased_npos_grants_become_a_tombstone_and_leave_the_store() -> None:
    producer: Any = Producer()
    grants = NpoGrants(npo_id="gone", sources={"main": StoredGrant(refresh_token="sealed")})
    asyncio.run(oauth_grants.durable_put(grants, producer))
    assert oauth_grants.get("gone") == grants
    asyncio.run(oauth_grants.durable_delete("gone", producer))
    assert oauth_grants.get("gone") is None
    tombstone = producer.sent[-1]
    assert (tombstone.key, tombstone.value) == (b"gone", None)
    assert tombstone.partition == oauth_grants.partition("gone")
    assert tombstone.topic == oauth_grants.table.changelog_topic.get_topic_name()
