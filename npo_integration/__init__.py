"""Spotlight NPO Integration: a Faust service that pulls NPO data into the
platform and pushes enrolments out."""

__version__ = "0.1.0"
