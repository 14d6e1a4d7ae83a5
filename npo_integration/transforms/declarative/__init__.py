"""Declarative transforms: an NPO integrated by configuration alone, no code."""
