"""The ingestion path: raw NPO records become platform events through
the NPO's transform plug-in."""
