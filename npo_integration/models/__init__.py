"""Pydantic models at every boundary: platform events, NPO configs, internal records."""
