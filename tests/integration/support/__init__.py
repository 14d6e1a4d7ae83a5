"""Helpers for integration tests: real broker, worker and simulator
processes, plain Kafka clients."""
