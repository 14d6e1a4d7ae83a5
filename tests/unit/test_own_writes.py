"""A changelog record read back is recognised as this worker's write, once, in order."""

from __future__ import annotations

from npo_integration.delivery.own_writes import OwnWrites


def test_own_writes_are_recognised_once_and_others_are_not() -> None:
    own = OwnWrites(10)
    own.wrote("a", b"v1")
    assert not own.read_back("a", b"from another worker")
    assert own.read_back("a", b"v1")
    assert not own.read_back("a", b"v1")  # a second delivery of it is news again


def test_a_key_written_twice_reads_back_both_and_never_the_older_last() -> None:
    own = OwnWrites(10)
    own.wrote("a", b"v1")
    own.wrote("a", b"v2")
    assert own.read_back("a", b"v1") and own.read_back("a", b"v2")
    own.wrote("a", b"v3")
    own.wrote("a", b"v4")
    assert own.read_back("a", b"v4")  # v3's record compacted away: both forgotten
    assert not own.read_back("a", b"v3")


def test_the_oldest_keys_are_forgotten_beyond_the_bound() -> None:
    own = OwnWrites(2)
    for key in ("a", "b", "c"):
        own.wrote(key, b"v")
    assert not own.read_back("a", b"v")
    assert own.read_back("b", b"v") and own.read_back("c", b"v")
