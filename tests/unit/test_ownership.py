"""The fence of work outliving a rebalance: which messages a worker may still start or finish."""

from __future__ import annotations

from types import SimpleNamespace
from typing import Any, cast

from faust.types import TP, Message

from npo_integration.ownership import Ownership

ASSIGNMENTS = TP("assignments", 0)
OTHER = TP("assignments", 1)


class FakeApp:
    def __init__(self) -> None:
        self.rebalancing = False
        self.revoking_generation: int | None = None
        self.consumer_generation_id = 1
        self.actives = {ASSIGNMENTS}
        self.assignor = SimpleNamespace(assigned_actives=lambda: set(self.actives))

    def rebalance_starts(self) -> None:
        self.revoking_generation = self.consumer_generation_id
        self.rebalancing = True

    def assigned(self, *tps: TP) -> None:
        self.actives = set(tps)
        self.consumer_generation_id += 1
        self.rebalancing = False


def message(tp: TP, generation: int) -> Message:
    return cast(Message, SimpleNamespace(tp=tp, generation_id=generation))


def fence(app: FakeApp) -> Ownership:
    return Ownership(cast(Any, app))


def test_a_message_of_an_active_partition_in_the_current_generation_is_ours() -> None:
    app = FakeApp()
    ownership = fence(app)
    ours = message(ASSIGNMENTS, 1)
    assert ownership.may_start(ours) and ownership.may_finish(ours)
    assert not ownership.may_start(message(OTHER, 1))  # not assigned here
    assert not ownership.may_finish(message(ASSIGNMENTS, 0))  # read in an older generation


def test_a_revocation_stops_new_calls_at_once_and_outcomes_once_it_released_them() -> None:
    app = FakeApp()
    ownership = fence(app)
    read = message(ASSIGNMENTS, 1)
    app.rebalance_starts()
    assert not ownership.may_start(read)  # no call begins while the partition is handed over
    assert ownership.may_finish(read)  # a call in flight may still publish and save its outcome
    ownership.released([ASSIGNMENTS])
    assert not ownership.may_finish(read)


def test_the_next_generation_is_ours_again_but_not_what_was_read_before() -> None:
    app = FakeApp()
    ownership = fence(app)
    read = message(ASSIGNMENTS, 1)
    app.rebalance_starts()
    ownership.released([ASSIGNMENTS])
    app.assigned(ASSIGNMENTS)
    assert not ownership.may_start(read) and not ownership.may_finish(read)
    again = message(ASSIGNMENTS, 2)
    assert ownership.may_start(again) and ownership.may_finish(again)


def test_messages_of_the_new_generation_start_while_the_rebalance_completes() -> None:
    app = FakeApp()
    ownership = fence(app)
    app.rebalance_starts()
    ownership.released([ASSIGNMENTS])
    app.assigned(OTHER)
    app.rebalancing = True  # Faust clears the flag only at the end of the assignment
    assert ownership.may_start(message(OTHER, 2))
    assert not ownership.may_start(message(ASSIGNMENTS, 2))  # moved to another worker
