"""The NPO integration registry: validating, sealing and versioning NPO configs."""
