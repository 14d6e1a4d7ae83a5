"""Delivering events at most once on top of at-least-once processing (see ``once.py``)."""
