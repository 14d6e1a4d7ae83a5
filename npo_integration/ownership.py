"""Whether this worker may still act on a message it read: the fence of work outliving a rebalance.

Work that runs beside the stream (the enrolment agent's lanes) can still be
running when a rebalance hands its partition to another worker, which reads the
same uncommitted events again. Before each NPO call and each send, the work asks:

- ``may_start``: may a new NPO call begin (or the message be acknowledged)? Only
  while the message's partition is actively this worker's, in the consumer
  generation the message was read in, and no rebalance revokes that generation.
- ``may_finish``: may the outcome of a call already made be published and saved?
  Also while a revocation waits for work in flight (no other worker owns the
  partition until this one rejoins the group), not after it has released it.

Rebalances are eager (aiokafka): every partition is revoked, and every message
read before is of an older generation afterwards, even on a partition that comes
back, which Faust reads again from its committed offset: a message abandoned
unacknowledged is not lost.
"""

from __future__ import annotations

from collections.abc import Iterable
from typing import TYPE_CHECKING

from faust.types import TP, Message

if TYPE_CHECKING:
    from npo_integration.app import NpoApp


class Ownership:
    def __init__(self, app: NpoApp) -> None:
        self._app = app
        self._released: dict[TP, int] = {}
        """Partition -> the generation in which a revocation released it."""
        self._actives: frozenset[TP] = frozenset()
        self._actives_generation: int | None = None

    def may_start(self, message: Message) -> bool:
        app = self._app
        revoking = app.rebalancing and app.revoking_generation == message.generation_id
        return not revoking and self._owned(message)

    def may_finish(self, message: Message) -> bool:
        return self._owned(message) and self._released.get(message.tp) != message.generation_id

    def released(self, partitions: Iterable[TP]) -> None:
        """The revocation of ``partitions`` is done: nothing read before may be sent any more."""
        generation = self._app.consumer_generation_id
        for tp in partitions:
            self._released[tp] = generation

    def _owned(self, message: Message) -> bool:
        generation = self._app.consumer_generation_id
        if message.generation_id != generation:
            return False
        if self._actives_generation != generation:
            # Read once per generation: assigned_actives() builds a new set on every call.
            self._actives = frozenset(self._app.assignor.assigned_actives())
            self._actives_generation = generation
        return message.tp in self._actives
