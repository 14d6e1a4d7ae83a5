"""Changelog-backed tables (RocksDB): every piece of state the service keeps.

Each table is written only from an agent processing an event whose partition
is the key's partition, which is what Faust's changelog semantics require; the
one exception, ``oauth_grants``, is written by its partition's owner directly
(see there).
"""

from npo_integration.tables import (  # noqa: F401
    dead_letter_window,
    enrolment_links,
    enrolments,
    erased_candidates,
    npo_configs,
    oauth_grants,
    pull_state,
    record_state,
)
