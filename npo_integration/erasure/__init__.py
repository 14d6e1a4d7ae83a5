"""A candidate's right to erasure: what counts as personal data, and erasing it from one partition.

Faust-free: the wiring (``agents/erasure.py``) hands in the tables and the plug-in runner.
"""
