"""The app is imported first: the wiring's modules import each other through it."""

import npo_integration.app  # noqa: F401
