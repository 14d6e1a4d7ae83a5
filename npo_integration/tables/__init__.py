"""Changelog-backed tables (RocksDB): every piece of state the service keeps.

Each table is written only from an agent processing an event whose partition
is the key's partition, which is what Faust's changelog semantics require.
"""

from npo_integration.tables import npo_configs, pull_state, record_state  # noqa: F401
from npo_integration.tables import enrolment_links  # noqa: F401
from npo_integration.tables import enrolments  # noqa: F401
