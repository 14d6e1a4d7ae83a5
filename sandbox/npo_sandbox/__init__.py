"""A simulated NPO API server for the demo, integration tests and benchmark.

One process hosts many fake NPOs under ``/npos/{npo_id}/``, each imitating a
real system's API ("flavour"), with configurable auth, fault injection and a
request log. Not imported by production code.
"""

from .server import SandboxServer, build_sandbox_app

__all__ = ["SandboxServer", "build_sandbox_app"]
