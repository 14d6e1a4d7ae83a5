"""Generated data is deterministic per NPO id and internally consistent."""

from __future__ import annotations

from npo_sandbox.datagen import (
    GEN_END,
    GEN_START,
    candidate_number,
    offering_seeds,
    progress_seeds,
    user_id_for,
)


def test_seeds_are_deterministic_and_differ_between_npos() -> None:
    assert offering_seeds("npo-a", 5) == offering_seeds("npo-a", 5)
    assert offering_seeds("npo-a", 5) != offering_seeds("npo-b", 5)
    assert offering_seeds("npo-a", 8)[:5] == offering_seeds("npo-a", 5)  # ids are stable


def test_progress_state_matches_percent() -> None:
    seeds = progress_seeds("npo-a", 300, [1, 2, 3])
    assert {s.state for s in seeds} == {"enrolled", "in_progress", "completed"}
    for seed in seeds:
        assert (seed.percent == 0) == (seed.state == "enrolled")
        assert (seed.percent == 100) == (seed.state == "completed")
        assert seed.offering_number in (1, 2, 3)
        assert GEN_START <= seed.updated_at <= GEN_END
    assert progress_seeds("npo-a", 3, []) == []


def test_candidate_numbers_round_trip() -> None:
    assert candidate_number("cand-00042") == candidate_number("candidate42@example.org") == 42
    assert user_id_for("cand-00042") == 2042
    assert candidate_number("someone@else.org") == candidate_number("SOMEONE@else.org ")
    assert candidate_number("someone@else.org") >= 100_000
